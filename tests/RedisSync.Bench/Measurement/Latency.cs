using System.Diagnostics;

namespace RedisSync.Bench.Measurement;

/// <summary>Percentiles of a set of durations, in milliseconds.</summary>
public sealed record LatencySummary(long Count, double P50Ms, double P95Ms, double P99Ms, double MaxMs, double MeanMs)
{
    public static readonly LatencySummary Empty = new(0, 0, 0, 0, 0, 0);

    /// <summary>Summarizes Stopwatch-tick durations (sorts the list in place).</summary>
    public static LatencySummary FromTicks(List<long> ticks)
    {
        if (ticks.Count == 0) return Empty;
        ticks.Sort();
        double Ms(long t) => Math.Round(t * 1000.0 / Stopwatch.Frequency, 3);
        // Nearest-rank percentile: the smallest sample with at least q of all samples at or below it.
        long At(double q) => ticks[Math.Clamp((int)Math.Ceiling(q * ticks.Count) - 1, 0, ticks.Count - 1)];
        double sum = 0;
        foreach (var t in ticks) sum += t;
        return new LatencySummary(ticks.Count, Ms(At(0.50)), Ms(At(0.95)), Ms(At(0.99)), Ms(ticks[^1]),
            Math.Round(sum / ticks.Count * 1000.0 / Stopwatch.Frequency, 3));
    }

    public static LatencySummary Merge(IEnumerable<List<long>> parts)
    {
        var all = new List<long>();
        foreach (var part in parts) all.AddRange(part);
        return FromTicks(all);
    }

    public override string ToString() => Count == 0 ? "no samples" : $"p50 {P50Ms:0.00} / p95 {P95Ms:0.00} / p99 {P99Ms:0.00} ms";
}

/// <summary>Stopwatch ticks, the one monotonic clock every timestamp in this program comes from.</summary>
public static class Clock
{
    public static long Now => Stopwatch.GetTimestamp();
    public static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);
    public static double Seconds(long ticks) => ticks / (double)Stopwatch.Frequency;
    public static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}
