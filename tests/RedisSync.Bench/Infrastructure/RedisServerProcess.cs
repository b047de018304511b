using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

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

    public static async Task<RedisServerProcess> StartAsync(string logDir, CancellationToken ct)
    {
        var dir = Directory.CreateTempSubdirectory("redissync-bench-redis-").FullName;
        var port = FreePort();
        var start = new ProcessStartInfo(RedisServerPath)
        {
            WorkingDirectory = dir,
            ArgumentList = { "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir },
        };
        var redis = new RedisServerProcess(start, Path.Combine(logDir, "redis-server.log"), port, dir);
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

    private async Task WaitUntilAnswersAsync(TimeSpan timeout, CancellationToken ct)
    {
        var until = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < until)
        {
            if (HasExited) throw new InvalidOperationException("redis-server exited at start:\n" + LogTail());
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", Port, ct);
                var stream = client.GetStream();
                await stream.WriteAsync("PING\r\n"u8.ToArray(), ct);
                var buffer = new byte[16];
                var n = await stream.ReadAsync(buffer, ct);
                if (Encoding.ASCII.GetString(buffer, 0, n).StartsWith("+PONG", StringComparison.Ordinal)) return;
            }
            catch (SocketException) { }
            await Task.Delay(50, ct);
        }
        throw new TimeoutException($"redis-server did not answer on port {Port} within {timeout}");
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
