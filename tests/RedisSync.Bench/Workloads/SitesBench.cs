using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using RedisSync.Bench.Clients;
using RedisSync.Bench.Infrastructure;
using RedisSync.Bench.Measurement;
using RedisSync.Gateway.Contracts;
using RedisSync.Gateway.Repair;
using RedisSync.Gateway.Replication;
using RedisSync.Gateway.Store;
using StackExchange.Redis;

namespace RedisSync.Bench.Workloads;

/// <summary>
/// One direction of one replication-lag run: writes sent at one site at a paced rate, each received by a subscriber
/// at the other site; lag = receipt there − send here, on this process's one clock.
/// </summary>
public sealed record LagRow(
    string Direction,
    bool BothWays,
    int TargetWritesPerSecond,
    double Seconds,
    long Written,
    long WritesFailed,
    double WritesPerSecond,
    long Received,
    long Duplicates,
    LatencySummary Lag,
    LatencySummary PutResponse,
    int Resyncs,
    SitesCpu? Cpu)
{
    /// <summary>Every write answered in the window reached the other site once, and the pacer kept the rate.</summary>
    public bool Complete => Received == Written && Duplicates == 0 && WritesFailed == 0 && Resyncs == 0;
}

/// <summary>CPU µs per replicated write over a lag run's window, per process (both directions' writes counted).</summary>
public sealed record SitesCpu(double GatewayA, double GatewayB, double RedisA, double RedisB, double Bench, double MachineCores);

/// <summary>One <c>POST /api/v1/replication/repair</c> on site a, against site b.</summary>
public sealed record RepairRun(
    string Case,
    double Seconds,
    int Requests,
    long BodyBytesSent,
    long BodyBytesReceived,
    long WireBytesToPeer,
    long WireBytesFromPeer,
    double BackgroundWireBytesPerSecond,
    IReadOnlyList<string> Differing,
    IReadOnlyList<string> Repaired,
    IReadOnlyList<string> OtherCollections,
    bool RootsEqualAfter,
    string? Error)
{
    /// <summary>Wire bytes both ways less what the replication's own polling sends in as long a quiet window.</summary>
    public double NetWireBytes => Math.Max(0, WireBytesToPeer + WireBytesFromPeer - BackgroundWireBytesPerSecond * Seconds);
}

/// <summary>Reading a collection's full state from the peer, page by page, as a site copies it.</summary>
public sealed record FullCopy(int Records, int Pages, int PageSize, double Seconds, long BodyBytes, long WireBytesToPeer, long WireBytesFromPeer,
    double BackgroundWireBytesPerSecond)
{
    public double NetWireBytes => Math.Max(0, WireBytesToPeer + WireBytesFromPeer - BackgroundWireBytesPerSecond * Seconds);
}

/// <summary>The repair cost measurement: the collection, how it got to both sites, each repair, and the full copy.</summary>
public sealed record RepairCostResult(
    int Records,
    double SeedSeconds,
    double ReplicatedSeconds,
    double ScrubSeconds,
    string Damage,
    IReadOnlyList<string> DamagedIds,
    IReadOnlyList<RepairRun> Repairs,
    FullCopy? Copy);

/// <summary>The sites phase: replication lag rows and the repair cost.</summary>
public sealed record SitesResult(IReadOnlyList<LagRow> Lag, RepairCostResult? Repair, IReadOnlyDictionary<string, string> SiteSettings,
    string LoadAverageAtStart, string LoadAverageAtEnd, double Seconds);

