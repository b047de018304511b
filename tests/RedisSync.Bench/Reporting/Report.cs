using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using RedisSync.Bench.Infrastructure;
using RedisSync.Bench.Measurement;
using RedisSync.Bench.Workloads;

namespace RedisSync.Bench.Reporting;

/// <summary>Renders the results as Markdown (printed, and written to results.md) and as JSON (results.json).</summary>
public static class Report
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static async Task WriteAsync(BenchResults r, string outDir)
    {
        Directory.CreateDirectory(outDir);
        var markdown = Markdown(r);
        Console.WriteLine();
        Console.WriteLine(markdown);
        await File.WriteAllTextAsync(Path.Combine(outDir, "results.md"), markdown);
        await File.WriteAllTextAsync(Path.Combine(outDir, "results.json"), JsonSerializer.Serialize(r, Json));
        Console.WriteLine($"Written: {Path.Combine(outDir, "results.md")} and results.json");
    }

    public static string Markdown(BenchResults r)
    {
        var md = new StringBuilder();
        var m = r.Machine;
        md.AppendLine($"# RedisSync benchmark{(r.Quick ? " (quick smoke run: short windows, not for comparison)" : "")}");
        md.AppendLine();
        md.AppendLine($"`{r.Command}` — started {r.StartedAt:yyyy-MM-dd HH:mm:ss zzz}, took {r.DurationSeconds:0} s.");
        md.AppendLine();
        md.AppendLine($"Machine: {m.Cores} cores, {m.CpuModel}, {m.MemoryGiB} GiB; {m.Os}, Linux {m.Kernel}; {m.DotNet} (SDK {m.DotNetSdk ?? "?"}); " +
                      $"Redis {m.Redis ?? "?"}. Gateways, Redis servers and load generators share these cores. " +
                      $"Load average at start {m.LoadAverageAtStart}, at end {r.LoadAverageAtEnd} (above {m.Cores}: other work competed for the CPU).");
        md.AppendLine();
        md.AppendLine($"RedisSync: `{r.GatewayAssembly}`, Production environment, defaults except " +
                      string.Join(", ", r.GatewaySettingsChanged.Select(kv => $"`{kv.Key}={kv.Value}`")) + ". " +
                      $"Baseline: `{r.BaselineAssembly}` (tests/RedisSync.Bench/Baseline: minimal APIs, one Lua check-and-set, SignalR Redis backplane). " +
                      "Each has its own redis-server; every measurement below ran on both, back to back, alternating which went first.");
        md.AppendLine();

        Comparison(md, r);

        md.AppendLine("## Issue 11 targets");
        md.AppendLine();
        Targets(md, r.Issue11Targets);

        PutDetail(md, r);

        md.AppendLine("## RedisSync only");
        md.AppendLine();
        md.AppendLine("What the baseline has no counterpart for (per-field merge, batches, a change log to resume from), and the raw Redis ceiling: the gateway's own store (`RecordStore`: read, merge in C#, `commit.lua`) driven straight from this process, no HTTP in between.");
        md.AppendLine();
        md.AppendLine("| measure | value | × ceiling | p50 / p95 / p99 ms |");
        md.AppendLine("| --- | ---: | ---: | ---: |");
        var ceiling = r.Ceiling?.WritesPerSecond;
        string Ratio(double perSecond) => ceiling is > 0 ? (perSecond / ceiling.Value).ToString("0.00", CultureInfo.InvariantCulture) : "–";
        if (r.Ceiling is { } c)
        {
            foreach (var run in c.Single)
            {
                var isCeiling = run == c.Best;
                md.AppendLine($"| {(isCeiling ? "**Ceiling**: " : "")}RecordStore in this process (commit.lua by EVALSHA), 1 record per call, {run.Load.Concurrency} in flight" +
                              $"{(isCeiling ? " (best depth)" : "")} | {run.Load.OperationsPerSecond:N0} writes/s | {Ratio(run.Load.OperationsPerSecond)} | {Lat(run.Load.Latency)} |");
            }
            md.AppendLine($"| RecordStore, {c.Batched.RecordsPerCall} records per call, {c.Batched.Load.Concurrency} in flight | {c.Batched.RecordsPerSecond:N0} records/s | {Ratio(c.Batched.RecordsPerSecond)} | {Lat(c.Batched.Load.Latency)} (per call) |");
        }
        if (r.RedisBenchmark is { } rb)
        {
            md.AppendLine($"| redis-benchmark SET, 50 clients (context) | {Num(rb.SetPerSecond)} ops/s | {(rb.SetPerSecond is { } s1 ? Ratio(s1) : "–")} | |");
            md.AppendLine($"| redis-benchmark SET, 50 clients, pipeline 16 (context) | {Num(rb.SetPipelinedPerSecond)} ops/s | {(rb.SetPipelinedPerSecond is { } s2 ? Ratio(s2) : "–")} | |");
        }
        if (r.Put(GatewayKind.RedisSync, 64) is { } put64)
            md.AppendLine($"| PUT, 64 connections (from the comparison above) | {put64.WritesPerSecond:N0} writes/s | {Ratio(put64.WritesPerSecond)} | {Lat(put64.Latency)} |");
        if (r.Http is { } h)
        {
            md.AppendLine($"| GET /health/live, {h.HealthLive.Concurrency} in flight, this program's HttpClient (HTTP stack alone, no Redis) | {h.HealthLive.OperationsPerSecond:N0} req/s | {Ratio(h.HealthLive.OperationsPerSecond)} | {Lat(h.HealthLive.Latency)} |");
            md.AppendLine($"| PUT, {h.ClientPuts.Concurrency} in flight, this program's HttpClient instead of wrk (load generator: {h.ClientPuts.Cpu?.BenchUsPerOp:0.0} µs CPU per request; wrk's in the PUT detail){Failures(h.ClientPuts)} | {h.ClientPuts.OperationsPerSecond:N0} writes/s | {Ratio(h.ClientPuts.OperationsPerSecond)} | {Lat(h.ClientPuts.Latency)} |");
            md.AppendLine($"| **POST batch of {h.BatchSize}**, {h.Batches.Concurrency} in flight{Failures(h.Batches)} | {h.BatchRecordsPerSecond:N0} records/s | {Ratio(h.BatchRecordsPerSecond)} | {Lat(h.Batches.Latency)} (per batch) |");
        }
        if (r.Resume is { } res)
            md.AppendLine($"| **Resume**: resubscribe after {res.Changes:N0} missed changes, until all held (median of {res.Runs.Count}) | {res.MedianHeldAllMs:N0} ms | {Ratio(res.Changes / Math.Max(1e-9, res.MedianHeldAllMs / 1000))} (as changes/s) | |");
        md.AppendLine();
        md.AppendLine("Issue #6 targets:");
        md.AppendLine();
        Targets(md, r.Issue6Targets);

        md.AppendLine("## Where the CPU went");
        md.AppendLine();
        md.AppendLine("Cores busy in each process during the measured window (\"other\": the rest of the machine — the load generator wrk, the other gateway and its Redis idling, other processes, kernel work not charged to ours, hypervisor steal), and CPU µs each spent per operation (per applied write for PUTs, per delivery for end-to-end; \"bench\" is this program).");
        md.AppendLine();
        md.AppendLine("| workload | ops/s | gateway cores | redis cores | bench cores | other cores | gateway µs/op | redis µs/op | bench µs/op | busiest gateway threads (cores) |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        foreach (var (name, perSecond, cpu) in CpuRows(r))
            md.AppendLine(cpu is null ? $"| {name} | {perSecond:N0} | | | | | | | | |"
                : $"| {name} | {perSecond:N0} | {cpu.GatewayCores:0.00} | {cpu.RedisCores:0.00} | {cpu.BenchCores:0.00} | {cpu.OtherCores:0.00} | {cpu.GatewayUsPerOp:0.0} | {cpu.RedisUsPerOp:0.0} | {cpu.BenchUsPerOp:0.0} | {cpu.TopGatewayThreads()} |");
        md.AppendLine();
        if (r.Ceiling is { } ceil) RedisTimeTable(md, ceil);

        if (r.EndToEnd is { } ee)
        {
            md.AppendLine("## End-to-end detail");
            md.AppendLine();
            md.AppendLine("Latency from sending a PUT to: its HTTP response; its `change` handed to the handler of each subscriber (the official .NET SignalR client, JSON protocol); and per change at its first and at its last subscriber (the difference is the gateway's fan-out of one change).");
            md.AppendLine();
            foreach (var (name, e) in new[] { ("RedisSync", ee.RedisSync), ("baseline", ee.Baseline) })
            {
                if (e is null) continue;
                md.AppendLine($"**{name}**");
                md.AppendLine();
                EndToEndTable(md, e.Points);
                md.AppendLine($"Step search at {e.Search.Subscribers} subscribers, from the grid above: {e.Search.Outcome}.");
                md.AppendLine();
                if (e.Search.Steps.Count > 0) EndToEndTable(md, e.Search.Steps);
            }
        }

        if (r.Resume is { } rs)
        {
            md.AppendLine($"## Resume detail (RedisSync)");
            md.AppendLine();
            md.AppendLine($"{rs.Changes:N0} changes written in batches of 100 in {rs.WriteSeconds:0.00} s before the resubscription.");
            md.AppendLine();
            md.AppendLine("| run | all held | Subscribe returned | received | replayed (per result) | in order | ends at last seq |");
            md.AppendLine("| ---: | ---: | ---: | ---: | ---: | --- | --- |");
            for (var i = 0; i < rs.Runs.Count; i++)
            {
                var x = rs.Runs[i];
                md.AppendLine($"| {i + 1} | {x.HeldAllMs:N1} ms | {x.SubscribeReturnedMs:N1} ms | {x.Received:N0} | {x.Replayed:N0} | {Yes(x.InOrder)} | {Yes(x.EndsAtLastSeq)} |");
            }
            md.AppendLine();
        }

        if (r.Memory is { } mm)
        {
            md.AppendLine("## Memory detail");
            md.AppendLine();
            md.AppendLine("RSS (`VmRSS` of /proc/PID/status) of the gateway process, idle after a warm-up and then with idle subscribed WebSocket connections (official client, each subscribed to one collection), each reading taken once two reads 1 s apart differ by < 1%. Per connection = (RSS with all − RSS idle) / connections; marginal = over the second half only.");
            md.AppendLine();
            md.AppendLine("| gateway | connections | RSS | gateway threads | reads until settled | connecting took | lost |");
            md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (var (name, mem) in new[] { ("RedisSync", mm.RedisSync), ("baseline", mm.Baseline) })
            {
                if (mem is null) continue;
                foreach (var p in new[] { mem.Idle }.Concat(mem.Loaded))
                    md.AppendLine($"| {name} | {p.Connections:N0} | {Mib(p.RssKiB)} | {p.Threads} | {p.Reads}{(p.Settled ? "" : " (not settled)")} | {(p.Connections == 0 ? "" : $"{mem.ConnectSeconds:0.00} s (all)")} | {(p.Connections == 0 ? "" : mem.ConnectionsLost.ToString(CultureInfo.InvariantCulture))} |");
            }
            md.AppendLine();
            md.AppendLine("RSS at the end of the run: " + string.Join(", ", r.RssAtEndKiB.Select(kv => $"{kv.Key} {(kv.Value is { } v ? Mib(v) : "–")}")) + ".");
            md.AppendLine();
        }

        ClusterBench.Markdown(md, r.Cluster);
        if (r.Sites is { } sites) SitesReport.Append(md, sites);

        if (r.Errors.Count > 0)
        {
            md.AppendLine("## Phases that failed");
            md.AppendLine();
            foreach (var error in r.Errors) md.AppendLine($"- {error}");
            md.AppendLine();
        }
        return md.ToString();
    }

    /// <summary>The side-by-side table: each measure on both gateways and their ratio.</summary>
    private static void Comparison(StringBuilder md, BenchResults r)
    {
        md.AppendLine("## RedisSync next to the baseline");
        md.AppendLine();
        md.AppendLine("Ratio = RedisSync / baseline. \"Better\" says which direction favours RedisSync: for a rate, a ratio above 1; for a latency, a CPU cost or memory, below 1.");
        md.AppendLine();
        md.AppendLine("| measure | RedisSync | baseline | ratio | better |");
        md.AppendLine("| --- | ---: | ---: | ---: | --- |");
        void Row(string name, double? a, double? b, string format, bool higherIsBetter, string? note = null)
        {
            var ratio = a is { } x && b is { } y && y != 0 ? (x / y).ToString("0.00", CultureInfo.InvariantCulture) : "–";
            md.AppendLine($"| {name}{note} | {Fmt(a, format)} | {Fmt(b, format)} | {ratio} | {(higherIsBetter ? "higher" : "lower")} |");
        }
        static string Applied(PutRun? p) => p is null || p.AllApplied ? "" : " **(not every PUT applied)**";

        foreach (var pair in r.Puts)
        {
            var (a, b) = (pair.RedisSync, pair.Baseline);
            var connections = a?.Connections ?? b?.Connections ?? 0;
            Row($"PUT c={connections}, writes/s", a?.WritesPerSecond, b?.WritesPerSecond, "N0", true, Applied(a) + Applied(b));
            Row($"PUT c={connections}, p50 ms", a?.Latency.P50Ms, b?.Latency.P50Ms, "0.00", false);
            Row($"PUT c={connections}, p99 ms", a?.Latency.P99Ms, b?.Latency.P99Ms, "0.00", false);
        }
        if (r.Put(GatewayKind.RedisSync, 64) is var rs64 && r.Put(GatewayKind.Baseline, 64) is var bl64 && (rs64 ?? bl64) is not null)
        {
            Row("PUT c=64, CPU µs per write: gateway", rs64?.Cpu?.GatewayUsPerOp, bl64?.Cpu?.GatewayUsPerOp, "0.0", false);
            Row("PUT c=64, CPU µs per write: redis-server", rs64?.Cpu?.RedisUsPerOp, bl64?.Cpu?.RedisUsPerOp, "0.0", false);
        }
        foreach (var connections in new[] { 1, 64 })
        {
            var (a, b) = (r.Put(GatewayKind.RedisSync, connections), r.Put(GatewayKind.Baseline, connections));
            if (a is null && b is null) continue;
            Row($"Redis CPU µs per applied write, c={connections}: redis-server CPU time", a?.Cpu?.RedisUsPerOp, b?.Cpu?.RedisUsPerOp, "0.0", false);
            Row($"Redis CPU µs per applied write, c={connections}: INFO commandstats", a?.RedisTime?.UsPerWrite, b?.RedisTime?.UsPerWrite, "0.0", false);
        }
        if (r.Hot is { } hot)
        {
            var records = (hot.RedisSync ?? hot.Baseline)!.Records;
            Row($"Hot collection, c=64 into one collection of {records:N0} records, writes/s", hot.RedisSync?.WritesPerSecond, hot.Baseline?.WritesPerSecond, "N0", true, Applied(hot.RedisSync) + Applied(hot.Baseline));
            Row("Hot collection, redis-server CPU µs per applied write", hot.RedisSync?.Cpu?.RedisUsPerOp, hot.Baseline?.Cpu?.RedisUsPerOp, "0.0", false);
        }
        if (r.Memory is { } mem)
        {
            var connections = (mem.RedisSync ?? mem.Baseline)!.Loaded[^1].Connections;
            Row($"Memory per idle subscribed connection ({connections:N0} connections), KiB RSS", mem.RedisSync?.KiBPerConnection, mem.Baseline?.KiBPerConnection, "N1", false);
        }
        foreach (var (rate, subscribers) in new[] { (1000, 10), (500, 100) })
        {
            var (a, b) = (r.EndToEndAt(GatewayKind.RedisSync, rate, subscribers), r.EndToEndAt(GatewayKind.Baseline, rate, subscribers));
            if (a is null && b is null) continue;
            var note = (a is { Sustained: false } ? " (RedisSync not sustained)" : "") + (b is { Sustained: false } ? " (baseline not sustained)" : "");
            Row($"End to end, {rate:N0} writes/s × {subscribers} subscribers, p50 ms", a?.Delivery.P50Ms, b?.Delivery.P50Ms, "0.00", false, note);
            Row($"End to end, {rate:N0} writes/s × {subscribers} subscribers, p99 ms", a?.Delivery.P99Ms, b?.Delivery.P99Ms, "0.00", false, note);
        }
        if (r.EndToEnd is { } e)
            Row($"Largest delivery rate with p99 ≤ {EndToEndBench.P99BoundMs} ms, deliveries/s", e.RedisSync?.Search.Best?.DeliveriesPerSecond ?? (e.RedisSync is null ? null : 0),
                e.Baseline?.Search.Best?.DeliveriesPerSecond ?? (e.Baseline is null ? null : 0), "N0", true);
        md.AppendLine();
        if (r.Ceiling is { } c)
        {
            md.AppendLine($"Raw Redis ceiling (RedisSync's RecordStore straight from this process, commit.lua by EVALSHA, best depth): **{c.WritesPerSecond:N0} writes/s** (see \"RedisSync only\").");
            md.AppendLine();
        }
    }

    private static void PutDetail(StringBuilder md, BenchResults r)
    {
        var runs = r.Puts.Append(r.Hot ?? new Pair<PutRun>(null, null)).SelectMany(p => new[] { p.RedisSync, p.Baseline }).OfType<PutRun>().ToList();
        if (runs.Count == 0) return;
        md.AppendLine("## PUT detail");
        md.AppendLine();
        md.AppendLine("wrk with Load/put.lua: each connection's PUT replaces one of its own seeded 5-field records, changing 1 or 2 fields, at a rising version. " +
                      "Latency is wrk's (request sent → response read). Applied = writes counted afterwards from the records' versions (and RedisSync's revisions, which must agree); it may exceed the answered requests by those wrk abandoned in flight at the end. " +
                      "Redis command time is INFO commandstats over the measured window, a script or MULTI/EXEC counted once with what ran inside it.");
        md.AppendLine();
        md.AppendLine("| gateway | run | records | writes/s | p50 / p95 / p99 / max ms | answered | applied | every PUT applied | gateway µs/write | redis µs/write (CPU) | redis µs/write (commands) | wrk µs/write |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |");
        foreach (var p in runs)
            md.AppendLine($"| {p.Gateway} | {p.Name} | {p.Records:N0} | {p.WritesPerSecond:N0} | {p.Latency.P50Ms:0.00} / {p.Latency.P95Ms:0.00} / {p.Latency.P99Ms:0.00} / {p.Latency.MaxMs:0.0} | " +
                          $"{p.Requests:N0} | {p.Applied:N0} | {(p.AllApplied ? "yes" : $"**no**: {p.StatusErrors} refused, {p.SocketErrors} socket errors, {p.Mismatches} records off ({p.FirstMismatch})")} | " +
                          $"{p.Cpu?.GatewayUsPerOp:0.0} | {p.Cpu?.RedisUsPerOp:0.0} | {p.RedisTime?.UsPerWrite:0.0} | {p.LoadGeneratorUsPerWrite:0.0} |");
        md.AppendLine();
        md.AppendLine("Redis commands per applied write (calls × and µs; \"in script\": run inside a script or transaction, so already inside its time):");
        md.AppendLine();
        foreach (var p in runs.Where(p => p.RedisTime is not null))
            md.AppendLine($"- {p.Gateway}, {p.Name}: " + string.Join(", ", p.RedisTime!.Commands.Take(8).Select(x =>
                $"{x.Command.ToUpperInvariant()} ×{x.CallsPerWrite:0.##} {x.UsPerWrite:0.0} µs{(x.InsideScripts ? " (in script)" : "")}")));
        md.AppendLine();
    }

    private static void Targets(StringBuilder md, IReadOnlyList<TargetCheck> targets)
    {
        md.AppendLine("| target | goal | measured | |");
        md.AppendLine("| --- | --- | --- | --- |");
        foreach (var t in targets)
            md.AppendLine($"| {t.Name} | {t.Goal} | {t.Measured} | {(t.Met switch { true => "met", false => "**not met**", null => "not measured" })} |");
        md.AppendLine();
    }

    private static string Fmt(double? value, string format) => value is { } v && double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "–";

    private static IEnumerable<(string, double, CpuUse?)> CpuRows(BenchResults r)
    {
        foreach (var (name, mem) in new[] { ("RedisSync", r.Memory?.RedisSync), ("baseline", r.Memory?.Baseline) })
            if (mem?.IdleCpu is { } idle) yield return ($"{name}: idle (memory phase, before any load)", 0, idle);
        foreach (var p in r.Puts.Append(r.Hot ?? new Pair<PutRun>(null, null)).SelectMany(p => new[] { p.RedisSync, p.Baseline }).OfType<PutRun>())
            yield return ($"{p.Gateway}: {p.Name} (per applied write)", p.WritesPerSecond, p.Cpu);
        if (r.Ceiling is { } c)
        {
            foreach (var run in c.Single) yield return (run.Load.Name, run.Load.OperationsPerSecond, run.Load.Cpu);
            yield return (c.Batched.Load.Name + " (per call)", c.Batched.Load.OperationsPerSecond, c.Batched.Load.Cpu);
        }
        if (r.Http is { } h)
        {
            yield return ("RedisSync: " + h.HealthLive.Name, h.HealthLive.OperationsPerSecond, h.HealthLive.Cpu);
            yield return ("RedisSync: " + h.ClientPuts.Name, h.ClientPuts.OperationsPerSecond, h.ClientPuts.Cpu);
            yield return ("RedisSync: " + h.Batches.Name + " (per batch)", h.Batches.OperationsPerSecond, h.Batches.Cpu);
        }
        foreach (var (name, e) in new[] { ("RedisSync", r.EndToEnd?.RedisSync), ("baseline", r.EndToEnd?.Baseline) })
            if (e is not null)
                foreach (var p in e.Points.Concat(e.Search.Steps))
                    yield return ($"{name}: PUT → change, {p.TargetWritesPerSecond:N0} writes/s × {p.Subscribers} (per delivery)", p.DeliveriesPerSecond, p.Cpu);
    }

    private static void RedisTimeTable(StringBuilder md, CeilingResult c)
    {
        md.AppendLine("## Where Redis spends a store call");
        md.AppendLine();
        md.AppendLine("From Redis's INFO commandstats over each ceiling run: µs of Redis's single thread per store call (the read when one was needed, and the commit.lua run); a command the script runs is counted under its own name, and what remains of the script's time is the Lua code itself.");
        md.AppendLine();
        foreach (var run in new[] { c.Best, c.Batched })
        {
            if (run.RedisTime is not { } t) continue;
            md.AppendLine($"{run.Load.Name}: **{t.UsPerScriptCall:0.0} µs per call** ({t.UsPerScriptCall / run.RecordsPerCall:0.0} µs per record), of which Lua itself {t.LuaUsPerScriptCall:0.0} µs; " +
                          "commands per call: " + string.Join(", ", t.Commands.Select(x => $"{x.Command.ToUpperInvariant()} ×{x.CallsPerScriptCall:0.##} {x.UsPerScriptCall:0.0} µs")) + ".");
            md.AppendLine();
        }
    }

    private static void EndToEndTable(StringBuilder md, IReadOnlyList<EndToEndPoint> points)
    {
        md.AppendLine("| target writes/s | subscribers | achieved writes/s | deliveries/s | delivered / expected | PUT response p50 / p99 | first subscriber p50 / p99 | last subscriber p50 / p99 | delivery p50 / p95 / p99 / max | dropped | sustained |");
        md.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        foreach (var p in points)
            md.AppendLine($"| {p.TargetWritesPerSecond:N0} | {p.Subscribers} | {p.WritesPerSecond:N0} | {p.DeliveriesPerSecond:N0} | {p.Deliveries:N0} / {p.ExpectedDeliveries:N0} | " +
                          $"{P50P99(p.PutResponse)} | {P50P99(p.FirstSubscriber)} | {P50P99(p.LastSubscriber)} | " +
                          $"{p.Delivery.P50Ms:0.00} / {p.Delivery.P95Ms:0.00} / {p.Delivery.P99Ms:0.00} / {p.Delivery.MaxMs:0.0} | {p.SubscribersDropped} | {Yes(p.Sustained)} |");
        md.AppendLine();
    }

    private static string P50P99(LatencySummary l) => $"{l.P50Ms:0.00} / {l.P99Ms:0.00}";
    private static string Lat(LatencySummary l) => l.Count == 0 ? "" : $"{l.P50Ms:0.00} / {l.P95Ms:0.00} / {l.P99Ms:0.00}";
    private static string Num(double? v) => v is { } x ? x.ToString("N0", CultureInfo.InvariantCulture) : "–";
    private static string Mib(long kib) => (kib / 1024.0).ToString("N1", CultureInfo.InvariantCulture) + " MiB";
    private static string Yes(bool b) => b ? "yes" : "**no**";

    private static string Failures(LoadResult l) =>
        l.Failures.Count == 0 ? "" : " (failures: " + string.Join(", ", l.Failures.Select(f => $"{f.Key} ×{f.Value}")) + ")";
}
