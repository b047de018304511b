using System.Diagnostics.Metrics;
using RedisSync.Gateway.Observability;
using RedisSync.Gateway.Store;

namespace RedisSync.Gateway.Replication;

/// <summary>
/// Replication instruments on the gateway's meter (<c>RedisSync.Gateway</c>), tagged by peer only (peers are
/// configured, so the tag's values are few): states applied by outcome, copies, failures, and the lag.
/// </summary>
internal sealed class ReplicationMetrics
{
    private readonly Counter<long> _applied;
    private readonly Counter<long> _copies;
    private readonly Counter<long> _failures;

    public ReplicationMetrics(IMeterFactory meters, Func<IEnumerable<(string Peer, long LagChanges, long LagMs)>> lag)
    {
        var meter = meters.Create(SyncMetrics.MeterName);
        _applied = meter.CreateCounter<long>("redissync.replication.states", "{state}", "Record states received from peers, by outcome (applied, state_only, unchanged).");
        _copies = meter.CreateCounter<long>("redissync.replication.copies", "{copy}", "Full copies of a peer's collection (its log no longer covered this site's cursor).");
        _failures = meter.CreateCounter<long>("redissync.replication.failures", "{failure}", "Failed attempts to follow a peer's collection.");
        meter.CreateObservableGauge("redissync.replication.lag.changes", () => lag().Select(l => new Measurement<long>(l.LagChanges, new KeyValuePair<string, object?>("peer", l.Peer))),
            "{change}", "Changes a peer has that this site has not applied yet, summed over collections, as of the last contact.");
        // The unit is not in the name: Prometheus adds it (redissync_replication_lag_age_milliseconds).
        meter.CreateObservableGauge("redissync.replication.lag.age", () => lag().Select(l => new Measurement<long>(l.LagMs, new KeyValuePair<string, object?>("peer", l.Peer))),
            "ms", "Age of the oldest change a peer has that this site has not applied, the largest over collections.");
    }

    public void Applied(string peer, IReadOnlyList<StateOutcome> outcomes)
    {
        foreach (var group in outcomes.GroupBy(o => o))
            _applied.Add(group.Count(), new("peer", peer), new("outcome", group.Key switch
            {
                StateOutcome.Applied => "applied",
                StateOutcome.StateOnly => "state_only",
                _ => "unchanged",
            }));
    }

    public void Copy(string peer) => _copies.Add(1, new KeyValuePair<string, object?>("peer", peer));
    public void Failed(string peer) => _failures.Add(1, new KeyValuePair<string, object?>("peer", peer));
}
