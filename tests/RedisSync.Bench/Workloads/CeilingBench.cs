using System.Globalization;
using Microsoft.Extensions.Options;
using RedisSync.Bench.Measurement;
using RedisSync.Gateway.Hosting;
using RedisSync.Gateway.Merge;
using RedisSync.Gateway.Store;
using StackExchange.Redis;
using Clock = RedisSync.Bench.Measurement.Clock;

namespace RedisSync.Bench.Workloads;

/// <summary>One ceiling measurement, with where Redis spent its time per script call.</summary>
public sealed record ScriptRun(LoadResult Load, int RecordsPerCall, RedisTime? RedisTime)
{
    public double RecordsPerSecond => Load.OperationsPerSecond * RecordsPerCall;
}

/// <summary>Redis's own accounting (INFO commandstats) per script call: the script in total and the commands it ran.</summary>
public sealed record RedisTime(double UsPerScriptCall, double LuaUsPerScriptCall, IReadOnlyList<CommandCost> Commands);

/// <summary>A command the script ran: how often, and its µs, per script call.</summary>
public sealed record CommandCost(string Command, double CallsPerScriptCall, double UsPerScriptCall);

/// <summary>The raw Redis ceiling: the gateway's merge script called straight from here, no gateway in between.</summary>
public sealed record CeilingResult(IReadOnlyList<ScriptRun> Single, ScriptRun Batched)
{
    /// <summary>THE ceiling every other figure is a ratio to: the best single-record rate over the depths tried.</summary>
    public ScriptRun Best => Single.MaxBy(r => r.Load.OperationsPerSecond)!;

    public double WritesPerSecond => Best.Load.OperationsPerSecond;
}

/// <summary>
/// The gateway's own store (RecordStore: read, merge, commit.lua) driven in this process, with no HTTP, no
/// ASP.NET Core and no JSON in between: the most the gateway could do over this Redis. Same record shape as the
/// HTTP workloads. The ceiling is the best of several depths: too few in flight leaves Redis waiting on round
/// trips, more lets group commit put concurrent writes to one collection into one script run.
/// </summary>
public static class CeilingBench
{
    public static readonly int[] Depths = [1, 16, 64, 256];
    public const int BatchSize = 100;
    public const int BatchConcurrency = 8;

    public static async Task<CeilingResult> RunAsync(BenchContext ctx)
    {
        // allowAdmin: CONFIG RESETSTAT and INFO commandstats, to read Redis's time per call.
        using var mux = await ConnectionMultiplexer.ConnectAsync(ctx.Redis.ConnectionString + ",allowAdmin=true");
        var server = mux.GetServer("127.0.0.1", ctx.Redis.Port);
        var store = new RecordStore(mux, Options.Create(new SyncOptions()));
        var o = ctx.Options;

        var single = new List<ScriptRun>();
        foreach (var depth in Depths)
        {
            BenchContext.Progress($"ceiling: RecordStore.WriteAsync in process, 1 record per call, {depth} in flight");
            var collection = ctx.Collection($"ceiling-c{depth}");
            single.Add(await MeasureAsync(server, 1, () => ClosedLoop.RunAsync($"store, 1 record per call, {depth} in flight",
                depth, o.Warmup, o.Measure, async (w, i) =>
                {
                    // Each worker writes its own 1,000 records round-robin with increasing versions: always applied.
                    await store.WriteAsync(collection, [Put($"w{w}-{i % 1000}", i + 1, 0)]);
                    Interlocked.Increment(ref _storeCalls);
                    return null;
                }, ctx.Cpu, ctx.Ct)));
            BenchContext.Progress($"  {single[^1].Load.OperationsPerSecond:N0} writes/s; {single[^1].Load.Cpu}");
        }

        BenchContext.Progress($"ceiling: {BatchSize} records per call, {BatchConcurrency} in flight");
        var batchCollection = ctx.Collection("ceiling-batch");
        var batched = await MeasureAsync(server, BatchSize, () => ClosedLoop.RunAsync(
            $"store, {BatchSize} records per call, {BatchConcurrency} in flight",
            BatchConcurrency, o.Warmup, o.Measure, async (w, i) =>
            {
                await store.WriteAsync(batchCollection, Enumerable.Range(0, BatchSize).Select(k => Put($"w{w}-{k}", i + 1, k)).ToArray());
                Interlocked.Increment(ref _storeCalls);
                return null;
            }, ctx.Cpu, ctx.Ct));
        BenchContext.Progress($"  {batched.RecordsPerSecond:N0} records/s; {batched.Load.Cpu}");

        return new CeilingResult(single, batched);
    }

