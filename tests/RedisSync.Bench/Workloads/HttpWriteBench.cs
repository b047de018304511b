using RedisSync.Bench.Clients;
using RedisSync.Bench.Measurement;

namespace RedisSync.Bench.Workloads;

/// <summary>Writes over HTTP: single-record PUTs at several concurrencies, batches, and the bare HTTP stack.</summary>
public sealed record HttpWriteResult(
    LoadResult HealthLive,
    IReadOnlyList<LoadResult> Puts,
    LoadResult Batches,
    int BatchSize)
{
    public double BatchRecordsPerSecond => Batches.OperationsPerSecond * BatchSize;
}

public static class HttpWriteBench
{
    public static readonly int[] Concurrencies = [1, 16, 64];
    public const int BatchSize = 100;
    public const int BatchConcurrency = CeilingBench.BatchConcurrency;

    public static async Task<HttpWriteResult> RunAsync(BenchContext ctx)
    {
        var o = ctx.Options;
        var top = Concurrencies[^1];

        // Tiered JIT keeps recompiling the write path for a few seconds after it first runs; measured, that
        // background compilation took a quarter of a core. Run the write paths first so it happens here.
        BenchContext.Progress("http: warm-up (PUT and batch, not recorded)");
        var warmCollection = ctx.Collection("http-warmup");
        await ClosedLoop.RunAsync("warm-up PUT", 16, TimeSpan.Zero, o.HttpWarmup, async (w, i) =>
            GatewayHttp.Failure((await ctx.Http.PutAsync(warmCollection, $"w{w}-{i % 100}", i + 1, i, Clock.Now)).Status), null, ctx.Ct);
        await ClosedLoop.RunAsync("warm-up batch", 4, TimeSpan.Zero, o.HttpWarmup / 2, async (w, i) =>
            GatewayHttp.Failure((await ctx.Http.PutBatchAsync(warmCollection, [.. Enumerable.Range(0, BatchSize).Select(k => $"b{w}-{k}")], i + 1)).Status), null, ctx.Ct);

        // What Kestrel, routing and this client cost without Redis or a body: the HTTP stack's own ceiling.
        BenchContext.Progress($"http: GET /health/live, {top} in flight");
        var health = await ClosedLoop.RunAsync($"GET /health/live, {top} in flight", top, o.Warmup, o.Measure,
            async (_, _) => GatewayHttp.Failure(await ctx.Http.GetStatusAsync("health/live")), ctx.Cpu, ctx.Ct);

        var puts = new List<LoadResult>();
        foreach (var concurrency in Concurrencies)
        {
            BenchContext.Progress($"http: PUT one record, {concurrency} in flight");
            var collection = ctx.Collection($"put-c{concurrency}");
            // Each worker owns 1,000 ids and writes them round-robin with its own increasing versions, so every
            // write is applied (never stale) and records are updated as well as created.
            puts.Add(await ClosedLoop.RunAsync($"PUT one record, {concurrency} in flight", concurrency, o.Warmup, o.Measure,
                async (w, i) =>
                {
                    var (status, body) = await ctx.Http.PutAsync(collection, $"w{w}-{i % 1000}", i + 1, i, Clock.Now);
                    return GatewayHttp.Failure(status) ?? (GatewayHttp.Applied(body) ? null : "not applied");
                }, ctx.Cpu, ctx.Ct));
        }

        BenchContext.Progress($"http: POST batches of {BatchSize}, {BatchConcurrency} in flight");
        var batchCollection = ctx.Collection("batch");
        var batches = await ClosedLoop.RunAsync($"POST batch of {BatchSize} puts, {BatchConcurrency} in flight",
            BatchConcurrency, o.Warmup, o.Measure, async (w, i) =>
            {
                var ids = Enumerable.Range(0, BatchSize).Select(k => $"w{w}-{k}").ToArray();
                var (status, _) = await ctx.Http.PutBatchAsync(batchCollection, ids, i + 1);
                return GatewayHttp.Failure(status);
            }, ctx.Cpu, ctx.Ct);

        return new HttpWriteResult(health, puts, batches, BatchSize);
    }
}
