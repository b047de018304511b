using RedisSync.Bench.Clients;
using RedisSync.Bench.Measurement;

namespace RedisSync.Bench.Workloads;

/// <summary>One load point: PUTs at a paced rate, each change received by every subscriber.</summary>
public sealed record EndToEndPoint(
    int TargetWritesPerSecond,
    int Subscribers,
    double Seconds,
    long Writes,
    long WritesFailed,
    double WritesPerSecond,
    long Deliveries,
    long ExpectedDeliveries,
    double DeliveriesPerSecond,
    LatencySummary Delivery,
    LatencySummary FirstSubscriber,
    LatencySummary LastSubscriber,
    LatencySummary PutResponse,
    int SubscribersDropped,
    int Resyncs,
    CpuUse? Cpu)
{
    /// <summary>The pacer kept the rate, nothing was lost or cut off: the latencies describe a steady state.</summary>
    public bool Sustained =>
        WritesFailed == 0 && SubscribersDropped == 0 && Resyncs == 0 && Deliveries >= ExpectedDeliveries
        && WritesPerSecond >= 0.95 * TargetWritesPerSecond;
}

/// <summary>
/// The step search: the highest delivery rate, over the grid and the steps, whose p99 stayed within the
/// bound (and was sustained), and what bracketed it.
/// </summary>
public sealed record StepSearchResult(int Subscribers, double P99BoundMs, IReadOnlyList<EndToEndPoint> Steps, EndToEndPoint? Best, string Outcome);

public sealed record EndToEndResult(IReadOnlyList<EndToEndPoint> Points, StepSearchResult Search);

/// <summary>
/// Latency from a PUT being sent to its <c>change</c> arriving at each subscriber. The send time travels in the
/// record itself (<c>sentTicks</c>, this process's Stopwatch), so latency = arrival − send on one clock.
/// Writes are paced open-loop at the target rate; a point the gateway could not keep up with shows it as an
/// achieved rate below the target, lost deliveries, or dropped subscribers, and is marked not sustained.
/// More timestamps split the path: the HTTP response (the write is in Redis) and, per change, its first and
/// its last subscriber (the spread is the time the gateway takes to fan one change out). Only HTTP and the
/// hub are used, so the same workload runs against either gateway.
/// </summary>
public static class EndToEndBench
{
    /// <summary>The grid: issue 11's two points, and one more at the search's fan-out to bracket it.</summary>
    public static readonly (int Rate, int Subscribers)[] Grid = [(1000, 10), (500, 100), (2000, 100)];
    public const double P99BoundMs = 50;
    public const int SearchSubscribers = 100;

    /// <summary>Writes in flight at once; beyond it the pacer waits (and the achieved rate falls behind).</summary>
    private const int MaxInFlight = 256;
    /// <summary>Ids written round-robin; more than MaxInFlight, so two writes to one record never overlap.</summary>
    private const int IdRing = 4096;

    /// <summary>
    /// Warms the fan-out path so the first point is not the slowest for the wrong reason: profiled, the
    /// gateway's tiered JIT was still spending a tenth of its CPU on that path a few seconds in.
    /// </summary>
    public static Task WarmUpAsync(BenchContext ctx)
    {
        BenchContext.Progress($"{ctx.Name}: end-to-end warm-up (not recorded)");
        return RunPointAsync(ctx, "e2e-warmup", 500, 100);
    }

    /// <summary>
    /// The grid and each gateway's step search, every point taken on both gateways back to back. Returns each
    /// gateway's points and search.
    /// </summary>
    public static async Task<Pair<EndToEndResult>> CompareAsync(Alternation both, int maxSteps)
    {
        await both.BothAsync("e2e", async ctx => { await WarmUpAsync(ctx); return ""; });
        var index = 0;
        var grid = new List<Pair<EndToEndPoint>>();
        foreach (var (rate, subscribers) in Grid)
        {
            var at = index++;
            grid.Add(await both.BothAsync("e2e", ctx => PointAsync(ctx, rate, subscribers, at)));
        }
        var searches = new[] { both.RedisSync, both.Baseline }.ToDictionary(c => c.Kind,
            c => new StepSearch(grid.Select(p => p.Of(c.Kind)).OfType<EndToEndPoint>(), maxSteps));
        for (var step = 0; step < maxSteps; step++)
        {
            var any = false;
            foreach (var ctx in both.NextOrder())
            {
                if (searches[ctx.Kind].NextRate() is not { } rate) continue;
                any = true;
                var at = index++;
                BenchContext.Progress($"{ctx.Name}: step search {rate} writes/s, {SearchSubscribers} subscribers");
                if (await both.OneAsync("e2e step search", ctx, c => PointAsync(c, rate, SearchSubscribers, at)) is { } point)
                    searches[ctx.Kind].Add(point);
                else searches[ctx.Kind].Stop();
            }
            if (!any) break;
        }
        return new Pair<EndToEndResult>(searches[Infrastructure.GatewayKind.RedisSync].Result(), searches[Infrastructure.GatewayKind.Baseline].Result());
    }