/// <summary>
/// Two RedisSync sites on this machine (CONTRACT §9–10), each its own redis-server and gateway process, replicating
/// both ways (full mesh of two). Measures the replication lag at stated write rates (issue 13) and what a repair of
/// 10 differing records out of 100,000 costs next to copying the whole collection (issue 14). Site a reaches site b
/// through a counting TCP relay (<see cref="TcpRelay"/>), so what a repair run on a exchanges is also counted on the
/// wire; b reaches a directly, so the a → b lag has no relay in its path.
/// </summary>
public static class SitesBench
{
    public static readonly int[] LagRates = [200, 1000];
    public const int MaxInFlight = 256;
    public const int DamagedRecords = 10;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static async Task<SitesResult?> RunAsync(BenchOptions o, List<string> errors, CancellationToken runCt)
    {
        if (runCt.IsCancellationRequested)
        {
            lock (errors) errors.Add("sites: skipped, the run's time budget was used up or it was interrupted");
            return null;
        }
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(runCt);
        budget.CancelAfter(o.SitesBudget);
        var ct = budget.Token;
        var dll = o.GatewayDll ?? BuildInfo.DefaultGatewayDll;
        var dir = Path.Combine(o.OutDir, "sites");
        var runId = Guid.NewGuid().ToString("N")[..6];
        var (load, started) = (MachineInfo.LoadAverage(), Clock.Now);
        BenchContext.Progress($"sites: starting sites a and b (each a redis-server and a gateway; a reaches b through a counting relay); logs in {dir}");

        try
        {
            await using var redisA = await RedisServerProcess.StartAsync(Dir(dir, "a"), "redis-server.log", ct);
            await using var redisB = await RedisServerProcess.StartAsync(Dir(dir, "b"), "redis-server.log", ct);
            await using var relayToB = new TcpRelay();
            int portA = ChildProcess.FreePort(), portB = ChildProcess.FreePort();
            relayToB.Forward(portB);
            await using var siteA = await SiteGatewayProcess.StartAsync(dll, "a", portA, ("b", relayToB.Address), redisA.ConnectionString, Dir(dir, "a"), o.GatewayEnvironment, ct);
            await using var siteB = await SiteGatewayProcess.StartAsync(dll, "b", portB, ("a", siteA.BaseAddress), redisB.ConnectionString, Dir(dir, "b"), o.GatewayEnvironment, ct);
            using var sites = new Sites(siteA, siteB, redisA, redisB, relayToB, runId, ct);

            // A part that fails, or runs out of time, is recorded, and what the others measured is still reported.
            // The repair first: its scrubs then cover this collection alone, and the lag runs start with a warm JIT.
            RepairCostResult? repair = null;
            try { repair = await RepairCostAsync(sites, o); }
            catch (Exception e)
            {
                lock (errors) errors.Add($"sites (repair cost): {e.GetType().Name}: {e.Message}");
                BenchContext.Progress($"sites: repair cost failed: {e}");
            }

            var lag = new List<LagRow>();
            foreach (var bothWays in new[] { false, true })
                foreach (var rate in LagRates)
                {
                    if (ct.IsCancellationRequested) break;
                    try { lag.AddRange(await LagAsync(sites, o, rate, bothWays)); }
                    catch (Exception e)
                    {
                        lock (errors) errors.Add($"sites (lag {rate}/s{(bothWays ? ", both ways" : "")}): {e.GetType().Name}: {e.Message}");
                        BenchContext.Progress($"sites: lag {rate}/s failed: {e}");
                    }
                }
            if (ct.IsCancellationRequested && !runCt.IsCancellationRequested)
                lock (errors) errors.Add($"sites: stopped at its own budget ({o.SitesBudget.TotalMinutes:0} min); what finished is reported");
            if (siteA.HasExited || siteB.HasExited) lock (errors) errors.Add($"sites: a site's gateway exited during the phase; see {dir}/*/gateway.log");
            return new SitesResult(lag, repair, new Dictionary<string, string>
            {
                ["Replication:PollInterval"] = new ReplicationOptions().PollInterval.ToString(),
                ["Replication:PageSize"] = new ReplicationOptions().PageSize.ToString(CultureInfo.InvariantCulture),
                ["Repair:ScrubRecordsPerSecond"] = new RepairOptions().ScrubRecordsPerSecond.ToString(CultureInfo.InvariantCulture),
            }, load, MachineInfo.LoadAverage(), Math.Round(Clock.Seconds(Clock.Now - started), 1));
        }
        catch (Exception e)
        {
            lock (errors) errors.Add($"sites: {e.GetType().Name}: {e.Message}");
            BenchContext.Progress($"sites failed: {e}");
            return null;
        }
    }

    private static string Dir(string root, string site) => Directory.CreateDirectory(Path.Combine(root, site)).FullName;

