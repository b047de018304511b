using System.Diagnostics;
using RedisSync.Bench.Infrastructure;

namespace RedisSync.Bench.Measurement;

/// <summary>
/// CPU time of the three processes that share the machine. Over a measured window it says where the
/// cores went: cores busy per process, CPU microseconds per operation in each, and, inside the gateway,
/// which threads used them.
/// </summary>
public sealed class CpuProbe(GatewayProcess? gateway, RedisServerProcess redis)
{
    /// <summary>Linux's USER_HZ, the unit of /proc/&lt;pid&gt;/task/&lt;tid&gt;/stat times (100 on every mainstream build).</summary>
    private const double TicksPerSecond = 100;

    public readonly record struct Snapshot(long Ticks, TimeSpan Gateway, TimeSpan Redis, TimeSpan Bench, long MachineBusyTicks,
        Dictionary<int, (string Name, long Ticks)> GatewayThreads);

    public Snapshot Take() => new(Stopwatch.GetTimestamp(), gateway?.CpuTime() ?? TimeSpan.Zero, redis.CpuTime(),
        Process.GetCurrentProcess().TotalProcessorTime, MachineBusyTicks(), gateway?.ThreadTicks() ?? []);

    /// <summary>
    /// Busy time of all cores (/proc/stat's first line: user, nice, system, irq, softirq, steal). What is not
    /// ours is other processes or the kernel: on a shared machine, the work the figures competed with.
    /// </summary>
    private static long MachineBusyTicks()
    {
        try
        {
            var line = File.ReadLines("/proc/stat").First();
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
            return f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
        }
        catch (IOException) { return 0; }
    }

    /// <summary>Cores used by each process between two snapshots, and CPU µs per operation.</summary>
    public static CpuUse Between(Snapshot a, Snapshot b, long operations)
    {
        var seconds = (b.Ticks - a.Ticks) / (double)Stopwatch.Frequency;
        double Cores(TimeSpan x, TimeSpan y) => Math.Round((y - x).TotalSeconds / seconds, 2);
        double PerOp(TimeSpan x, TimeSpan y) => operations == 0 ? 0 : Math.Round((y - x).TotalMicroseconds / operations, 1);

        // Threads that ended in the window are missing from b and lose their share; thread-pool threads
        // rarely end within seconds, so the breakdown is close, not exact.
        var byName = new Dictionary<string, long>();
        foreach (var (tid, (name, ticks)) in b.GatewayThreads)
        {
            var used = ticks - (a.GatewayThreads.TryGetValue(tid, out var before) ? before.Ticks : 0);
            if (used > 0) byName[name] = byName.GetValueOrDefault(name) + used;
        }
        var threads = byName.OrderByDescending(t => t.Value)
            .ToDictionary(t => t.Key, t => Math.Round(t.Value / TicksPerSecond / seconds, 2));

        var ours = (b.Gateway - a.Gateway + b.Redis - a.Redis + b.Bench - a.Bench).TotalSeconds / seconds;
        var machine = (b.MachineBusyTicks - a.MachineBusyTicks) / TicksPerSecond / seconds;
        return new CpuUse(
            Cores(a.Gateway, b.Gateway), Cores(a.Redis, b.Redis), Cores(a.Bench, b.Bench), Math.Round(Math.Max(0, machine - ours), 2),
            PerOp(a.Gateway, b.Gateway), PerOp(a.Redis, b.Redis), PerOp(a.Bench, b.Bench), threads);
    }
}

/// <summary>
/// Cores busy in each process over a window (and in the rest of the machine: other processes, the kernel's
/// own work), CPU µs each spent per operation, and the gateway's cores by thread name.
/// </summary>
public sealed record CpuUse(
    double GatewayCores, double RedisCores, double BenchCores, double OtherCores,
    double GatewayUsPerOp, double RedisUsPerOp, double BenchUsPerOp,
    IReadOnlyDictionary<string, double> GatewayThreads)
{
    public override string ToString() =>
        $"cores gw {GatewayCores:0.00} / redis {RedisCores:0.00} / bench {BenchCores:0.00} / other {OtherCores:0.00}; " +
        $"CPU µs per op gw {GatewayUsPerOp:0.0} / redis {RedisUsPerOp:0.0} / bench {BenchUsPerOp:0.0}";

    /// <summary>The busiest gateway threads, e.g. ".NET TP Worker 0.61, SocketManager:W 0.12".</summary>
    public string TopGatewayThreads(int count = 3) =>
        string.Join(", ", GatewayThreads.Take(count).Select(t => $"{t.Key} {t.Value:0.00}"));
}