    public static async Task<EndToEndPoint> PointAsync(BenchContext ctx, int rate, int subscribers, int index)
    {
        BenchContext.Progress($"{ctx.Name}: end-to-end {rate} writes/s, {subscribers} subscribers");
        var point = await RunPointAsync(ctx, $"e2e-{index}", rate, subscribers);
        Report(point);
        return point;
    }

    /// <summary>
    /// The step search of one gateway, at a fixed fan-out, starting from what the grid found: bisects
    /// (geometrically) between the highest rate that kept p99 within the bound and the lowest that did not, or
    /// doubles past the grid when every rate passed. Bounded in steps; done once the bracket is within 15%.
    /// </summary>
    public sealed class StepSearch
    {
        private readonly List<EndToEndPoint> _grid;
        private readonly List<EndToEndPoint> _steps = [];
        private readonly int _maxSteps;
        private int? _good, _bad;
        private string? _failure;

        public StepSearch(IEnumerable<EndToEndPoint> grid, int maxSteps)
        {
            _grid = [.. grid];
            _maxSteps = maxSteps;
            var atFanOut = _grid.Where(p => p.Subscribers == SearchSubscribers).ToList();
            _good = atFanOut.Where(Passes).Select(p => (int?)p.TargetWritesPerSecond).Max();
            _bad = atFanOut.Where(p => !Passes(p) && p.TargetWritesPerSecond > (_good ?? 0)).Select(p => (int?)p.TargetWritesPerSecond).Min();
            _failure = atFanOut.FirstOrDefault(p => p.TargetWritesPerSecond == _bad) is { } f ? Why(f) : null;
        }

        private bool _stopped;

        /// <summary>Ends the search (a step failed to run at all).</summary>
        public void Stop() => _stopped = true;

        /// <summary>The next rate to try, or null when the search is done.</summary>
        public int? NextRate()
        {
            if (_stopped || _steps.Count >= _maxSteps) return null;
            if (_good is { } passed && _bad is { } failed && failed < passed * 1.15) return null;
            return (_good, _bad) switch
            {
                ({ } lo, { } hi) => (int)Math.Round(Math.Sqrt((double)lo * hi)),
                ({ } lo, null) => lo * 2,
                (null, { } hi) => Math.Max(1, hi / 2),
                _ => 100,
            };
        }

        public void Add(EndToEndPoint step)
        {
            _steps.Add(step);
            if (Passes(step)) _good = step.TargetWritesPerSecond;
            else
            {
                _bad = step.TargetWritesPerSecond;
                _failure = Why(step);
            }
        }

        public EndToEndResult Result()
        {
            var best = _grid.Concat(_steps).Where(Passes).MaxBy(p => p.DeliveriesPerSecond);
            var bracket = (_good, _bad) switch
            {
                ({ } lo, { } hi) => $"p99 stays within {P99BoundMs} ms up to {lo:N0} writes/s and not at {hi:N0} ({_failure})",
                ({ } lo, null) => $"p99 stayed within {P99BoundMs} ms at every rate tried, up to {lo:N0} writes/s (step limit)",
                (null, { } hi) => $"no rate tried kept p99 within {P99BoundMs} ms; lowest tried {hi:N0} writes/s ({_failure})",
                _ => "no step ran",
            };
            return new EndToEndResult(_grid, new StepSearchResult(SearchSubscribers, P99BoundMs, _steps, best, bracket));
        }
    }

    private static bool Passes(EndToEndPoint p) => p.Sustained && p.Delivery.P99Ms <= P99BoundMs;

    private static string Why(EndToEndPoint p) =>
        p.Delivery.P99Ms > P99BoundMs ? $"p99 {p.Delivery.P99Ms:0.0} ms"
        : $"not sustained: achieved {p.WritesPerSecond:N0} writes/s, {p.Deliveries:N0} of {p.ExpectedDeliveries:N0} delivered, "
          + $"{p.SubscribersDropped} subscribers dropped, {p.WritesFailed} writes failed";

