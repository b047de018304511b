using RedisSync.Tests.Fixtures;

namespace RedisSync.Tests.Cluster;

/// <summary>
/// Writers and subscribers on a set of collections through the gateways of a pool: the busy collection gets
/// several writers, the others one each, spread over the instances; every collection gets one subscriber per
/// instance. <see cref="FinishAsync"/> stops it and checks the outcome (<see cref="Verdict"/>).
/// </summary>
public sealed class SyncTraffic : IAsyncDisposable
{
    private readonly GatewayPool _pool;
    private readonly HttpClient _http;
    private readonly List<TrackedSubscriber> _subscribers;

    private SyncTraffic(GatewayPool pool, HttpClient http, IReadOnlyList<string> collections, WriteLoad load, List<TrackedSubscriber> subscribers)
    {
        _pool = pool;
        _http = http;
        Collections = collections;
        Load = load;
        _subscribers = subscribers;
    }

    public IReadOnlyList<string> Collections { get; }
    public WriteLoad Load { get; }
    public IReadOnlyList<TrackedSubscriber> Subscribers => _subscribers;

    /// <summary>
    /// Writes one record to each collection, subscribes, then starts the writers: <paramref name="busyWriters"/> on <paramref name="collections"/>[0], one on each other collection.
    /// </summary>
    public static async Task<SyncTraffic> StartAsync(GatewayPool pool, HttpClient http, IReadOnlyList<string> collections,
        int busyWriters = 4, WriteLoadOptions? options = null, int subscribersPerCollection = 0)
    {
        var instances = pool.Live.Count;
        var perCollection = subscribersPerCollection > 0 ? subscribersPerCollection : instances;
        // A first record in each collection: an empty collection's asOf ("0-0") is answered resyncRequired by Subscribe
        // (reported; EmptyCollectionSubscribeTests), which would keep a client reloading until someone writes.
        using (var seeding = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            foreach (var c in collections) await WriteLoad.PutUntilAcknowledgedAsync(pool, http, c, "seed", seeding.Token);
        var subscribers = new List<TrackedSubscriber>();
        try
        {
            foreach (var c in collections)
                for (var i = 0; i < perCollection; i++)
                    subscribers.Add(await TrackedSubscriber.StartAsync(pool, http, c, i, TimeSpan.FromSeconds(30)));
        }
        catch
        {
            foreach (var s in subscribers) await s.DisposeAsync();
            throw;
        }
        var plans = Enumerable.Range(0, busyWriters).Select(w => new WriterPlan(collections[0], w))
            .Concat(collections.Skip(1).Select((c, i) => new WriterPlan(c, i))).ToArray();
        return new SyncTraffic(pool, http, collections, WriteLoad.Start(pool, http, plans, options), subscribers);
    }

    /// <summary>Waits until <paramref name="collection"/> has <paramref name="more"/> acknowledged writes beyond what it has now.</summary>
    public Task WaitForWritesAsync(string collection, int more, TimeSpan timeout, string why)
    {
        var target = Load.AcknowledgedIn(collection) + more;
        return Poll.UntilAsync(() => Task.FromResult(Load.AcknowledgedIn(collection)), n => n >= target, timeout,
            $"{more} more acknowledged writes to {collection} ({why})", n => $"{n} of {target}; answers {string.Join(", ", Load.Answers.Select(a => $"{a.Value} x {a.Key}"))}");
    }

    /// <summary>Waits until every subscriber of <paramref name="collection"/> has received <paramref name="more"/> changes beyond what it has now.</summary>
    public Task WaitForDeliveriesAsync(string collection, int more, TimeSpan timeout, string why)
    {
        var mine = _subscribers.Where(s => s.Collection == collection).ToArray();
        var targets = mine.Select(s => s.Count(StreamEventKind.Change) + more).ToArray();
        return Poll.UntilAsync(() => Task.FromResult(mine.Select(s => s.Count(StreamEventKind.Change)).ToArray()),
            counts => counts.Zip(targets).All(p => p.First >= p.Second), timeout, $"{more} more changes at every subscriber of {collection} ({why})",
            counts => string.Join(", ", counts));
    }

    /// <summary>Stops the writers, writes the markers and checks every collection (see <see cref="Verdict.ReachAsync"/>).</summary>
    public Task<Verdict> FinishAsync(TimeSpan timeout) => Verdict.ReachAsync(_pool, _http, Load, _subscribers, Collections, timeout);

    public async ValueTask DisposeAsync()
    {
        await Load.StopAsync(TimeSpan.FromSeconds(60));
        foreach (var s in _subscribers) await s.DisposeAsync();
    }
}
