using RedisSync.Bench.Infrastructure;

namespace RedisSync.Bench.Workloads;

/// <summary>A measurement taken on both gateways in the same run; either is null when it failed there.</summary>
public sealed record Pair<T>(T? RedisSync, T? Baseline) where T : class
{
    public T? Of(GatewayKind kind) => kind == GatewayKind.RedisSync ? RedisSync : Baseline;
}

/// <summary>
/// Runs each measurement on RedisSync and on the baseline back to back, and alternates which goes first, so a
/// drift in the machine's load (it is shared) or a warm cache after a run falls on both equally. A failure on
/// one gateway is recorded and does not stop the other.
/// </summary>
public sealed class Alternation(BenchContext redisSync, BenchContext baseline, List<string> errors)
{
    private int _turn;

    public BenchContext RedisSync { get; } = redisSync;
    public BenchContext Baseline { get; } = baseline;

    /// <summary>The two gateways in the order the next measurement takes them.</summary>
    public BenchContext[] NextOrder() => _turn++ % 2 == 0 ? [RedisSync, Baseline] : [Baseline, RedisSync];

    public async Task<Pair<T>> BothAsync<T>(string phase, Func<BenchContext, Task<T>> run) where T : class
    {
        T? redisSyncResult = null, baselineResult = null;
        foreach (var ctx in NextOrder())
        {
            var result = await OneAsync(phase, ctx, run);
            if (ctx.Kind == GatewayKind.RedisSync) redisSyncResult = result;
            else baselineResult = result;
        }
        return new Pair<T>(redisSyncResult, baselineResult);
    }

    /// <summary>Runs one measurement on one gateway; null (and an entry in the errors) when it failed.</summary>
    public async Task<T?> OneAsync<T>(string phase, BenchContext ctx, Func<BenchContext, Task<T>> run) where T : class?
    {
        if (ctx.Ct.IsCancellationRequested)
        {
            lock (errors) errors.Add($"{phase} ({ctx.Name}): skipped, the run's time budget was used up or it was interrupted");
            return null;
        }
        try
        {
            return await run(ctx);
        }
        catch (Exception e)
        {
            lock (errors) errors.Add($"{phase} ({ctx.Name}): {e.GetType().Name}: {e.Message}");
            BenchContext.Progress($"{phase} ({ctx.Name}) failed: {e}");
            return null;
        }
    }
}
