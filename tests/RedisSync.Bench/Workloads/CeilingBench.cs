using System.Globalization;
using RedisSync.Bench.Measurement;
using StackExchange.Redis;

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
/// Calls merge.lua by EVALSHA exactly as RecordStore.WriteAsync does (same KEYS, same ARGV layout, same
/// record shape as the HTTP workloads write), from one multiplexer that pipelines concurrent calls. The
/// ceiling is the best of several pipeline depths: too few in flight leaves Redis waiting on round trips,
/// too many only queues in the client.
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
        var sha = await server.ScriptLoadAsync(await ReadScriptAsync());
        var db = mux.GetDatabase();
        var o = ctx.Options;

        var single = new List<ScriptRun>();
        foreach (var depth in Depths)
        {
            BenchContext.Progress($"ceiling: merge.lua by EVALSHA, 1 record per call, {depth} in flight");
            var collection = ctx.Collection($"ceiling-c{depth}");
            single.Add(await MeasureAsync(server, 1, () => ClosedLoop.RunAsync($"merge.lua EVALSHA, 1 record, {depth} in flight",
                depth, o.Warmup, o.Measure, async (w, i) =>
                {
                    // Each worker writes its own 1,000 records round-robin with increasing versions: always applied.
                    var (keys, args) = MergeCall(collection, [$"w{w}-{i % 1000}"], version: i + 1);
                    await db.ScriptEvaluateAsync(sha, keys, args);
                    return null;
                }, ctx.Cpu, ctx.Ct)));
            BenchContext.Progress($"  {single[^1].Load.OperationsPerSecond:N0} writes/s; {single[^1].Load.Cpu}");
        }

        BenchContext.Progress($"ceiling: {BatchSize} records per EVALSHA, {BatchConcurrency} in flight");
        var batchCollection = ctx.Collection("ceiling-batch");
        var batched = await MeasureAsync(server, BatchSize, () => ClosedLoop.RunAsync(
            $"merge.lua EVALSHA, {BatchSize} records per call, {BatchConcurrency} in flight",
            BatchConcurrency, o.Warmup, o.Measure, async (w, i) =>
            {
                var ids = Enumerable.Range(0, BatchSize).Select(k => $"w{w}-{k}").ToArray();
                var (keys, args) = MergeCall(batchCollection, ids, version: i + 1);
                await db.ScriptEvaluateAsync(sha, keys, args);
                return null;
            }, ctx.Cpu, ctx.Ct));
        BenchContext.Progress($"  {batched.RecordsPerSecond:N0} records/s; {batched.Load.Cpu}");

        return new CeilingResult(single, batched);
    }

    private static async Task<ScriptRun> MeasureAsync(IServer server, int recordsPerCall, Func<Task<LoadResult>> run)
    {
        await server.ConfigResetStatisticsAsync();
        var load = await run();
        return new ScriptRun(load, recordsPerCall, await ReadRedisTimeAsync(server));
    }

    // INFO commandstats lines look like cmdstat_evalsha: calls=12,usec=345,usec_per_call=28.75,...; commands
    // a script runs are counted under their own names, and the script's usec includes theirs.
    private static async Task<RedisTime?> ReadRedisTimeAsync(IServer server)
    {
        var stats = new Dictionary<string, (long Calls, long Usec)>();
        foreach (var group in await server.InfoAsync("commandstats"))
            foreach (var (key, value) in group)
            {
                if (!key.StartsWith("cmdstat_", StringComparison.Ordinal)) continue;
                var fields = value.Split(',').Select(f => f.Split('=')).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1]);
                if (fields.TryGetValue("calls", out var calls) && fields.TryGetValue("usec", out var usec))
                    stats[key["cmdstat_".Length..]] = (long.Parse(calls, CultureInfo.InvariantCulture), long.Parse(usec, CultureInfo.InvariantCulture));
            }
        if (!stats.TryGetValue("evalsha", out var script) || script.Calls == 0) return null;
        var inner = stats.Where(s => s.Key is not ("evalsha" or "config" or "info" or "script" or "ping" or "cluster" or "echo" or "client" or "subscribe"))
            .Select(s => new CommandCost(s.Key, Math.Round(s.Value.Calls / (double)script.Calls, 2), Math.Round(s.Value.Usec / (double)script.Calls, 2)))
            .Where(c => c.CallsPerScriptCall >= 0.01) // not the script's: the gateway's occasional own commands
            .OrderByDescending(c => c.UsPerScriptCall).ToArray();
        var total = script.Usec / (double)script.Calls;
        return new RedisTime(Math.Round(total, 2), Math.Round(total - inner.Sum(c => c.UsPerScriptCall), 2), inner);
    }

    private static async Task<string> ReadScriptAsync()
    {
        await using var stream = typeof(CeilingBench).Assembly.GetManifestResourceStream("merge.lua")
            ?? throw new InvalidOperationException("merge.lua is not embedded (see RedisSync.Bench.csproj)");
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }

    // The key names of Store/RedisKeys.cs and the ARGV layout in merge.lua's header. Each call puts the same
    // three fields the HTTP workloads send (GatewayHttp.RecordData), each as its own JSON text.
    private static (RedisKey[] Keys, RedisValue[] Args) MergeCall(string collection, string[] ids, long version)
    {
        var keys = new RedisKey[3 + ids.Length];
        keys[0] = $"rs:{{{collection}}}:meta";
        keys[1] = $"rs:{{{collection}}}:log";
        keys[2] = $"rs:{{{collection}}}:ids";
        var args = new List<RedisValue>(5 + ids.Length * 13)
        {
            "version",                       // policy
            100_000,                         // Sync:ChangeLogMaxLength, the gateway's default
            $"rs:{{{collection}}}:changes",  // pub/sub channel
            256,                             // Sync:MaxFieldsPerRecord, the default
            ids.Length,
        };
        var versionText = version.ToString(CultureInfo.InvariantCulture);
        for (var k = 0; k < ids.Length; k++)
        {
            keys[3 + k] = $"rs:{{{collection}}}:r:{ids[k]}";
            args.AddRange(["put", 4 + k, ids[k], versionText, "0", "bench", 3,
                "name", "\"bench\"", "n", k, "sentTicks", Clock.Now]);
        }
        return (keys, args.ToArray());
    }
}
