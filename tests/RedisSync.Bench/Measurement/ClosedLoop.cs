namespace RedisSync.Bench.Measurement;

/// <summary>One operation of a closed loop: returns null on success, or a short label of what went wrong.</summary>
public delegate Task<string?> Operation(int worker, long iteration);

/// <summary>Throughput and latency of a closed loop at a fixed concurrency.</summary>
public sealed record LoadResult(
    string Name,
    int Concurrency,
    long Operations,
    double Seconds,
    double OperationsPerSecond,
    LatencySummary Latency,
    IReadOnlyDictionary<string, long> Failures,
    CpuUse? Cpu);

/// <summary>
/// N workers that each run an operation back to back (the next starts when the previous answers), first
/// for a warm-up that is not recorded (JIT, connection pools, Redis's script cache), then for the measured
/// window. Only operations that both start and finish inside the window count.
/// </summary>
public static class ClosedLoop
{
    /// <summary>Per worker; a guard on count besides the one on time.</summary>
    private const long MaxIterationsPerWorker = 5_000_000;

    public static async Task<LoadResult> RunAsync(string name, int concurrency, TimeSpan warmup, TimeSpan measure,
        Operation operation, CpuProbe? cpu, CancellationToken ct)
    {
        var start = Clock.Now;
        var windowStart = start + Clock.Ticks(warmup);
        var windowEnd = windowStart + Clock.Ticks(measure);
        var latencies = new List<long>[concurrency];
        var failures = new Dictionary<string, long>[concurrency];
        CpuProbe.Snapshot? cpuStart = null;

        async Task Worker(int w)
        {
            var mine = latencies[w] = new List<long>(4096);
            var failed = failures[w] = [];
            for (long i = 0; i < MaxIterationsPerWorker && !ct.IsCancellationRequested; i++)
            {
                var t0 = Clock.Now;
                if (t0 >= windowEnd) break;
                string? failure;
                try { failure = await operation(w, i); }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    failure = e.GetType().Name;
                }
                var t1 = Clock.Now;
                if (t0 < windowStart || t1 > windowEnd) continue;
                if (failure is null) mine.Add(t1 - t0);
                else failed[failure] = failed.GetValueOrDefault(failure) + 1;
            }
        }

        var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(() => Worker(w), ct)).ToArray();
        if (cpu is not null)
        {
            await Task.Delay(warmup, ct);
            cpuStart = cpu.Take();
        }
        await Task.WhenAll(workers);
        var cpuEnd = cpu?.Take();

        var seconds = Clock.Seconds(windowEnd - windowStart);
        var ok = latencies.Sum(l => (long)l.Count);
        var allFailures = failures.SelectMany(f => f).GroupBy(f => f.Key).ToDictionary(g => g.Key, g => g.Sum(f => f.Value));
        return new LoadResult(name, concurrency, ok, Math.Round(seconds, 3), Math.Round(ok / seconds, 1),
            LatencySummary.Merge(latencies), allFailures,
            cpuStart is { } a && cpuEnd is { } b ? CpuProbe.Between(a, b, ok) : null);
    }
}
