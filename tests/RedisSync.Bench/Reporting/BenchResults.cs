using RedisSync.Bench.Infrastructure;
using RedisSync.Bench.Workloads;

namespace RedisSync.Bench.Reporting;

/// <summary>Everything one run measured; results.json is this object.</summary>
public sealed class BenchResults
{
    public required string Command { get; init; }
    public required bool Quick { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public double DurationSeconds { get; set; }
    public required MachineInfo Machine { get; init; }
    public string? LoadAverageAtEnd { get; set; }
    public required string GatewayAssembly { get; init; }
    public required string BaselineAssembly { get; init; }
    public required IReadOnlyDictionary<string, string> GatewaySettingsChanged { get; init; }

    // Measured on both gateways.
    public Pair<MemoryResult>? Memory { get; set; }
    public List<Pair<PutRun>> Puts { get; } = [];
    public Pair<PutRun>? Hot { get; set; }
    public Pair<EndToEndResult>? EndToEnd { get; set; }

    // RedisSync only: the baseline has no merge script, batch endpoint or change log.
    public RedisBenchmarkResult? RedisBenchmark { get; set; }
    public CeilingResult? Ceiling { get; set; }
    public HttpWriteResult? Http { get; set; }
    public ResumeResult? Resume { get; set; }
    public ClusterResult? Cluster { get; set; }

    // Two RedisSync sites replicating (their own processes): lag and repair cost.
    public SitesResult? Sites { get; set; }

    public Dictionary<string, long?> RssAtEndKiB { get; set; } = [];

    /// <summary>Phases that failed, with why; the others are still reported.</summary>
    public List<string> Errors { get; } = [];

    public PutRun? Put(GatewayKind kind, int connections) =>
        Puts.Select(p => p.Of(kind)).FirstOrDefault(p => p?.Connections == connections);

    public EndToEndPoint? EndToEndAt(GatewayKind kind, int rate, int subscribers) =>
        EndToEnd?.Of(kind)?.Points.FirstOrDefault(p => p.TargetWritesPerSecond == rate && p.Subscribers == subscribers);

    public IReadOnlyList<TargetCheck> Issue11Targets => TargetCheck.Issue11(this);
    public IReadOnlyList<TargetCheck> Issue6Targets => TargetCheck.Issue6(this);
}

/// <summary>One target next to what was measured. Met is null when it was not measured.</summary>
public sealed record TargetCheck(string Name, string Goal, string Measured, bool? Met)
{
    /// <summary>Issue 11: ahead of the textbook gateway, measured against it in the same run.</summary>
    public static IReadOnlyList<TargetCheck> Issue11(BenchResults r)
    {
        var list = new List<TargetCheck>();
        const GatewayKind rs = GatewayKind.RedisSync, bl = GatewayKind.Baseline;

        var rs1 = r.Put(rs, 1);
        var rs64 = r.Put(rs, 64);
        list.Add(rs64?.Cpu is { } cpu64
            ? new("Redis CPU per applied single-record write (5-field record, 1–2 fields changed)", "≤ 15 µs",
                $"redis-server CPU {cpu64.RedisUsPerOp:0.0} µs at c=64{(rs1?.Cpu is { } cpu1 ? $", {cpu1.RedisUsPerOp:0.0} at c=1" : "")}; " +
                $"commandstats {rs64.RedisTime?.UsPerWrite:0.0} µs at c=64{(rs1?.RedisTime is { } t1 ? $", {t1.UsPerWrite:0.0} at c=1" : "")}",
                cpu64.RedisUsPerOp <= 15)
            : new("Redis CPU per applied single-record write", "≤ 15 µs", "not measured", null));

        foreach (var (connections, factor) in new[] { (64, 1.2), (16, 1.0) })
            list.Add(Ratio($"PUT throughput, c={connections}", $"≥ {factor:0.0}× baseline", r.Put(rs, connections), r.Put(bl, connections),
                p => p.WritesPerSecond, ratio => ratio >= factor, "writes/s"));
        list.Add(Ratio("PUT latency p50, c=1", "≤ baseline", r.Put(rs, 1), r.Put(bl, 1), p => p.Latency.P50Ms, ratio => ratio <= 1, "ms"));
        list.Add(Ratio("Gateway CPU per write, c=64", "≤ baseline", r.Put(rs, 64), r.Put(bl, 64),
            p => p.Cpu?.GatewayUsPerOp ?? double.NaN, ratio => ratio <= 1, "µs"));

        list.Add(r.Memory?.RedisSync is { } m
            ? new($"Memory per idle subscribed connection ({m.Loaded[^1].Connections:N0} connections)", "≤ 10 KiB",
                $"{m.KiBPerConnection:N1} KiB (baseline {r.Memory.Baseline?.KiBPerConnection.ToString("N1") ?? "–"})", m.KiBPerConnection <= 10 && m.ConnectionsLost == 0)
            : new("Memory per idle subscribed connection", "≤ 10 KiB", "not measured", null));

        foreach (var (rate, subscribers) in new[] { (1000, 10), (500, 100) })
        {
            var a = r.EndToEndAt(rs, rate, subscribers);
            var b = r.EndToEndAt(bl, rate, subscribers);
            list.Add(a is null || b is null
                ? new($"End-to-end p99, {rate:N0} writes/s × {subscribers}", "≤ baseline", "not measured", null)
                : new($"End-to-end p99, {rate:N0} writes/s × {subscribers}", "≤ baseline",
                    $"{a.Delivery.P99Ms:0.00} ms vs {b.Delivery.P99Ms:0.00} ms{(a.Sustained ? "" : " (RedisSync not sustained)")}",
                    a.Sustained && a.Delivery.P99Ms <= b.Delivery.P99Ms));
        }

        var best = r.EndToEnd?.RedisSync?.Search.Best;
        list.Add(r.EndToEnd?.RedisSync is null
            ? new("Largest delivery rate with p99 ≤ 50 ms", "≥ 500,000 deliveries/s", "not measured", null)
            : new("Largest delivery rate with p99 ≤ 50 ms", "≥ 500,000 deliveries/s",
                $"{best?.DeliveriesPerSecond ?? 0:N0}/s (baseline {r.EndToEnd.Baseline?.Search.Best?.DeliveriesPerSecond ?? 0:N0}/s)",
                best is not null && best.DeliveriesPerSecond >= 500_000));

        list.Add(r.Hot?.RedisSync is { } hot
            ? new("A hot collection: most writes/s one collection takes", "measured", $"{hot.WritesPerSecond:N0} writes/s ({hot.Records:N0} records, c={hot.Connections})", true)
            : new("A hot collection", "measured", "not measured", null));
        return list;
    }