    /// <summary>The two sites and a client of each.</summary>
    private sealed class Sites(SiteGatewayProcess a, SiteGatewayProcess b, RedisServerProcess redisA, RedisServerProcess redisB,
        TcpRelay relayToB, string runId, CancellationToken ct) : IDisposable
    {
        public SiteGatewayProcess A { get; } = a;
        public SiteGatewayProcess B { get; } = b;
        public RedisServerProcess RedisA { get; } = redisA;
        public RedisServerProcess RedisB { get; } = redisB;
        public TcpRelay RelayToB { get; } = relayToB;
        public GatewayHttp HttpA { get; } = new(a.BaseAddress);
        public GatewayHttp HttpB { get; } = new(b.BaseAddress);
        public CancellationToken Ct { get; } = ct;
        public string Collection(string purpose) => $"{purpose}-{runId}";

        public (long To, long From) Wire => (RelayToB.BytesToTarget, RelayToB.BytesFromTarget);

        public void Dispose()
        {
            HttpA.Dispose();
            HttpB.Dispose();
        }
    }

    // ------------------------------------------------------------------------------------------ replication lag

    /// <summary>The measured window, known before the first write; writes sent outside it are not counted.</summary>
    private sealed class Window
    {
        public long Start = long.MaxValue;
        public long End = long.MaxValue;
        public bool Contains(long sent) => sent >= Volatile.Read(ref Start) && sent < Volatile.Read(ref End);
    }

    /// <summary>What a subscriber binds of a <c>change</c>: the id, the site the write entered at, and the writer's send time.</summary>
    public sealed class SiteChange
    {
        public string? Id { get; init; }
        public string? Site { get; init; }
        public ChangedRecord? Record { get; init; }
    }

    /// <summary>A subscriber at one site, tallying the changes written at the other (by the change's <c>site</c>).</summary>
    private sealed class Receiver(string from, Window window)
    {
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
        private readonly List<long> _lags = new(16 * 1024);
        private long _duplicates;

        /// <summary>Changes received that were sent in the window.</summary>
        public long Count { get { lock (_seen) return _lags.Count; } }

        public bool Saw(string id) { lock (_seen) return _seen.Contains(id); }

        public (long Received, long Duplicates, List<long> Lags) Snapshot()
        {
            lock (_seen) return (_lags.Count, _duplicates, [.. _lags]);
        }

        public void OnChange(SiteChange change, long received)
        {
            if (change.Site != from || change.Id is null) return;
            var sent = change.Record?.Data?.SentTicks ?? -1;
            lock (_seen)
            {
                if (!_seen.Add(change.Id)) { _duplicates++; return; }
                if (sent >= 0 && window.Contains(sent)) _lags.Add(received - sent);
            }
        }
    }

    /// <summary>What one site's writer sent in the window.</summary>
    private sealed class Writer
    {
        public readonly List<long> PutLatencies = [];
        public long Written;
        public long Failed;
    }

    private static async Task<IReadOnlyList<LagRow>> LagAsync(Sites s, BenchOptions o, int rate, bool bothWays)
    {
        var collection = s.Collection($"lag-{rate}{(bothWays ? "-both" : "")}");
        BenchContext.Progress($"sites: replication lag, {rate} writes/s at a{(bothWays ? " and at b at once" : "")}, {o.SitesLagMeasure.TotalSeconds:0} s measured");
        var window = new Window();
        var atB = new Receiver("a", window);
        var atA = new Receiver("b", window);
        await using var subscriberB = await SubscribeAsync(s.B, collection, atB, s.Ct);
        await using var subscriberA = bothWays ? await SubscribeAsync(s.A, collection, atA, s.Ct) : null;

        // The collection is new: the other site finds it at its next poll of the peer (Replication:PollInterval) and
        // only then follows it. One write each way, awaited at the far end, gets that and the JIT out of the window.
        await PrimeAsync(s.HttpA, collection, "a-prime", atB, s.Ct);
        if (bothWays) await PrimeAsync(s.HttpB, collection, "b-prime", atA, s.Ct);

        var begin = Clock.Now;
        Volatile.Write(ref window.Start, begin + Clock.Ticks(o.SitesLagWarmup));
        Volatile.Write(ref window.End, window.Start + Clock.Ticks(o.SitesLagMeasure));
        var cpu = new CpuWindow(s);
        var cpuTask = cpu.TakeAtAsync(window, s.Ct);
        var writerA = new Writer();
        var writerB = new Writer();
        await Task.WhenAll(
            WriteAtRateAsync(s.HttpA, collection, "a", rate, begin, window, writerA, s.Ct),
            bothWays ? WriteAtRateAsync(s.HttpB, collection, "b", rate, begin, window, writerB, s.Ct) : Task.CompletedTask);
        await cpuTask;
        var directions = new List<(Receiver, Writer)> { (atB, writerA) };
        if (bothWays) directions.Add((atA, writerB));
        await DrainAsync(directions, s.Ct);

        var seconds = Clock.Seconds(window.End - window.Start);
        var replicated = writerA.Written + (bothWays ? writerB.Written : 0);
        var cpuUse = cpu.PerWrite(replicated);
        var rows = new List<LagRow> { Row("a → b", atB, writerA, subscriberB) };
        if (bothWays) rows.Add(Row("b → a", atA, writerB, subscriberA!));
        foreach (var r in rows)
            BenchContext.Progress($"  {r.Direction}: {r.WritesPerSecond:0} writes/s, received {r.Received:N0} of {r.Written:N0}, lag {r.Lag}, max {r.Lag.MaxMs:0.0} ms");
        return rows;

        LagRow Row(string direction, Receiver receiver, Writer writer, HubSubscriber subscriber)
        {
            var (received, duplicates, lags) = receiver.Snapshot();
            List<long> puts;
            lock (writer.PutLatencies) puts = [.. writer.PutLatencies];
            return new LagRow(direction, bothWays, rate, Math.Round(seconds, 3), Interlocked.Read(ref writer.Written), Interlocked.Read(ref writer.Failed),
                Math.Round(writer.Written / seconds, 1), received, duplicates, LatencySummary.FromTicks(lags),
                LatencySummary.FromTicks(puts), subscriber.Resyncs, cpuUse);
        }
    }

