using System.Globalization;
using RedisSync.Bench.Clients;
using RedisSync.Bench.Infrastructure;
using RedisSync.Bench.Measurement;
using StackExchange.Redis;

namespace RedisSync.Bench.Workloads;

/// <summary>One measured wrk run of PUTs against one gateway, and what it cost.</summary>
public sealed record PutRun(
    string Gateway,
    string Name,
    int Connections,
    int Records,
    double Seconds,
    long Requests,
    double WritesPerSecond,
    LatencySummary Latency,
    long SocketErrors,
    long StatusErrors,
    long Applied,
    int Mismatches,
    string? FirstMismatch,
    CpuUse? Cpu,
    double LoadGeneratorCores,
    double LoadGeneratorUsPerWrite,
    RedisCommandTime? RedisTime)
{
    /// <summary>
    /// Every PUT was applied: wrk saw no failure, and counting the records afterwards found as many applied
    /// changes as writes sent to each record (in-flight writes wrk abandoned at the end may add up to one per
    /// connection, never fewer).
    /// </summary>
    public bool AllApplied => SocketErrors == 0 && StatusErrors == 0 && Mismatches == 0 && Applied >= Requests && Applied <= Requests + Connections;
}

/// <summary>
/// Single-record PUTs by wrk (Load/put.lua) at a fixed number of connections: each replaces an existing 5-field
/// record (seeded first, not measured) and changes 1 or 2 of its fields. A warm-up run on the same records goes
/// first; then the measured run, with CPU of every process and Redis's command time over its window; then
/// the records are counted: the applied writes are what their versions (and for RedisSync, revisions) say.
/// </summary>
public static class PutBench
{
    public static readonly int[] Concurrencies = [1, 16, 64];
    public const int RecordsPerConnection = 100;
    public const int HotConnections = 64;
    public const int HotRecordsPerConnection = 1000;

    /// <summary>Versions of the measured run start above anything the seed (1) or the warm-up wrote.</summary>
    private const long MeasuredBase = 1_000_000_000;

    /// <summary>
    /// Load on the write path before the first measured point: profiled, tiered JIT was still taking a quarter of
    /// a core seconds after the first writes, and the c=1 point (first, and light) would pay for it.
    /// </summary>
    public static async Task<string> WarmUpAsync(BenchContext ctx)
    {
        const int connections = 16;
        var collection = ctx.Collection("put-warmup");
        var perThread = RecordsPerConnection * connections / Wrk.Threads(connections);
        var ids = Enumerable.Range(0, Wrk.Threads(connections)).SelectMany(t => Enumerable.Range(0, perThread).Select(r => $"t{t}-{r}")).ToArray();
        BenchContext.Progress($"{ctx.Name}: PUT warm-up (not recorded)");
        await RecordCensus.SeedAsync(ctx.Kind, ctx.Http, collection, ids, ctx.Ct);
        var run = await Wrk.RunAsync(ctx.Gateway.BaseAddress, connections, ctx.Options.HttpWarmup * 2, BuildInfo.LoadScript("put.lua"),
            [collection, "1", perThread.ToString(CultureInfo.InvariantCulture), GatewayProcess.ApiKey], ctx.Ct);
        return $"{run.Requests} writes";
    }

    public static Task<PutRun> PutAsync(BenchContext ctx, int connections) =>
        RunAsync(ctx, $"put-c{connections}", $"PUT, {connections} connections", connections, RecordsPerConnection);

    public static Task<PutRun> HotCollectionAsync(BenchContext ctx) =>
        RunAsync(ctx, "hot", $"hot collection: PUT into one collection of {HotConnections * HotRecordsPerConnection:N0} records, {HotConnections} connections",
            HotConnections, HotRecordsPerConnection);

