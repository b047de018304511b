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

    /// <summary>Starts one; <paramref name="logName"/> is its log file in <paramref name="logDir"/>.</summary>
    public static async Task<RedisServerProcess> StartAsync(string logDir, string logName, CancellationToken ct)
    {
        var dir = Directory.CreateTempSubdirectory("redissync-bench-redis-").FullName;
        var port = FreePort();
        var start = new ProcessStartInfo(RedisServerPath)
        {
            WorkingDirectory = dir,
            ArgumentList = { "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir },
        };
        var redis = new RedisServerProcess(start, Path.Combine(logDir, logName), port, dir);
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
