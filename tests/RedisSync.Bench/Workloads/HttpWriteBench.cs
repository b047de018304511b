using RedisSync.Bench.Clients;
using RedisSync.Bench.Measurement;

namespace RedisSync.Bench.Workloads;

/// <summary>
/// RedisSync only: the bare HTTP stack, batches of puts (the baseline has none), and single PUTs from this
/// program's own HttpClient, to set its CPU per request beside wrk's (see README: why wrk).
/// </summary>
public sealed record HttpWriteResult(LoadResult HealthLive, LoadResult ClientPuts, LoadResult Batches, int BatchSize)
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

        // The PUT workload of the wrk runs, but from this process: what it costs the load generator per request.
        BenchContext.Progress($"{ctx.Name}: http: PUT by this program's HttpClient, {HealthConcurrency} in flight");
        var putCollection = ctx.Collection("client-put");
        var ids = Enumerable.Range(0, HealthConcurrency).Select(w => Enumerable.Range(0, PutBench.RecordsPerConnection).Select(r => $"w{w}-{r}").ToArray()).ToArray();
        await RecordCensus.SeedAsync(ctx.Kind, ctx.Http, putCollection, [.. ids.SelectMany(i => i)], ctx.Ct);
        var puts = await ClosedLoop.RunAsync($"PUT by this program's HttpClient, {HealthConcurrency} in flight", HealthConcurrency, o.Warmup, o.Measure,
            async (w, i) =>
            {
                var id = ids[w][i % PutBench.RecordsPerConnection];
                var version = 2 + i / PutBench.RecordsPerConnection;
                return GatewayHttp.Failure(await ctx.Http.PutDataAsync(putCollection, id, version, GatewayHttp.FiveFieldRecord(id, version)));
            }, ctx.Cpu, ctx.Ct);

        BenchContext.Progress($"{ctx.Name}: http: POST batches of {BatchSize}, {BatchConcurrency} in flight");
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