    // Store calls made since the statistics were reset: the warm-up's too, which commandstats counts as well.
    private static long _storeCalls;

    private static async Task<ScriptRun> MeasureAsync(IServer server, int recordsPerCall, Func<Task<LoadResult>> run)
    {
        await server.ConfigResetStatisticsAsync();
        Interlocked.Exchange(ref _storeCalls, 0);
        var load = await run();
        return new ScriptRun(load, recordsPerCall, await ReadRedisTimeAsync(server, Interlocked.Read(ref _storeCalls)));
    }

    // INFO commandstats lines look like cmdstat_evalsha: calls=12,usec=345,usec_per_call=28.75,...; commands a script
    // runs are counted under their own names, and the script's usec includes theirs. Per store call: everything the
    // store sent (the read, the commit script and what it ran inside), divided by the calls made.
    private static async Task<RedisTime?> ReadRedisTimeAsync(IServer server, long calls)
    {
        var stats = new Dictionary<string, (long Calls, long Usec)>();
        foreach (var group in await server.InfoAsync("commandstats"))
            foreach (var (key, value) in group)
            {
                if (!key.StartsWith("cmdstat_", StringComparison.Ordinal)) continue;
                var fields = value.Split(',').Select(f => f.Split('=')).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1]);
                if (fields.TryGetValue("calls", out var n) && fields.TryGetValue("usec", out var usec))
                    stats[key["cmdstat_".Length..]] = (long.Parse(n, CultureInfo.InvariantCulture), long.Parse(usec, CultureInfo.InvariantCulture));
            }
        if (calls == 0 || !stats.TryGetValue("evalsha", out var script)) return null;
        string[] outside = ["evalsha", "mget", "config", "info", "script", "ping", "cluster", "echo", "client", "subscribe", "sadd"];
        var inner = stats.Where(s => !outside.Contains(s.Key))
            .Select(s => new CommandCost(s.Key, Math.Round(s.Value.Calls / (double)calls, 2), Math.Round(s.Value.Usec / (double)calls, 2)))
            .Where(c => c.CallsPerScriptCall >= 0.01)
            .OrderByDescending(c => c.UsPerScriptCall).ToList();
        var reads = stats.GetValueOrDefault("mget");
        if (reads.Calls > 0) inner.Insert(0, new CommandCost("mget (the read)", Math.Round(reads.Calls / (double)calls, 2), Math.Round(reads.Usec / (double)calls, 2)));
        var total = (script.Usec + reads.Usec) / (double)calls;
        var lua = (script.Usec - inner.Where(c => !c.Command.StartsWith("mget", StringComparison.Ordinal)).Sum(c => c.UsPerScriptCall * calls)) / calls;
        return new RedisTime(Math.Round(total, 2), Math.Round(lua, 2), inner);
    }

    // The same three fields the HTTP workloads send (GatewayHttp.RecordData).
    private static RecordWrite Put(string id, long version, int n) =>
        new(WriteOp.Put, id, version, 0, "bench",
            [KeyValuePair.Create("name", "\"bench\""), KeyValuePair.Create("n", n.ToString(CultureInfo.InvariantCulture)),
             KeyValuePair.Create("sentTicks", Clock.Now.ToString(CultureInfo.InvariantCulture))]);
}
