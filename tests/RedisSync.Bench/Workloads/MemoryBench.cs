using RedisSync.Bench.Clients;
using RedisSync.Bench.Infrastructure;
using RedisSync.Bench.Measurement;

namespace RedisSync.Bench.Workloads;

/// <summary>The gateway's resident memory with a number of idle subscribed connections.</summary>
public sealed record MemoryPoint(int Connections, long RssKiB, long Threads, int Reads, bool Settled);

public sealed record MemoryResult(
    MemoryPoint Idle,
    CpuUse? IdleCpu,
    IReadOnlyList<MemoryPoint> Loaded,
    double KiBPerConnection,
    double MarginalKiBPerConnection,
    int ConnectionsLost,
    double ConnectSeconds);

/// <summary>
/// Runs first, on a gateway that has only been warmed up, so "idle" is idle and not the heap left behind by
/// the throughput phases. RSS is read from /proc after it settles (two reads a second apart within 1%).
/// Connections are added in two halves: the second half's cost (marginal) shows whether the figure is a
/// per-connection cost or a one-time one.
/// </summary>
public static class MemoryBench
{
    public static async Task<MemoryResult> RunAsync(BenchContext ctx)
    {
        var o = ctx.Options;
        var collection = ctx.Collection("idle");
        await WarmUpAsync(ctx, collection);

        BenchContext.Progress($"{ctx.Name}: memory: idle, waiting for RSS to settle");
        var cpuStart = ctx.Cpu.Take();
        var idle = await SettleAsync(ctx.Gateway, 0, o.SettleMaxReads);
        // What an idle gateway costs in CPU (timers, Redis heartbeats): the floor under every figure after this.
        var idleCpu = CpuProbe.Between(cpuStart, ctx.Cpu.Take(), 0);
        BenchContext.Progress($"  idle RSS {idle.RssKiB / 1024.0:0.0} MiB{(idle.Settled ? "" : " (not settled)")}; {idleCpu}");

        var clients = new List<Subscriber>();
        var loaded = new List<MemoryPoint>();
        var connectTicks = 0L;
        try
        {
            foreach (var target in new[] { o.IdleSubscribers / 2, o.IdleSubscribers })
            {
                BenchContext.Progress($"{ctx.Name}: memory: connecting and subscribing up to {target} idle subscribers");
                var t0 = Clock.Now;
                await ConnectAsync(ctx, clients, target - clients.Count, collection);
                connectTicks += Clock.Now - t0;
                var point = await SettleAsync(ctx.Gateway, clients.Count, o.SettleMaxReads);
                loaded.Add(point);
                BenchContext.Progress($"  {point.Connections} subscribers: RSS {point.RssKiB / 1024.0:0.0} MiB{(point.Settled ? "" : " (not settled)")}");
            }
            var lost = clients.Count(c => c.Closed);
            var full = loaded[^1];
            var half = loaded[0];
            return new MemoryResult(idle, idleCpu, loaded,
                Math.Round((full.RssKiB - idle.RssKiB) / (double)full.Connections, 1),
                Math.Round((full.RssKiB - half.RssKiB) / (double)(full.Connections - half.Connections), 1),
                lost, Math.Round(Clock.Seconds(connectTicks), 2));
        }
        finally
        {
            BenchContext.Progress($"{ctx.Name}: memory: closing {clients.Count} connections");
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    /// <summary>Exercises writes and the hub once, so first-use costs (JIT, pools) fall before the idle reading.</summary>
    private static async Task WarmUpAsync(BenchContext ctx, string collection)
    {
        var clients = new List<Subscriber>();
        try
        {
            var got = 0;
            var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await ConnectAsync(ctx, clients, 10, collection, (_, _) => { if (Interlocked.Increment(ref got) == 10 * 20) all.TrySetResult(); });
            for (var i = 0; i < 20; i++) await ctx.Http.PutAsync(collection, $"warm{i}", 1, i, Clock.Now);
            await all.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    /// <summary>Adds <paramref name="count"/> subscribed connections; each joins the list as soon as it exists, so it is closed even if another fails.</summary>
    private static async Task ConnectAsync(BenchContext ctx, List<Subscriber> clients, int count, string collection, ChangeReceived? onChange = null)
    {
        using var gate = new SemaphoreSlim(32);
        await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
        {
            await gate.WaitAsync(ctx.Ct);
            try
            {
                var client = await Subscriber.ConnectAsync(ctx.Gateway.HubUri, onChange, ctx.Ct);
                lock (clients) clients.Add(client);
                await client.SubscribeAsync(collection, null, TimeSpan.FromSeconds(30));
            }
            finally { gate.Release(); }
        }));
    }

    /// <summary>Reads RSS once a second until two reads differ by less than 1% (at most <paramref name="maxReads"/>).</summary>
    private static async Task<MemoryPoint> SettleAsync(ChildProcess process, int connections, int maxReads)
    {
        var previous = process.RssKiB() ?? 0;
        for (var reads = 1; reads < maxReads; reads++)
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            var current = process.RssKiB() ?? 0;
            if (current > 0 && Math.Abs(current - previous) < 0.01 * current)
                return new MemoryPoint(connections, current, process.Threads() ?? 0, reads + 1, true);
            previous = current;
        }
        return new MemoryPoint(connections, previous, process.Threads() ?? 0, maxReads, false);
    }
}