    private static void Report(EndToEndPoint p) => BenchContext.Progress(
        $"  {p.WritesPerSecond:0} writes/s → {p.DeliveriesPerSecond:0} deliveries/s; delivery {p.Delivery}; " +
        $"PUT {p.PutResponse}; dropped {p.SubscribersDropped}; {p.Cpu}");

    /// <summary>The measured window, known before the first write; changes sent outside it are ignored.</summary>
    private sealed class Window
    {
        public long Start = long.MaxValue;
        public long End = long.MaxValue;
        public bool Contains(long sent) => sent >= Volatile.Read(ref Start) && sent < Volatile.Read(ref End);
    }

    /// <summary>One subscriber's tally. The client calls it for one message at a time, so no locking but the count.</summary>
    private sealed class Receiver(Window window)
    {
        public readonly List<long> Latencies = new(16 * 1024);
        /// <summary>Send time of each change received, in step with <see cref="Latencies"/>: identifies the change.</summary>
        public readonly List<long> Sent = new(16 * 1024);
        private long _count;
        public long Count => Interlocked.Read(ref _count);

        public void OnChange(ChangeArrival change, long received)
        {
            var sent = change.SentTicks;
            if (sent < 0 || !window.Contains(sent)) return;
            Latencies.Add(received - sent);
            Sent.Add(sent);
            Interlocked.Increment(ref _count);
        }
    }

    /// <summary>Per change (keyed by its send time), the latency of its first and of its last subscriber.</summary>
    private static (LatencySummary First, LatencySummary Last) Spread(Receiver[] receivers)
    {
        var perChange = new Dictionary<long, (long Min, long Max)>();
        foreach (var r in receivers)
            for (var i = 0; i < r.Sent.Count; i++)
                perChange[r.Sent[i]] = perChange.TryGetValue(r.Sent[i], out var x)
                    ? (Math.Min(x.Min, r.Latencies[i]), Math.Max(x.Max, r.Latencies[i]))
                    : (r.Latencies[i], r.Latencies[i]);
        return (LatencySummary.FromTicks(perChange.Values.Select(v => v.Min).ToList()),
                LatencySummary.FromTicks(perChange.Values.Select(v => v.Max).ToList()));
    }

    private static async Task<EndToEndPoint> RunPointAsync(BenchContext ctx, string purpose, int rate, int subscribers)
    {
        var collection = ctx.Collection(purpose);
        var window = new Window();
        var receivers = Enumerable.Range(0, subscribers).Select(_ => new Receiver(window)).ToArray();
        var clients = new Subscriber?[subscribers];
        try
        {
            await ConnectAllAsync(ctx, clients, receivers, collection);
            var (writes, failed, putLatencies, cpu) = await WriteAtRateAsync(ctx, collection, rate, ctx.Options.EndToEndWarmup, ctx.Options.EndToEndMeasure, window);
            var expected = writes * subscribers;
            await DrainAsync(receivers, clients, writes);

            var seconds = Clock.Seconds(window.End - window.Start);
            var dropped = clients.Count(c => c is null || c.Closed);
            var resyncs = clients.Sum(c => c?.Resyncs ?? 0);
            // Closed before the tallies are read, so no handler is still appending to them.
            await DisposeAllAsync(clients);
            var delivered = receivers.Sum(r => r.Count);
            var (first, last) = Spread(receivers);
            return new EndToEndPoint(rate, subscribers, Math.Round(seconds, 3), writes, failed, Math.Round(writes / seconds, 1),
                delivered, expected, Math.Round(delivered / seconds, 1),
                LatencySummary.Merge(receivers.Select(r => r.Latencies)), first, last, Snapshot(putLatencies),
                dropped, resyncs, cpu is { } c ? CpuProbe.Between(c.Start, c.End, delivered) : null);
        }
        finally
        {
            await DisposeAllAsync(clients);
        }
    }

    /// <summary>Summarizes a list other threads may still append to (a write answered after the drain's bound).</summary>
    private static LatencySummary Snapshot(List<long> shared)
    {
        lock (shared) return LatencySummary.FromTicks([.. shared]);
    }

    private static async Task DisposeAllAsync(Subscriber?[] clients)
    {
        await Task.WhenAll(clients.Where(c => c is not null).Select(c => c!.DisposeAsync().AsTask()));
        Array.Clear(clients);
    }