    private static async Task PrimeAsync(GatewayHttp origin, string collection, string id, Receiver far, CancellationToken ct)
    {
        var status = await origin.PutDataAsync(collection, id, 1, GatewayHttp.RecordData(0, -1));
        if (GatewayHttp.Failure(status) is { } failure) throw new InvalidOperationException($"priming {collection}: {failure}");
        var until = Clock.Now + Clock.Ticks(TimeSpan.FromSeconds(20));
        while (!far.Saw(id))
        {
            if (Clock.Now > until) throw new TimeoutException($"{id} written to {collection} did not reach the other site within 20 s");
            await Task.Delay(10, ct);
        }
    }

    /// <summary>
    /// PUTs new records (one per write, so no two writes of the window can be folded into one change on the way) at the
    /// given rate, open loop: the schedule does not wait for answers, up to <see cref="MaxInFlight"/> in flight.
    /// </summary>
    private static async Task WriteAtRateAsync(GatewayHttp http, string collection, string site, int rate, long begin, Window window,
        Writer tally, CancellationToken ct)
    {
        var interval = Clock.Ticks(TimeSpan.FromSeconds(1)) / (double)rate;
        var maxWrites = (long)Math.Ceiling(Clock.Seconds(window.End - begin) * rate) + 1;
        using var inFlight = new SemaphoreSlim(MaxInFlight);
        long outstanding = 0;

        async Task SendAsync(long n, long sent)
        {
            try
            {
                var (status, _) = await http.PutAsync(collection, $"{site}{n}", 1, n, sent);
                var answered = Clock.Now;
                if (!window.Contains(sent)) return;
                if (GatewayHttp.Failure(status) is null)
                {
                    Interlocked.Increment(ref tally.Written);
                    lock (tally.PutLatencies) tally.PutLatencies.Add(answered - sent);
                }
                else Interlocked.Increment(ref tally.Failed);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                if (window.Contains(sent)) Interlocked.Increment(ref tally.Failed);
            }
            finally
            {
                inFlight.Release();
                Interlocked.Decrement(ref outstanding);
            }
        }

        for (long n = 0; n < maxWrites && !ct.IsCancellationRequested;)
        {
            if (Clock.Now >= window.End) break;
            var due = Math.Min(maxWrites, (long)((Clock.Now - begin) / interval) + 1);
            for (; n < due; n++)
            {
                await inFlight.WaitAsync(ct);
                Interlocked.Increment(ref outstanding);
                _ = SendAsync(n, Clock.Now);
            }
            var wait = Clock.Ms(begin + (long)(due * interval) - Clock.Now);
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, wait)), ct);
        }
        var until = Clock.Now + Clock.Ticks(TimeSpan.FromSeconds(15));
        while (Interlocked.Read(ref outstanding) > 0 && Clock.Now < until) await Task.Delay(5, ct);
    }

    /// <summary>Waits (bounded) until each far end holds every write answered in the window, or progress stops.</summary>
    private static async Task DrainAsync(IReadOnlyList<(Receiver Far, Writer Origin)> directions, CancellationToken ct)
    {
        var until = Clock.Now + Clock.Ticks(TimeSpan.FromSeconds(30));
        var last = -1L;
        var lastProgress = Clock.Now;
        while (Clock.Now < until)
        {
            if (directions.All(d => d.Far.Count >= Interlocked.Read(ref d.Origin.Written))) return;
            var total = directions.Sum(d => d.Far.Count);
            if (total != last) (last, lastProgress) = (total, Clock.Now);
            else if (Clock.Now - lastProgress > Clock.Ticks(TimeSpan.FromSeconds(5))) return;
            await Task.Delay(10, ct);
        }
    }

    /// <summary>CPU time of the four processes and this one from the window's start to its end.</summary>
    private sealed class CpuWindow(Sites s)
    {
        private (TimeSpan[] Cpu, long Machine, long At)? _start, _end;

        private (TimeSpan[], long, long) Take() =>
            ([s.A.CpuTime(), s.B.CpuTime(), s.RedisA.CpuTime(), s.RedisB.CpuTime(), System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime],
             MachineBusyTicks(), Clock.Now);

        public async Task TakeAtAsync(Window window, CancellationToken ct)
        {
            var wait = Clock.Ms(window.Start - Clock.Now);
            if (wait > 0) await Task.Delay(TimeSpan.FromMilliseconds(wait), ct);
            _start = Take();
            wait = Clock.Ms(window.End - Clock.Now);
            if (wait > 0) await Task.Delay(TimeSpan.FromMilliseconds(wait), ct);
            _end = Take();
        }

        public SitesCpu? PerWrite(long writes)
        {
            if (_start is not { } a || _end is not { } b || writes == 0) return null;
            double Us(int i) => Math.Round((b.Cpu[i] - a.Cpu[i]).TotalMicroseconds / writes, 1);
            var seconds = Clock.Seconds(b.At - a.At);
            return new SitesCpu(Us(0), Us(1), Us(2), Us(3), Us(4), Math.Round((b.Machine - a.Machine) / 100.0 / seconds, 2));
        }

        // /proc/stat's first line, in USER_HZ (100/s): user, nice, system, irq, softirq, steal.
        private static long MachineBusyTicks()
        {
            try
            {
                var f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
                return f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
            }
            catch (IOException) { return 0; }
        }
    }

    /// <summary>
    /// A subscriber on the official .NET SignalR client (JSON, WebSockets), as <see cref="Subscriber"/>, but binding the
    /// change's id and site: with writes in both directions, each end counts only the other site's.
    /// </summary>
    private sealed class HubSubscriber(HubConnection connection) : IAsyncDisposable
    {
        private int _resyncs;
        public int Resyncs => Volatile.Read(ref _resyncs);

        public static async Task<HubSubscriber> ConnectAsync(Uri hub, Receiver receiver, CancellationToken ct)
        {
            var connection = new HubConnectionBuilder()
                .WithUrl(hub, o =>
                {
                    o.Transports = HttpTransportType.WebSockets;
                    o.SkipNegotiation = true;
                })
                .Build();
            var subscriber = new HubSubscriber(connection);
            connection.On<SiteChange>("change", change => receiver.OnChange(change, Clock.Now));
            connection.On<JsonElement>("resync", _ => Interlocked.Increment(ref subscriber._resyncs));
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(15));
            try { await connection.StartAsync(timeout.Token); }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }
            return subscriber;
        }

        public async Task SubscribeAsync(string collection, CancellationToken ct)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(15));
            await connection.InvokeAsync<JsonElement>("Subscribe", collection, null, timeout.Token);
        }

        public async ValueTask DisposeAsync()
        {
            try { await connection.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)); }
            catch (TimeoutException) { } // a stuck close must not hold the run
        }
    }

    private static async Task<HubSubscriber> SubscribeAsync(SiteGatewayProcess site, string collection, Receiver receiver, CancellationToken ct)
    {
        var subscriber = await HubSubscriber.ConnectAsync(site.HubUri, receiver, ct);
        try { await subscriber.SubscribeAsync(collection, ct); }
        catch
        {
            await subscriber.DisposeAsync();
            throw;
        }
        return subscriber;
    }

    // ------------------------------------------------------------------------------------------ repair cost

    private static async Task<RepairCostResult> RepairCostAsync(Sites s, BenchOptions o)
    {
        var records = o.SitesRepairRecords;
        var collection = s.Collection("repair");
        using var admin = new HttpClient { Timeout = TimeSpan.FromMinutes(3) };
        admin.DefaultRequestHeaders.Add("X-Api-Key", GatewayProcess.ApiKey);

        BenchContext.Progress($"sites: repair cost: seeding {records:N0} records through a, waiting until b holds them all");
        var ids = Enumerable.Range(0, records).Select(k => $"r{k:D6}").ToArray();
        var seedStart = Clock.Now;
        await RecordCensus.SeedAsync(GatewayKind.RedisSync, s.HttpA, collection, ids, s.Ct);
        var seedSeconds = Clock.Seconds(Clock.Now - seedStart);
        await WaitForEqualRootsAsync(admin, s, collection, records, TimeSpan.FromSeconds(o.Quick ? 60 : 180));
        var replicatedSeconds = Clock.Seconds(Clock.Now - seedStart);
        BenchContext.Progress($"  seeded in {seedSeconds:0.0} s; b held all with an equal root {replicatedSeconds:0.0} s after the seeding began");
        // b's applies went into b's change log, which a reads back (each an echo: unchanged) through the relay. Until
        // it has, that traffic would pass for the background of every measurement below.
        await WaitUntilCaughtUpAsync(admin, s, collection, TimeSpan.FromSeconds(o.Quick ? 60 : 180));
        BenchContext.Progress($"  a had read b's change log of it back {Clock.Seconds(Clock.Now - seedStart):0.0} s after the seeding began");

        var runs = new List<RepairRun>();
        BenchContext.Progress("sites: repair on a with equal sites");
        runs.Add(await RepairAsync(admin, s, collection, "equal sites"));

        BenchContext.Progress($"sites: full copy of {collection} from b through the relay, as a site copies a peer's collection");
        var copy = await FullCopyAsync(admin, s, collection);
        BenchContext.Progress($"  {copy.Records:N0} records in {copy.Pages} pages, {copy.Seconds:0.00} s, {copy.BodyBytes / 1e6:0.0} MB of bodies");

        // A scrub of one site alone (what each repair on demand starts with, at Repair:ScrubRecordsPerSecond).
        var scrubStart = Clock.Now;
        await PostAsync(admin, new Uri(s.A.BaseAddress, "api/v1/digests/rebuild"), s.Ct);
        var scrubSeconds = Clock.Seconds(Clock.Now - scrubStart);

        var damaged = Enumerable.Range(0, DamagedRecords).Select(k => ids[(int)((long)k * records / DamagedRecords) + 7]).ToArray();
        var damage = await DamageAsync(s, collection, damaged);
        BenchContext.Progress($"sites: repair on a after {damage}");
        runs.Add(await RepairAsync(admin, s, collection, $"{DamagedRecords} records differ"));
        return new RepairCostResult(records, Math.Round(seedSeconds, 2), Math.Round(replicatedSeconds, 2), Math.Round(scrubSeconds, 2),
            damage, damaged, runs, copy);
    }

    /// <summary>Waits (bounded) until b holds every record and the collection's roots are equal on both sites.</summary>
    private static async Task WaitForEqualRootsAsync(HttpClient admin, Sites s, string collection, int records, TimeSpan timeout)
    {
        var until = Clock.Now + Clock.Ticks(timeout);
        while (true)
        {
            // The record count is cheap to read; the roots cost a pass over every bucket, so they come last.
            var atB = (await GetAsync<CollectionInfo[]>(admin, new Uri(s.B.BaseAddress, "api/v1/collections"), s.Ct))
                .FirstOrDefault(c => c.Name == collection)?.Records ?? 0;
            if (atB >= records && await RootsAsync(admin, s, collection) is var (a, b) && a == b) return;
            if (Clock.Now > until) throw new TimeoutException($"b did not hold all {records:N0} records of {collection} with a root equal to a's within {timeout.TotalSeconds:0} s (it held {atB:N0})");
            await Task.Delay(250, s.Ct);
        }
    }

    /// <summary>
    /// Waits (bounded) until each site's cursor in the other's change log of <paramref name="collection"/> is that
    /// log's last entry (CONTRACT §9 status): nothing of it is left for replication to carry.
    /// </summary>
    private static async Task WaitUntilCaughtUpAsync(HttpClient admin, Sites s, string collection, TimeSpan timeout)
    {
        var until = Clock.Now + Clock.Ticks(timeout);
        while (true)
        {
            var aReadB = await CursorAsync(admin, s.A, "b", collection, s.Ct) == await LastSeqAsync(admin, s.B, collection, s.Ct);
            var bReadA = await CursorAsync(admin, s.B, "a", collection, s.Ct) == await LastSeqAsync(admin, s.A, collection, s.Ct);
            if (aReadB && bReadA) return;
            if (Clock.Now > until) throw new TimeoutException($"the sites had not read each other's change log of {collection} to its end within {timeout.TotalSeconds:0} s");
            await Task.Delay(250, s.Ct);
        }
    }

    private static async Task<string?> CursorAsync(HttpClient admin, SiteGatewayProcess site, string peer, string collection, CancellationToken ct) =>
        (await GetAsync<ReplicationStatus>(admin, new Uri(site.BaseAddress, "api/v1/replication"), ct))
            .Peers.FirstOrDefault(p => p.Name == peer)?.Collections.FirstOrDefault(c => c.Collection == collection)?.Cursor;

    private static async Task<string?> LastSeqAsync(HttpClient admin, SiteGatewayProcess site, string collection, CancellationToken ct) =>
        (await GetAsync<CollectionInfo[]>(admin, new Uri(site.BaseAddress, "api/v1/collections"), ct)).FirstOrDefault(c => c.Name == collection)?.LastSeq;

    private static async Task<(string A, string B)> RootsAsync(HttpClient admin, Sites s, string collection)
    {
        var path = $"api/v1/collections/{collection}/digest";
        var a = GetAsync<CollectionDigest>(admin, new Uri(s.A.BaseAddress, path), s.Ct);
        var b = GetAsync<CollectionDigest>(admin, new Uri(s.B.BaseAddress, path), s.Ct);
        return ((await a).Root, (await b).Root);
    }

    private static async Task<RepairRun> RepairAsync(HttpClient admin, Sites s, string collection, string label)
    {
        // What the replication's own traffic (polls of every collection, hub pings) puts on the wire meanwhile.
        var quiet = TimeSpan.FromSeconds(3);
        var (to0, from0) = s.Wire;
        await Task.Delay(quiet, s.Ct);
        var (to1, from1) = s.Wire;
        var background = (to1 - to0 + from1 - from0) / quiet.TotalSeconds;

        var start = Clock.Now;
        var report = await PostAsync<RepairReport>(admin, new Uri(s.A.BaseAddress, "api/v1/replication/repair"), s.Ct);
        var seconds = Clock.Seconds(Clock.Now - start);
        var (to2, from2) = s.Wire;
        var (rootA, rootB) = await RootsAsync(admin, s, collection);

        var peer = report.Peers.Single(p => p.Name == "b");
        var ours = peer.Collections.FirstOrDefault(c => c.Collection == collection);
        var run = new RepairRun(label, Math.Round(seconds, 3), peer.Requests, peer.BytesSent, peer.BytesReceived, to2 - to1, from2 - from1,
            Math.Round(background, 1), ours?.Differing ?? [], ours?.Repaired ?? [],
            [.. peer.Collections.Where(c => c.Collection != collection).Select(c => c.Collection)], rootA == rootB, peer.Error);
        BenchContext.Progress($"  {seconds:0.00} s, {run.Requests} requests, bodies {run.BodyBytesSent:N0} B sent / {run.BodyBytesReceived:N0} B received, " +
                              $"wire {run.WireBytesToPeer:N0} / {run.WireBytesFromPeer:N0} B (background {background:N0} B/s); " +
                              $"differing {run.Differing.Count}, repaired {run.Repaired.Count}; roots equal after: {run.RootsEqualAfter}{(peer.Error is null ? "" : "; error: " + peer.Error)}");
        return run;
    }

    /// <summary>Reads the collection's full state from b, page by page through the relay, as a site copies a peer's collection.</summary>
    private static async Task<FullCopy> FullCopyAsync(HttpClient admin, Sites s, string collection)
    {
        var quiet = TimeSpan.FromSeconds(3);
        var (to0, from0) = s.Wire;
        await Task.Delay(quiet, s.Ct);
        var (to1, from1) = s.Wire;
        var background = (to1 - to0 + from1 - from0) / quiet.TotalSeconds;

        var pageSize = new ReplicationOptions().PageSize;
        long bodies = 0;
        int pages = 0, count = 0;
        string? cursor = null;
        var start = Clock.Now;
        do
        {
            var url = new Uri(s.RelayToB.Address, $"api/v1/replication/collections/{collection}/records?limit={pageSize}" +
                (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            using var response = await admin.GetAsync(url, s.Ct);
            var body = await response.Content.ReadAsByteArrayAsync(s.Ct);
            if (!response.IsSuccessStatusCode) throw new HttpRequestException($"{(int)response.StatusCode} from {url}: {Encoding.UTF8.GetString(body)}");
            var page = JsonSerializer.Deserialize<RecordStatePage>(body, Json)!;
            bodies += body.Length;
            count += page.Items.Count;
            cursor = page.NextCursor;
        } while (cursor is not null && ++pages < 100_000);
        var seconds = Clock.Seconds(Clock.Now - start);
        var (to2, from2) = s.Wire;
        return new FullCopy(count, pages + 1, pageSize, Math.Round(seconds, 3), bodies, to2 - to1, from2 - from1, Math.Round(background, 1));
    }

    /// <summary>
    /// Changes records in b's Redis behind its gateway's back, so replication never carries them (nothing enters the
    /// change log): half are deleted (lost), half have one value altered in place. The alteration swaps one stored
    /// value's bytes for others of the same length, so the record still reads as a record.
    /// </summary>
    private static async Task<string> DamageAsync(Sites s, string collection, IReadOnlyList<string> ids)
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(s.RedisB.ConnectionString);
        var db = mux.GetDatabase();
        var from = Encoding.UTF8.GetBytes("\"eu-west\"");
        var to = Encoding.UTF8.GetBytes(AlteredRegion);
        var lost = ids.Take(ids.Count / 2).ToArray();
        var altered = ids.Skip(ids.Count / 2).ToArray();
        foreach (var id in lost)
            if (!await db.KeyDeleteAsync(RedisKeys.Record(collection, id))) throw new InvalidOperationException($"{collection}/{id} is not in b's Redis");
        foreach (var id in altered)
        {
            var key = RedisKeys.Record(collection, id);
            var blob = (byte[]?)await db.StringGetAsync(key) ?? throw new InvalidOperationException($"{collection}/{id} is not in b's Redis");
            var at = blob.AsSpan().IndexOf(from);
            if (at < 0) throw new InvalidOperationException($"{collection}/{id} in b's Redis holds no {Encoding.UTF8.GetString(from)}");
            to.CopyTo(blob.AsSpan(at));
            await db.StringSetAsync(key, blob);
        }
        return $"{lost.Length} records deleted and {altered.Length} with the value of \"region\" changed from \"eu-west\" to {AlteredRegion} (same length), directly in b's Redis";
    }

    private const string AlteredRegion = "\"eu-east\"";

    private static async Task<T> GetAsync<T>(HttpClient http, Uri url, CancellationToken ct)
    {
        using var response = await http.GetAsync(url, ct);
        if (!response.IsSuccessStatusCode) throw new HttpRequestException($"{(int)response.StatusCode} from {url}");
        return (await response.Content.ReadFromJsonAsync<T>(Json, ct))!;
    }

    private static async Task<T> PostAsync<T>(HttpClient http, Uri url, CancellationToken ct)
    {
        using var response = await http.PostAsync(url, null, ct);
        var body = await response.Content.ReadAsByteArrayAsync(ct);
        if (!response.IsSuccessStatusCode) throw new HttpRequestException($"{(int)response.StatusCode} from {url}: {Encoding.UTF8.GetString(body)}");
        return JsonSerializer.Deserialize<T>(body, Json)!;
    }

    private static Task PostAsync(HttpClient http, Uri url, CancellationToken ct) => PostAsync<JsonElement>(http, url, ct);
}
