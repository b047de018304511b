using System.Diagnostics;

namespace RedisSync.Bench.Infrastructure;

/// <summary>
/// A throw-away redis-server on a free loopback port, without persistence: the benchmark measures the
/// gateway against Redis's in-memory speed, and disk settings would only add the disk's noise.
/// </summary>
public sealed class RedisServerProcess : ChildProcess
{
    private readonly string _dir;

    private RedisServerProcess(ProcessStartInfo start, string logPath, int port, string dir) : base(start, logPath)
    {
        Port = port;
        _dir = dir;
    }

    public int Port { get; }
    public string ConnectionString => $"127.0.0.1:{Port},abortConnect=false,connectTimeout=5000,syncTimeout=10000";

    /// <summary>"127.0.0.1:port", as redis-cli and StackExchange.Redis name it.</summary>
    public string EndPoint => $"127.0.0.1:{Port}";

    /// <summary>
    /// Starts one; <paramref name="logName"/> is its log file in <paramref name="logDir"/>. <paramref name="extraArgs"/>
    /// follow the common ones (a cluster node's settings), on <paramref name="port"/> or a free one.
    /// </summary>
    public static async Task<RedisServerProcess> StartAsync(string logDir, string logName, CancellationToken ct,
        IEnumerable<string>? extraArgs = null, int? port = null)
    {
        var dir = Directory.CreateTempSubdirectory("redissync-bench-redis-").FullName;
        var listen = port ?? FreePort();
        var start = new ProcessStartInfo(RedisServerPath)
        {
            WorkingDirectory = dir,
            ArgumentList = { "--port", listen.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir },
        };
        foreach (var arg in extraArgs ?? []) start.ArgumentList.Add(arg);
        var redis = new RedisServerProcess(start, Path.Combine(logDir, logName), listen, dir);
        try
        {
            await redis.WaitUntilAnswersAsync(TimeSpan.FromSeconds(15), ct);
            return redis;
        }
        catch
        {
            await redis.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs one redis-cli command against this server; returns what it printed.</summary>
    public async Task<string> CliAsync(string arguments) =>
        await RunToEndAsync("redis-cli", $"-h 127.0.0.1 -p {Port} {arguments}", TimeSpan.FromSeconds(20))
        ?? throw new InvalidOperationException($"redis-cli {arguments} on {EndPoint} did not answer");

    /// <summary>/usr/bin/redis-server where Debian puts it, else whatever PATH has.</summary>
    public static string RedisServerPath => File.Exists("/usr/bin/redis-server") ? "/usr/bin/redis-server" : "redis-server";

    // redis-server prints this once it accepts connections.
    private Task WaitUntilAnswersAsync(TimeSpan timeout, CancellationToken ct) =>
        WaitForOutputAsync("Ready to accept connections", timeout, ct);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
