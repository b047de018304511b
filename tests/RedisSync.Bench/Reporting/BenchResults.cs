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
    public required IReadOnlyDictionary<string, string> GatewaySettingsChanged { get; init; }

    public MemoryResult? Memory { get; set; }
    public RedisBenchmarkResult? RedisBenchmark { get; set; }
    public CeilingResult? Ceiling { get; set; }
    public HttpWriteResult? Http { get; set; }
    public EndToEndResult? EndToEnd { get; set; }
    public ResumeResult? Resume { get; set; }
    public long? GatewayRssAtEndKiB { get; set; }
    public long? RedisRssAtEndKiB { get; set; }

    /// <summary>Phases that failed, with why; the others are still reported.</summary>
    public List<string> Errors { get; } = [];

    public IReadOnlyList<TargetCheck> Targets => TargetCheck.Evaluate(this);
}

/// <summary>One target of issue #6 next to what was measured. Met is null when the phase did not run.</summary>
public sealed record TargetCheck(string Name, string Goal, string Measured, bool? Met)
{
    public static IReadOnlyList<TargetCheck> Evaluate(BenchResults r)
    {
        var ceiling = r.Ceiling?.WritesPerSecond;
        var list = new List<TargetCheck>();

        if (ceiling is { } c && r.Http is { } http)
        {
            var batch = http.BatchRecordsPerSecond / c;
            list.Add(new("Batch ingest (POST of 100)", "≥ 60% of ceiling", $"{batch:P0} ({http.BatchRecordsPerSecond:N0} records/s)", batch >= 0.60));
            var put = http.Puts.FirstOrDefault(p => p.Concurrency == 64);
            if (put is not null)
            {
                var ratio = put.OperationsPerSecond / c;
                list.Add(new("Single PUT, concurrency 64", "≥ 25% of ceiling", $"{ratio:P0} ({put.OperationsPerSecond:N0} writes/s)", ratio >= 0.25 && put.Failures.Count == 0));
            }
        }
        else list.Add(new("Batch ingest / single PUT", "ratios to the ceiling", "not measured", null));

        // 10,000 deliveries/s is reached two ways in the grid: high fan-out (100 writes/s × 100 subscribers)
        // and a high write rate (1,000 writes/s × 10 subscribers); each is checked.
        var at10k = r.EndToEnd?.Points.Where(p => p.TargetWritesPerSecond * p.Subscribers == 10_000).OrderByDescending(p => p.Subscribers).ToList() ?? [];
        if (at10k.Count == 0) list.Add(new("End-to-end at 10,000 deliveries/s", "p50 ≤ 2 ms, p99 ≤ 15 ms", "not measured", null));
        foreach (var e2e in at10k)
            list.Add(new($"End-to-end at 10,000 deliveries/s ({e2e.TargetWritesPerSecond:N0} writes/s × {e2e.Subscribers} subscribers)",
                "p50 ≤ 2 ms, p99 ≤ 15 ms",
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

        list.Add(r.Memory is { } m
            ? new($"Memory per idle subscriber ({m.Loaded[^1].Connections:N0} connections)", "≤ 50 KiB",
                $"{m.KiBPerConnection:N1} KiB (marginal {m.MarginalKiBPerConnection:N1} KiB)", m.KiBPerConnection <= 50 && m.ConnectionsLost == 0)
            : new("Memory per idle subscriber", "≤ 50 KiB", "not measured", null));
        return list;
    }
}