    private static async Task<PutRun> RunAsync(BenchContext ctx, string purpose, string name, int connections, int recordsPerConnection)
    {
        var o = ctx.Options;
        var collection = ctx.Collection(purpose);
        var threads = Wrk.Threads(connections);
        var perThread = recordsPerConnection * connections / threads;
        var ids = Enumerable.Range(0, threads).SelectMany(t => Enumerable.Range(0, perThread).Select(r => $"t{t}-{r}")).ToArray();
        var script = BuildInfo.LoadScript("put.lua");
        string[] Arguments(long firstVersion) =>
            [collection, firstVersion.ToString(CultureInfo.InvariantCulture), perThread.ToString(CultureInfo.InvariantCulture), GatewayProcess.ApiKey];

        BenchContext.Progress($"{ctx.Name}: {name}: seeding {ids.Length:N0} records");
        await RecordCensus.SeedAsync(ctx.Kind, ctx.Http, collection, ids, ctx.Ct);

        // Warm-up on the same records (versions from 2): JIT, pools, Redis's script cache. Meanwhile a short
        // MONITOR sample says which commands run inside scripts (see RedisCommandStats).
        BenchContext.Progress($"{ctx.Name}: {name}: warm-up");
        var warmup = Wrk.RunAsync(ctx.Gateway.BaseAddress, connections, o.HttpWarmup, script, Arguments(1), ctx.Ct);
        await Task.Delay(o.HttpWarmup / 2, ctx.Ct);
        var nesting = await RedisCommandStats.SampleNestingAsync(ctx.Redis.Port, TimeSpan.FromMilliseconds(300), 20_000, ctx.Ct);
        await warmup;

        var before = await RecordCensus.ReadAsync(ctx.Kind, ctx.Http, ctx.Redis.ConnectionString, collection, ids, ctx.Ct);
        using var mux = await ConnectionMultiplexer.ConnectAsync(ctx.Redis.ConnectionString + ",allowAdmin=true");
        var server = mux.GetServer("127.0.0.1", ctx.Redis.Port);

        BenchContext.Progress($"{ctx.Name}: {name}: measuring");
        await RedisCommandStats.ResetAsync(server);
        var cpuStart = ctx.Cpu.Take();
        var run = await Wrk.RunAsync(ctx.Gateway.BaseAddress, connections, o.Measure, script, Arguments(MeasuredBase), ctx.Ct);
        var cpuEnd = ctx.Cpu.Take();
        var stats = await RedisCommandStats.ReadAsync(server);
        var after = await RecordCensus.ReadAsync(ctx.Kind, ctx.Http, ctx.Redis.ConnectionString, collection, ids, ctx.Ct);

        var (applied, mismatches, first) = Count(ids, before, after);
        var seconds = Clock.Seconds(cpuEnd.Ticks - cpuStart.Ticks);
        var result = new PutRun(ctx.Name, name, connections, ids.Length, Math.Round(run.Seconds, 3), run.Requests,
            Math.Round(run.RequestsPerSecond, 1), run.Latency, run.SocketErrors, run.StatusErrors, applied, mismatches, first,
            CpuProbe.Between(cpuStart, cpuEnd, applied),
            Math.Round(run.CpuSeconds / seconds, 2), run.Requests == 0 ? 0 : Math.Round(run.CpuSeconds * 1e6 / run.Requests, 1),
            RedisCommandStats.PerWrite(stats, nesting, applied));
        BenchContext.Progress($"  {result.WritesPerSecond:N0} writes/s; {result.Latency}; applied {result.Applied:N0} of {result.Requests:N0} answered" +
                              $"{(result.AllApplied ? "" : $" — NOT ALL APPLIED: {result.StatusErrors} refused, {result.SocketErrors} socket errors, {result.Mismatches} records off ({result.FirstMismatch})")}; " +
                              $"{result.Cpu}; Redis commands {result.RedisTime?.UsPerWrite:0.0} µs/write; wrk {result.LoadGeneratorUsPerWrite:0.0} µs/write");
        return result;
    }

    /// <summary>
    /// Applied writes of the measured run, record by record. Thread t wrote record r for the k-th time at version
    /// MeasuredBase + k, so a record's final version says how many writes it was sent up to the last applied
    /// one; RedisSync's revision counts the changes actually applied, and the two must agree.
    /// </summary>
    private static (long Applied, int Mismatches, string? First) Count(string[] ids, Dictionary<string, RecordState> before, Dictionary<string, RecordState> after)
    {
        long applied = 0;
        var mismatches = 0;
        string? first = null;
        foreach (var id in ids)
        {
            string? problem = null;
            if (!before.TryGetValue(id, out var b) || !after.TryGetValue(id, out var a)) problem = $"{id} is missing";
            else
            {
                var sent = a.Version > MeasuredBase ? a.Version - MeasuredBase : 0;
                applied += sent;
                if (b.Version >= MeasuredBase) problem = $"{id} held version {b.Version} before the run";
                else if (a.Revision is { } revisionAfter && b.Revision is { } revisionBefore && revisionAfter - revisionBefore != sent)
                    problem = $"{id}: {sent} writes up to version {a.Version}, but its revision rose by {revisionAfter - revisionBefore}";
            }
            if (problem is null) continue;
            mismatches++;
            first ??= problem;
        }
        return (applied, mismatches, first);
    }
}
