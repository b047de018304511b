using System.Diagnostics;

namespace RedisSync.Bench.Infrastructure;

/// <summary>
/// The gateway as its own process (so its memory and CPU are its own), configured only through the
/// environment the way an operator would, on a free loopback port.
/// </summary>
public sealed class GatewayProcess : ChildProcess
{
    /// <summary>The benchmark's API key: reads and writes every collection as source "bench".</summary>
    public const string ApiKey = "bench-key-000000000000001";

    private GatewayProcess(ProcessStartInfo start, string logPath, Uri baseAddress) : base(start, logPath) => BaseAddress = baseAddress;

    public Uri BaseAddress { get; }
    public Uri HubUri => new($"ws://{BaseAddress.Authority}/hubs/sync?access_token={ApiKey}");

    /// <summary>Settings that differ from the gateway's defaults, and why; listed in the report.</summary>
    public static readonly IReadOnlyDictionary<string, string> Overrides = new Dictionary<string, string>
    {
        // The per-key request rate limit (default 500/s) would cap every throughput figure at the limit.
        ["RateLimit__Enabled"] = "false",
    };

    public static async Task<GatewayProcess> StartAsync(string dll, string redisConnectionString, string logDir,
        IReadOnlyDictionary<string, string> extraEnvironment, CancellationToken ct)
    {
        if (!File.Exists(dll))
            throw new FileNotFoundException($"gateway not built at {dll}: run with `dotnet run -c Release --project tests/RedisSync.Bench`", dll);
        var port = FreePort();
        var baseAddress = new Uri($"http://127.0.0.1:{port}/");
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
                ["Auth__Keys__0__Name"] = "bench",
                ["Auth__Keys__0__Key"] = ApiKey,
                ["Auth__Keys__0__Source"] = "bench",
                ["Auth__Keys__0__Read__0"] = "*",
                ["Auth__Keys__0__Write__0"] = "*",
                ["Logging__LogLevel__Default"] = "Warning",
                // "Application started" is how the gateway says it is listening: wait for it, don't poll.
                ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information",
            },
        };
        foreach (var (key, value) in Overrides.Concat(extraEnvironment)) start.Environment[key] = value;

        var gateway = new GatewayProcess(start, Path.Combine(logDir, "gateway.log"), baseAddress);
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
    // the host starts) is up too, so readiness is one check, not a poll.
    private async Task WaitUntilReadyAsync(TimeSpan timeout, CancellationToken ct)
    {
        await WaitForOutputAsync("Application started", timeout, ct);
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        using var response = await http.GetAsync("health/ready", ct);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"the gateway started but /health/ready answered {(int)response.StatusCode}:\n" + LogTail());
    }
}
