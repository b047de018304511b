using System.Collections.Concurrent;
using System.Diagnostics;
using StackExchange.Redis;

namespace RedisSync.Tests.Topology;

/// <summary>
/// Starts an operation every <c>interval</c> without waiting for the previous one, so a command stuck behind
/// a dead connection does not hide that new commands already succeed. Records when each started and how it
/// ended: how long writes were unavailable, and which exceptions callers saw meanwhile.
/// </summary>
internal sealed class OutageProbe
{
    private readonly ConcurrentBag<(TimeSpan Started, TimeSpan Ended, string? Error)> _results = [];
    private readonly List<Task> _running = [];
    private readonly Stopwatch _clock;

    private OutageProbe(Stopwatch clock) => _clock = clock;

    /// <summary>
    /// Runs <paramref name="operation"/> (given the attempt number) every <paramref name="interval"/> until
    /// <paramref name="until"/> completes or <paramref name="maxAttempts"/> were started; then waits for all.
    /// </summary>
    public static async Task<OutageProbe> RunAsync(Stopwatch clock, Func<int, Task> operation, Task until, TimeSpan interval, int maxAttempts)
    {
        var probe = new OutageProbe(clock);
        for (var n = 1; n <= maxAttempts && !until.IsCompleted; n++)
        {
            var attempt = n;
            var started = clock.Elapsed;
            probe._running.Add(Task.Run(async () =>
            {
                try
                {
                    await operation(attempt);
                    probe._results.Add((started, clock.Elapsed, null));
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    probe._results.Add((started, clock.Elapsed, $"{e.GetType().Name}: {Shorten(e.Message)}"));
                }
            }));
            await Task.WhenAny(until, Task.Delay(interval));
        }
        await Task.WhenAll(probe._running).WaitAsync(TimeSpan.FromSeconds(60));
        return probe;
    }

    /// <summary>Start time of the first attempt that succeeded after <paramref name="from"/>.</summary>
    public TimeSpan? FirstSuccessStartedAfter(TimeSpan from) =>
        _results.Where(r => r.Error is null && r.Started >= from).Select(r => (TimeSpan?)r.Started).Min();

    /// <summary>End time of the first attempt that succeeded after <paramref name="from"/>.</summary>
    public TimeSpan? FirstSuccessEndedAfter(TimeSpan from) =>
        _results.Where(r => r.Error is null && r.Ended >= from).Select(r => (TimeSpan?)r.Ended).Min();

    public int Succeeded => _results.Count(r => r.Error is null);

    public int Failed => _results.Count(r => r.Error is not null);

    /// <summary>Each distinct error with its count and the span of start times it was seen for.</summary>
    public IEnumerable<string> ErrorSummary() => _results.Where(r => r.Error is not null).GroupBy(r => r.Error!)
        .Select(g => $"{g.Count()} x {g.Key} (started {g.Min(r => r.Started).TotalMilliseconds:0}-{g.Max(r => r.Started).TotalMilliseconds:0} ms, longest {g.Max(r => (r.Ended - r.Started).TotalMilliseconds):0} ms)");

    // Messages carry a long diagnostic tail (queue lengths, versions); its head says what happened.
    private static string Shorten(string message)
    {
        var cut = message.IndexOfAny(['(', ';']);
        var head = cut > 20 ? message[..cut] : message;
        return head.Length > 140 ? head[..140] : head.TrimEnd();
    }
}