    private static async Task ConnectAllAsync(BenchContext ctx, Subscriber?[] clients, Receiver[] receivers, string collection)
    {
        using var gate = new SemaphoreSlim(16);
        await Task.WhenAll(Enumerable.Range(0, clients.Length).Select(async k =>
        {
            await gate.WaitAsync(ctx.Ct);
            try
            {
                var client = clients[k] = await Subscriber.ConnectAsync(ctx.Gateway.HubUri, receivers[k].OnChange, ctx.Ct);
                await client.SubscribeAsync(collection, null, TimeSpan.FromSeconds(15));
            }
            finally { gate.Release(); }
        }));
    }

    private static async Task<(long Writes, long Failed, List<long> PutLatencies, (CpuProbe.Snapshot Start, CpuProbe.Snapshot End)? Cpu)>
        WriteAtRateAsync(BenchContext ctx, string collection, int rate, TimeSpan warmup, TimeSpan measure, Window window)
    {
        var interval = 1.0 / rate * System.Diagnostics.Stopwatch.Frequency;
        var begin = Clock.Now;
        Volatile.Write(ref window.Start, begin + Clock.Ticks(warmup));
        Volatile.Write(ref window.End, window.Start + Clock.Ticks(measure));
        var maxWrites = (long)Math.Ceiling((warmup + measure).TotalSeconds * rate) + 1;

        using var inFlight = new SemaphoreSlim(MaxInFlight);
        var putLatencies = new List<long>();
        long writes = 0, failed = 0, outstanding = 0;
        CpuProbe.Snapshot? cpuStart = null;

        async Task SendAsync(long n, long sent)
        {
            try
            {
                var (status, _) = await ctx.Http.PutAsync(collection, $"e{n % IdRing}", n + 1, n, sent);
                var answered = Clock.Now;
                if (!window.Contains(sent)) return;
                if (GatewayHttp.Failure(status) is null)
                {
                    Interlocked.Increment(ref writes);
                    lock (putLatencies) putLatencies.Add(answered - sent);
                }
                else Interlocked.Increment(ref failed);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                if (window.Contains(sent)) Interlocked.Increment(ref failed);
            }
            finally
            {
                inFlight.Release();
                Interlocked.Decrement(ref outstanding);
            }
        }

        for (long n = 0; n < maxWrites && !ctx.Ct.IsCancellationRequested;)
        {
            var now = Clock.Now;
            if (now >= window.End) break;
            if (cpuStart is null && now >= window.Start) cpuStart = ctx.Cpu.Take();
            var due = Math.Min(maxWrites, (long)((now - begin) / interval) + 1);
            for (; n < due; n++)
            {
                await inFlight.WaitAsync(ctx.Ct);
                Interlocked.Increment(ref outstanding);
                _ = SendAsync(n, Clock.Now);
            }
            // Timers here tick about once a millisecond: above 1,000 writes/s the writes of each tick go out together.
            var next = begin + (long)(due * interval);
            var wait = Clock.Ms(next - Clock.Now);
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, wait)), ctx.Ct);
        }
        var cpuEnd = ctx.Cpu.Take();

        var until = Clock.Now + Clock.Ticks(TimeSpan.FromSeconds(10));
        while (Interlocked.Read(ref outstanding) > 0 && Clock.Now < until) await Task.Delay(5, ctx.Ct);
        return (Interlocked.Read(ref writes), Interlocked.Read(ref failed), putLatencies,
            cpuStart is { } a ? (a, cpuEnd) : null);
    }

    /// <summary>Waits (bounded) until every live subscriber holds every measured change, or progress stops.</summary>
    private static async Task DrainAsync(Receiver[] receivers, Subscriber?[] clients, long perSubscriber)
    {
        var until = Clock.Now + Clock.Ticks(TimeSpan.FromSeconds(10));
        var lastTotal = -1L;
        var lastProgress = Clock.Now;
        while (Clock.Now < until)
        {
            var done = true;
            for (var k = 0; k < receivers.Length; k++)
                if (receivers[k].Count < perSubscriber && clients[k] is { Closed: false }) done = false;
            if (done) return;
            var total = receivers.Sum(r => r.Count);
            if (total != lastTotal) { lastTotal = total; lastProgress = Clock.Now; }
            else if (Clock.Now - lastProgress > Clock.Ticks(TimeSpan.FromSeconds(2))) return;
            await Task.Delay(10);
        }
    }
}
