using System.Diagnostics.Metrics;

namespace RedisSync.Gateway.Observability;

/// <summary>
/// The gateway's meter, <c>RedisSync.Gateway</c>: watch it live with
/// <c>dotnet-counters monitor -n RedisSync.Gateway --counters RedisSync.Gateway</c>. No instrument is
/// tagged by collection or key, so cardinality stays fixed however many collections exist.
/// </summary>
public sealed class SyncMetrics
{
    public const string MeterName = "RedisSync.Gateway";

    private readonly Counter<long> _writes;
    private readonly Counter<long> _published;
    private readonly Counter<long> _delivered;
    private readonly UpDownCounter<long> _subscriptions;
    private readonly UpDownCounter<long> _connections;
    private readonly Counter<long> _replays;
    private readonly Counter<long> _replayedChanges;
    private readonly Counter<long> _backfills;
    private readonly Counter<long> _backfilledChanges;
    private readonly Counter<long> _resyncs;
    private readonly Counter<long> _redisReconnects;
    private readonly Counter<long> _slowDisconnects;
    private readonly Histogram<int> _callsPerCommit;

    public SyncMetrics(IMeterFactory meterFactory) : this(meterFactory.Create(MeterName)) { }

    private SyncMetrics(Meter meter)
    {
        _writes = meter.CreateCounter<long>("redissync.writes", "{write}", "Writes processed, by outcome (applied, unchanged, stale, conflict).");
        _published = meter.CreateCounter<long>("redissync.changes.published", "{change}", "Changes appended to change logs and published through Redis by this instance.");
        _delivered = meter.CreateCounter<long>("redissync.changes.delivered", "{change}", "Change messages queued to subscribed connections (one per change per subscriber).");
        _subscriptions = meter.CreateUpDownCounter<long>("redissync.subscriptions.active", "{subscription}", "Active hub subscriptions on this instance.");
        _connections = meter.CreateUpDownCounter<long>("redissync.connections.active", "{connection}", "Open hub connections on this instance.");
        _replays = meter.CreateCounter<long>("redissync.replays", "{replay}", "Subscribe calls that replayed from the change log.");
        _replayedChanges = meter.CreateCounter<long>("redissync.replays.changes", "{change}", "Changes sent by replays.");
        _backfills = meter.CreateCounter<long>("redissync.backfills", "{backfill}", "Times a feed read changes from the log that pub/sub had not brought.");
        _backfilledChanges = meter.CreateCounter<long>("redissync.backfills.changes", "{change}", "Changes delivered by backfills.");
        _resyncs = meter.CreateCounter<long>("redissync.resyncs", "{resync}", "Resync notices: positions no longer covered by the change log.");
        _redisReconnects = meter.CreateCounter<long>("redissync.redis.reconnects", "{reconnect}", "Redis connections restored after a failure.");
        _callsPerCommit = meter.CreateHistogram<int>("redissync.commit.calls", "{call}", "Write calls (requests, batches, peer pages) carried by one group commit.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256] });
        _slowDisconnects = meter.CreateCounter<long>("redissync.connections.dropped_slow", "{connection}", "Connections cut off because their outbound buffer overflowed.");
    }

    /// <summary>Instruments on a meter of their own, for code used outside the host (tools, tests).</summary>
    public static SyncMetrics Detached() => new(new Meter(MeterName));

    public void Write(string outcome) => _writes.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
    public void Published(int changes) => _published.Add(changes);
    public void Delivered() => _delivered.Add(1);
    public void SubscriptionOpened() => _subscriptions.Add(1);
    public void SubscriptionClosed() => _subscriptions.Add(-1);
    public void ConnectionOpened() => _connections.Add(1);
    public void ConnectionClosed() => _connections.Add(-1);
    public void Replayed(int changes) { _replays.Add(1); _replayedChanges.Add(changes); }
    public void Backfilled(int changes) { _backfills.Add(1); _backfilledChanges.Add(changes); }
    public void Resync() => _resyncs.Add(1);
    public void RedisReconnected() => _redisReconnects.Add(1);
    public void DroppedSlow() => _slowDisconnects.Add(1);
    public void Committed(int calls) => _callsPerCommit.Record(calls);
}
