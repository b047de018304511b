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

    private async Task WaitUntilReadyAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
        var until = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < until)
        {
            if (HasExited) throw new InvalidOperationException("the gateway exited at start:\n" + LogTail());
            try
            {
                using var response = await http.GetAsync("health/ready", ct);
                if (response.IsSuccessStatusCode) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested) { }
            await Task.Delay(100, ct);
        }
        throw new TimeoutException($"the gateway was not ready within {timeout}:\n" + LogTail());
    }
}
