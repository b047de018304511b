using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
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
                      $"Redis {m.Redis ?? "?"}. Gateway, Redis and load generator share these cores. " +
                      $"Load average at start {m.LoadAverageAtStart}, at end {r.LoadAverageAtEnd} (above {m.Cores}: other work competed for the CPU).");
        md.AppendLine();
        md.AppendLine($"Gateway: `{r.GatewayAssembly}`, Production environment, defaults except " +
                      string.Join(", ", r.GatewaySettingsChanged.Select(kv => $"`{kv.Key}={kv.Value}`")) + ".");
        md.AppendLine();

        var ceiling = r.Ceiling?.WritesPerSecond;
        string Ratio(double perSecond) => ceiling is > 0 ? (perSecond / ceiling.Value).ToString("0.00", CultureInfo.InvariantCulture) : "–";

        md.AppendLine("## Results");
        md.AppendLine();
        md.AppendLine("| # | measure | value | × ceiling | p50 / p95 / p99 ms |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: |");
        if (r.Ceiling is { } c)
        {
            foreach (var run in c.Single)
            {
                var isCeiling = run == c.Best;
                md.AppendLine($"| 1 | {(isCeiling ? "**Ceiling**: " : "")}merge.lua by EVALSHA from this process, 1 record per call, {run.Load.Concurrency} in flight" +
                              $"{(isCeiling ? " (best depth)" : "")} | {run.Load.OperationsPerSecond:N0} writes/s | {Ratio(run.Load.OperationsPerSecond)} | {Lat(run.Load.Latency)} |");
            }
            md.AppendLine($"| 1 | merge.lua, {c.Batched.RecordsPerCall} records per call, {c.Batched.Load.Concurrency} in flight | {c.Batched.RecordsPerSecond:N0} records/s | {Ratio(c.Batched.RecordsPerSecond)} | {Lat(c.Batched.Load.Latency)} (per call) |");
        }
        if (r.RedisBenchmark is { } rb)
        {
            md.AppendLine($"| 1 | redis-benchmark SET, 50 clients (context) | {Num(rb.SetPerSecond)} ops/s | {(rb.SetPerSecond is { } s1 ? Ratio(s1) : "–")} | |");
            md.AppendLine($"| 1 | redis-benchmark SET, 50 clients, pipeline 16 (context) | {Num(rb.SetPipelinedPerSecond)} ops/s | {(rb.SetPipelinedPerSecond is { } s2 ? Ratio(s2) : "–")} | |");
        }
        if (r.Http is { } h)
        {
            md.AppendLine($"| 2 | GET /health/live, {h.HealthLive.Concurrency} in flight (HTTP stack alone, no Redis) | {h.HealthLive.OperationsPerSecond:N0} req/s | {Ratio(h.HealthLive.OperationsPerSecond)} | {Lat(h.HealthLive.Latency)} |");
            foreach (var p in h.Puts)
                md.AppendLine($"| 2 | **PUT one record**, concurrency {p.Concurrency}{Failures(p)} | {p.OperationsPerSecond:N0} writes/s | {Ratio(p.OperationsPerSecond)} | {Lat(p.Latency)} |");
            md.AppendLine($"| 3 | **POST batch of {h.BatchSize}**, {h.Batches.Concurrency} in flight{Failures(h.Batches)} | {h.BatchRecordsPerSecond:N0} records/s | {Ratio(h.BatchRecordsPerSecond)} | {Lat(h.Batches.Latency)} (per batch) |");
        }
        if (r.EndToEnd is { } e)
        {
            foreach (var p in e.Points)
                md.AppendLine($"| 4 | **PUT → change**, {p.TargetWritesPerSecond:N0} writes/s × {p.Subscribers} subscribers{(p.Sustained ? "" : " (not sustained)")} | {p.DeliveriesPerSecond:N0} deliveries/s | {Ratio(p.DeliveriesPerSecond)} | {Lat(p.Delivery)} |");
            var best = e.Search.Best;
            md.AppendLine($"| 4 | **Highest deliveries/s with p99 ≤ {e.Search.P99BoundMs} ms** (grid and step search{(best is null ? "" : $"; {best.TargetWritesPerSecond:N0} writes/s × {best.Subscribers} subscribers")}) | " +
                          $"{(best is null ? "none" : $"{best.DeliveriesPerSecond:N0} deliveries/s")} | {(best is null ? "–" : Ratio(best.DeliveriesPerSecond))} | {(best is null ? "" : Lat(best.Delivery))} |");
        }
        if (r.Resume is { } res)
            md.AppendLine($"| 5 | **Resume**: resubscribe after {res.Changes:N0} missed changes, until all held (median of {res.Runs.Count}) | {res.MedianHeldAllMs:N0} ms | {Ratio(res.Changes / Math.Max(1e-9, res.MedianHeldAllMs / 1000))} (as changes/s) | |");
        if (r.Memory is { } mem)
        {
            md.AppendLine($"| 6 | **Gateway RSS, idle** (after warm-up) | {Mib(mem.Idle.RssKiB)} | | |");
            foreach (var p in mem.Loaded)
                md.AppendLine($"| 6 | Gateway RSS with {p.Connections:N0} idle subscribers{(p.Settled ? "" : " (not settled)")} | {Mib(p.RssKiB)} | | |");
            md.AppendLine($"| 6 | **Per idle subscriber** (RSS − idle) / {mem.Loaded[^1].Connections:N0}; marginal over the second half | {mem.KiBPerConnection:N1} KiB; marginal {mem.MarginalKiBPerConnection:N1} KiB | | |");
        }
        md.AppendLine();

        md.AppendLine("## Targets");
        md.AppendLine();
        md.AppendLine("| target | goal | measured | |");
        md.AppendLine("| --- | --- | --- | --- |");
        foreach (var t in r.Targets)
            md.AppendLine($"| {t.Name} | {t.Goal} | {t.Measured} | {(t.Met switch { true => "met", false => "**not met**", null => "not measured" })} |");
        md.AppendLine();

        md.AppendLine("## Where the CPU went");
        md.AppendLine();
        md.AppendLine("Cores busy in each process during the measured window (\"other\": the rest of the machine — other processes, kernel work not charged to ours, hypervisor steal; on a shared machine, what the figures competed with), and CPU µs each spent per operation (per delivery for end-to-end).");
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
            md.AppendLine("Latency from sending a PUT to: its HTTP response; its change arriving on a Redis subscription in the benchmark process (what the gateway's feed receives); its `change` arriving at each subscriber; and per change at its first and at its last subscriber (the difference is the gateway's fan-out of one change).");
            md.AppendLine();
            EndToEndTable(md, ee.Points);
            md.AppendLine($"Step search at {ee.Search.Subscribers} subscribers, from the grid above: {ee.Search.Outcome}.");
            md.AppendLine();
            if (ee.Search.Steps.Count > 0) EndToEndTable(md, ee.Search.Steps);
        }

        if (r.Resume is { } rs)
        {
            md.AppendLine($"## Resume detail");
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
            md.AppendLine($"Connecting and subscribing {mm.Loaded[^1].Connections:N0} clients took {mm.ConnectSeconds:0.00} s; {mm.ConnectionsLost} were lost while held. " +
                          $"RSS at the end of the run: gateway {Mib(r.GatewayRssAtEndKiB ?? 0)}, redis-server {Mib(r.RedisRssAtEndKiB ?? 0)}.");
            md.AppendLine();
            md.AppendLine("| connections | RSS | gateway threads | reads until settled |");
            md.AppendLine("| ---: | ---: | ---: | ---: |");
            foreach (var p in new[] { mm.Idle }.Concat(mm.Loaded))
                md.AppendLine($"| {p.Connections:N0} | {Mib(p.RssKiB)} | {p.Threads} | {p.Reads}{(p.Settled ? "" : " (not settled)")} |");
            md.AppendLine();
        }

        if (r.Errors.Count > 0)
        {
            md.AppendLine("## Phases that failed");
            md.AppendLine();
            foreach (var error in r.Errors) md.AppendLine($"- {error}");
            md.AppendLine();
        }
        return md.ToString();
    }

    private static IEnumerable<(string, double, CpuUse?)> CpuRows(BenchResults r)
    {
        if (r.Memory?.IdleCpu is { } idle) yield return ("idle gateway (memory phase, before any load)", 0, idle);
        if (r.Ceiling is { } c)
        {
            foreach (var run in c.Single) yield return (run.Load.Name, run.Load.OperationsPerSecond, run.Load.Cpu);
            yield return (c.Batched.Load.Name + " (per call)", c.Batched.Load.OperationsPerSecond, c.Batched.Load.Cpu);
        }
        if (r.Http is { } h)
        {
            yield return (h.HealthLive.Name, h.HealthLive.OperationsPerSecond, h.HealthLive.Cpu);
            foreach (var p in h.Puts) yield return (p.Name, p.OperationsPerSecond, p.Cpu);
            yield return (h.Batches.Name + " (per batch)", h.Batches.OperationsPerSecond, h.Batches.Cpu);
        }
        if (r.EndToEnd is { } e)
            foreach (var p in e.Points.Concat(e.Search.Steps))
                yield return ($"PUT → change, {p.TargetWritesPerSecond:N0} writes/s × {p.Subscribers} (per delivery)", p.DeliveriesPerSecond, p.Cpu);
    }

    private static void RedisTimeTable(StringBuilder md, CeilingResult c)
    {
        md.AppendLine("## Where Redis spends a merge.lua call");
        md.AppendLine();
        md.AppendLine("From Redis's INFO commandstats over each ceiling run: µs of Redis's single thread per script call; a command the script runs is counted under its own name, and what remains of the script's time is the Lua code itself.");
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
        md.AppendLine("| target writes/s | subscribers | achieved writes/s | deliveries/s | delivered / expected | PUT response p50 / p99 | Redis publish p50 / p99 | first subscriber p50 / p99 | last subscriber p50 / p99 | delivery p50 / p95 / p99 / max | dropped | sustained |");
        md.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        foreach (var p in points)
            md.AppendLine($"| {p.TargetWritesPerSecond:N0} | {p.Subscribers} | {p.WritesPerSecond:N0} | {p.DeliveriesPerSecond:N0} | {p.Deliveries:N0} / {p.ExpectedDeliveries:N0} | " +
                          $"{P50P99(p.PutResponse)} | {P50P99(p.RedisPublish)} | {P50P99(p.FirstSubscriber)} | {P50P99(p.LastSubscriber)} | " +
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
