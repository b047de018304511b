using System.Diagnostics;

namespace RedisSync.Bench.Infrastructure;

/// <summary>Which gateway a process runs: RedisSync, or the textbook baseline it is compared with.</summary>
public enum GatewayKind
{
    RedisSync,
    Baseline,
}

/// <summary>
/// A gateway as its own process (so its memory and CPU are its own), configured only through the environment
/// the way an operator would, on a free loopback port. Both kinds run with their projects' runtime defaults
/// (the Web SDK's: server GC, tiered JIT).
/// </summary>
public sealed class GatewayProcess : ChildProcess
{
    /// <summary>The benchmark's API key: reads and writes every collection as source "bench". The baseline ignores it.</summary>
    public const string ApiKey = "bench-key-000000000000001";

    private GatewayProcess(ProcessStartInfo start, string logPath, GatewayKind kind, Uri baseAddress) : base(start, logPath)
    {
        Kind = kind;
        BaseAddress = baseAddress;
    }

    public GatewayKind Kind { get; }
    public Uri BaseAddress { get; }

    /// <summary>The hub; the key rides in the query string as browsers send it (CONTRACT §5).</summary>
    public Uri HubUri => new(BaseAddress, $"hubs/sync?access_token={ApiKey}");

    /// <summary>Settings of RedisSync that differ from its defaults, and why; listed in the report.</summary>
    public static readonly IReadOnlyDictionary<string, string> Overrides = new Dictionary<string, string>
    {
        // The per-key request rate limit (default 500/s) would cap every throughput figure at the limit.
        ["RateLimit__Enabled"] = "false",
    };

    /// <summary>
    /// How the bench starts a gateway: its dll in Production, on 127.0.0.1:<paramref name="port"/>, over this Redis,
    /// logging warnings and the host's "Application started" (how it says it listens); RedisSync with the benchmark's key.
    /// </summary>
    internal static ProcessStartInfo StartInfo(GatewayKind kind, string dll, int port, string redisConnectionString)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            // The content root is the working directory: appsettings.json sits next to the assembly.
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            ArgumentList = { dll },
            Environment =
            {
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
                ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
                ["Redis__ConnectionString"] = redisConnectionString,
                ["Logging__LogLevel__Default"] = "Warning",
                // "Application started" is how the host says it is listening: wait for it, don't poll.
                ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information",
            },
        };
        if (kind == GatewayKind.RedisSync)
        {
            start.Environment["Auth__Keys__0__Name"] = "bench";
            start.Environment["Auth__Keys__0__Key"] = ApiKey;
            start.Environment["Auth__Keys__0__Source"] = "bench";
            start.Environment["Auth__Keys__0__Read__0"] = "*";
            start.Environment["Auth__Keys__0__Write__0"] = "*";
        }
        return start;
    }

    public static async Task<GatewayProcess> StartAsync(GatewayKind kind, string dll, string redisConnectionString, string logDir,
        IReadOnlyDictionary<string, string> extraEnvironment, CancellationToken ct)
    {
        if (!File.Exists(dll))
            throw new FileNotFoundException($"{kind} not built at {dll}: run with `dotnet run -c Release --project tests/RedisSync.Bench`", dll);
        var port = FreePort();
        var baseAddress = new Uri($"http://127.0.0.1:{port}/");
        var start = StartInfo(kind, dll, port, redisConnectionString);
        if (kind == GatewayKind.RedisSync)
            foreach (var (key, value) in Overrides.Concat(extraEnvironment)) start.Environment[key] = value;

        var logName = kind == GatewayKind.RedisSync ? "gateway.log" : "baseline.log";
        var gateway = new GatewayProcess(start, Path.Combine(logDir, logName), kind, baseAddress);
        try
        {
            await gateway.WaitUntilReadyAsync(TimeSpan.FromSeconds(30), ct);
            return gateway;
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
    }

    // Kestrel is listening once the host says "Application started"; by then the Redis connection (made while
    // the host starts) is up too, so readiness is one check, not a poll. The baseline has no readiness probe.
    private async Task WaitUntilReadyAsync(TimeSpan timeout, CancellationToken ct)
    {
        await WaitForOutputAsync("Application started", timeout, ct);
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        using var response = await http.GetAsync(Kind == GatewayKind.RedisSync ? "health/ready" : "health/live", ct);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"{Kind} started but its health check answered {(int)response.StatusCode}:\n" + LogTail());
    }
}