    private static TargetCheck Ratio(string name, string goal, PutRun? redisSync, PutRun? baseline, Func<PutRun, double> value, Func<double, bool> met, string unit)
    {
        if (redisSync is null || baseline is null) return new(name, goal, "not measured", null);
        var a = value(redisSync);
        var b = value(baseline);
        var ratio = a / b;
        return new(name, goal, $"{ratio:0.00}× ({a:N1} vs {b:N1} {unit})", double.IsFinite(ratio) && met(ratio) && redisSync.AllApplied);
    }

    /// <summary>Issue #6: RedisSync against the raw Redis ceiling and absolute bounds.</summary>
    public static IReadOnlyList<TargetCheck> Issue6(BenchResults r)
    {
        var ceiling = r.Ceiling?.WritesPerSecond;
        var list = new List<TargetCheck>();

        if (ceiling is { } c && r.Http is { } http)
        {
            var batch = http.BatchRecordsPerSecond / c;
            list.Add(new("Batch ingest (POST of 100)", "≥ 60% of ceiling", $"{batch:P0} ({http.BatchRecordsPerSecond:N0} records/s)", batch >= 0.60));
        }
        else list.Add(new("Batch ingest", "≥ 60% of ceiling", "not measured", null));
        if (ceiling is { } c2 && r.Put(GatewayKind.RedisSync, 64) is { } put)
        {
            var ratio = put.WritesPerSecond / c2;
            list.Add(new("Single PUT, concurrency 64", "≥ 25% of ceiling", $"{ratio:P0} ({put.WritesPerSecond:N0} writes/s)", ratio >= 0.25 && put.AllApplied));
        }
        else list.Add(new("Single PUT, concurrency 64", "≥ 25% of ceiling", "not measured", null));

        var e2e = r.EndToEndAt(GatewayKind.RedisSync, 1000, 10);
        list.Add(e2e is null
            ? new("End-to-end at 10,000 deliveries/s (1,000 writes/s × 10)", "p50 ≤ 2 ms, p99 ≤ 15 ms", "not measured", null)
            : new("End-to-end at 10,000 deliveries/s (1,000 writes/s × 10)", "p50 ≤ 2 ms, p99 ≤ 15 ms",
                $"p50 {e2e.Delivery.P50Ms:0.00} ms, p99 {e2e.Delivery.P99Ms:0.00} ms at {e2e.DeliveriesPerSecond:N0}/s{(e2e.Sustained ? "" : " (not sustained)")}",
                e2e.Sustained && e2e.Delivery.P50Ms <= 2 && e2e.Delivery.P99Ms <= 15));

        if (r.Resume is { Runs.Count: > 0 } resume)
        {
            var correct = resume.Runs.All(x => x.Received == resume.Changes && x.InOrder && x.EndsAtLastSeq);
            list.Add(new($"Resume after {resume.Changes:N0} missed changes", "≤ 1 s",
                $"{resume.MedianHeldAllMs:N0} ms (median of {resume.Runs.Count}){(correct ? "" : ", INCOMPLETE or out of order")}",
                correct && resume.MedianHeldAllMs <= 1000));
        }
        else list.Add(new("Resume after 10,000 missed changes", "≤ 1 s", "not measured", null));

        list.Add(r.Memory?.RedisSync is { } m
            ? new($"Memory per idle subscriber ({m.Loaded[^1].Connections:N0} connections)", "≤ 50 KiB",
                $"{m.KiBPerConnection:N1} KiB (marginal {m.MarginalKiBPerConnection:N1} KiB)", m.KiBPerConnection <= 50 && m.ConnectionsLost == 0)
            : new("Memory per idle subscriber", "≤ 50 KiB", "not measured", null));
        return list;
    }
}
