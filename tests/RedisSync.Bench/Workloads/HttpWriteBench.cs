using RedisSync.Bench.Clients;
using RedisSync.Bench.Measurement;

namespace RedisSync.Bench.Workloads;

/// <summary>RedisSync only (the baseline has neither): the bare HTTP stack, and batches of puts.</summary>
public sealed record HttpWriteResult(LoadResult HealthLive, LoadResult Batches, int BatchSize)
{
    public double BatchRecordsPerSecond => Batches.OperationsPerSecond * BatchSize;
}

public static class HttpWriteBench
{
    public const int HealthConcurrency = 64;
    public const int BatchSize = 100;
    public const int BatchConcurrency = CeilingBench.BatchConcurrency;

    public static async Task<HttpWriteResult> RunAsync(BenchContext ctx)
    {
        var o = ctx.Options;

        // Tiered JIT keeps recompiling the write path for a few seconds after it first runs; measured, that
        // background compilation took a quarter of a core. Run the batch path first so it happens here.
        BenchContext.Progress($"{ctx.Name}: http: warm-up (batch, not recorded)");
        var warmCollection = ctx.Collection("http-warmup");
        await ClosedLoop.RunAsync("warm-up batch", 4, TimeSpan.Zero, o.HttpWarmup / 2, async (w, i) =>
            GatewayHttp.Failure((await ctx.Http.PutBatchAsync(warmCollection, [.. Enumerable.Range(0, BatchSize).Select(k => $"b{w}-{k}")], i + 1)).Status), null, ctx.Ct);

        // What Kestrel, routing and this client cost without Redis or a body: the HTTP stack's own ceiling.
        BenchContext.Progress($"{ctx.Name}: http: GET /health/live, {HealthConcurrency} in flight");
        var health = await ClosedLoop.RunAsync($"GET /health/live, {HealthConcurrency} in flight", HealthConcurrency, o.Warmup, o.Measure,
            async (_, _) => GatewayHttp.Failure(await ctx.Http.GetStatusAsync("health/live")), ctx.Cpu, ctx.Ct);

        BenchContext.Progress($"{ctx.Name}: http: POST batches of {BatchSize}, {BatchConcurrency} in flight");
        var batchCollection = ctx.Collection("batch");
        var batches = await ClosedLoop.RunAsync($"POST batch of {BatchSize} puts, {BatchConcurrency} in flight",
            BatchConcurrency, o.Warmup, o.Measure, async (w, i) =>
            {
                var ids = Enumerable.Range(0, BatchSize).Select(k => $"w{w}-{k}").ToArray();
                var (status, _) = await ctx.Http.PutBatchAsync(batchCollection, ids, i + 1);
                return GatewayHttp.Failure(status);
            }, ctx.Cpu, ctx.Ct);

        return new HttpWriteResult(health, batches, BatchSize);
    }
}
