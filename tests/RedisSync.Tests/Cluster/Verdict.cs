using System.Text;
using System.Text.Json;

namespace RedisSync.Tests.Cluster;

/// <summary>One collection at the end of a run: its final state and what was checked against it.</summary>
public sealed record CollectionVerdict(
    string Collection,
    FinalState Final,
    WriteAudit Writes,
    IReadOnlyList<StreamAudit> Streams,
    IReadOnlyList<string> ViewDifferences,
    IReadOnlyList<string> InstanceDifferences,
    bool LogWentBack)
{
    /// <summary>Resyncs where the log never went back: the gateway gave up on continuity it could have kept.</summary>
    public int UnjustifiedResyncs => LogWentBack ? 0 : Streams.Sum(s => s.Resyncs);
}

/// <summary>
/// The end of a run under faults: the writers stop, a marker is written to every collection once the topology has
/// settled, every subscriber must reach it, then each collection's final state is read from every live instance and
/// the acknowledged writes, the subscribers' streams and views, and the instances' views are checked against it.
/// </summary>
public sealed class Verdict
{
    private Verdict(IReadOnlyList<CollectionVerdict> collections, WriteLoad load)
    {
        Collections = collections;
        Load = load;
    }

    public IReadOnlyList<CollectionVerdict> Collections { get; }
    public WriteLoad Load { get; }

    public int Acknowledged => Collections.Sum(c => c.Writes.Acknowledged);
    public IReadOnlyList<string> Lost => Collections.SelectMany(c => c.Writes.Lost).ToArray();
    public int Duplicated => Collections.Sum(c => c.Writes.Duplicated);
    public IEnumerable<StreamAudit> Streams => Collections.SelectMany(c => c.Streams);
    public int Gaps => Streams.Sum(s => s.Gaps);
    public int StreamDuplicates => Streams.Sum(s => s.Duplicates);
    public int KeptTakenBack => Streams.Sum(s => s.KeptTakenBack);
    public int Resyncs => Streams.Sum(s => s.Resyncs);
    public int UnjustifiedResyncs => Collections.Sum(c => c.UnjustifiedResyncs);
    public int StreamsNotAtLogEnd => Streams.Count(s => !s.EndsAtLogEnd);
    public IReadOnlyList<string> ViewDifferences => Collections.SelectMany(c => c.ViewDifferences.Select(d => $"{c.Collection}: {d}")).ToArray();
    public IReadOnlyList<string> InstanceDifferences => Collections.SelectMany(c => c.InstanceDifferences.Select(d => $"{c.Collection}: {d}")).ToArray();

    /// <summary>Every invariant that holds whatever Redis:AckReplicas is (lost writes are judged by the caller).</summary>
    public IReadOnlyList<string> Violations()
    {
        var v = new List<string>();
        if (Load.Unexpected.Count > 0) v.Add($"{Load.Unexpected.Count} answers neither 2xx nor 503, e.g. {Load.Unexpected.First()}");
        if (Duplicated > 0) v.Add($"{Duplicated} writes applied twice");
        foreach (var c in Collections)
            foreach (var s in c.Streams.Where(s => !s.Clean)) v.Add($"{c.Collection}: stream {s}");
        if (UnjustifiedResyncs > 0) v.Add($"{UnjustifiedResyncs} resyncs where the log never went back");
        v.AddRange(ViewDifferences.Select(d => "client view: " + d));
        v.AddRange(InstanceDifferences.Select(d => "instances: " + d));
        return v;
    }

    public string Summary()
    {
        var text = new StringBuilder();
        var answers = string.Join(", ", Load.Answers.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Value} x {a.Key}"));
        text.AppendLine($"writes: {Acknowledged} acknowledged, {Lost.Count} lost, {Duplicated} duplicated, {Load.Abandoned} abandoned after retrying; answers {answers}");
        text.AppendLine($"longest unavailability seen by a writer: {Load.LongestOutage.TotalMilliseconds:0} ms");
        text.AppendLine($"subscribers: {Streams.Count()} streams, {Streams.Sum(s => s.Changes)} changes, {Gaps} gaps, {StreamDuplicates} duplicates, " +
                        $"{Streams.Sum(s => s.TakenBackDelivered)} changes taken back by a failover (each followed by a resync), {KeptTakenBack} kept, " +
                        $"{Resyncs} resyncs ({UnjustifiedResyncs} where the log never went back), {Streams.Sum(s => s.Resumes)} resumes, {StreamsNotAtLogEnd} not at the log's end");
        foreach (var c in Collections)
            text.AppendLine($"  {c.Collection}: {c.Final.Log.Count} log entries, {c.Final.Records.Count} records, {c.Writes.Acknowledged} acknowledged, " +
                            $"{c.Writes.Lost.Count} lost{(c.LogWentBack ? ", the log went back" : "")}; {string.Join(" / ", c.Streams.Select(s => $"{s.Changes} ch {s.Resyncs} rs"))}");
        foreach (var lost in Lost.Take(10)) text.AppendLine("  lost: " + lost);
        foreach (var violation in Violations().Take(20)) text.AppendLine("  VIOLATION " + violation);
        return text.ToString();
    }

    /// <summary>
    /// Stops the load, writes the markers, waits for every subscriber to reach them and checks everything. Call once
    /// the cluster is healthy again; every wait is bounded by <paramref name="timeout"/>.
    /// </summary>
    public static async Task<Verdict> ReachAsync(GatewayPool pool, HttpClient http, WriteLoad load, IReadOnlyList<TrackedSubscriber> subscribers,
        IReadOnlyList<string> collections, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        await load.StopAsync(timeout);
        var markers = new Dictionary<string, string>(StringComparer.Ordinal);
        // The marker is the last write of the run: once a subscriber holds it, it holds everything before it.
        foreach (var c in collections) markers[c] = await WriteLoad.PutUntilAcknowledgedAsync(pool, http, c, "end-marker", deadline.Token);
        foreach (var s in subscribers) await s.WaitForAsync(markers[s.Collection], timeout);

        var verdicts = new List<CollectionVerdict>();
        foreach (var c in collections)
        {
            var instances = pool.Live;
            var final = await FinalState.ReadAsync(http, instances[0], c, deadline.Token);
            var instanceDifferences = new List<string>();
            foreach (var other in instances.Skip(1))
            {
                var seen = await FinalState.ReadAsync(http, other, c, deadline.Token);
                instanceDifferences.AddRange(FinalState.Differences(final.View(), seen.View()).Select(d => $"{other}: {d}"));
                if (!seen.Log.Select(e => e.Seq).SequenceEqual(final.Log.Select(e => e.Seq)))
                    instanceDifferences.Add($"{other}: a different change log ({seen.Log.Count} entries, last {seen.LastSeq}; {final.Log.Count}, last {final.LastSeq})");
            }
            var mine = subscribers.Where(s => s.Collection == c).ToArray();
            var writes = WriteAudit.Of(final, load.Acknowledged);
            var streams = mine.Select(s => StreamAudit.Of(final, s.Events)).ToArray();
            var viewDifferences = mine.SelectMany(s => FinalState.Differences(final.View(), FinalState.View(s.Records))).ToArray();
            var wentBack = writes.Lost.Count > 0
                || mine.SelectMany(s => s.Events).Any(e => e.Kind is StreamEventKind.Change or StreamEventKind.Reloaded && final.IndexOf(e.Seq!) is null)
                || load.Acknowledged.Any(a => a.Collection == c && a.Seq is not null && final.IndexOf(a.Seq) is null);
            verdicts.Add(new CollectionVerdict(c, final, writes, streams, viewDifferences, instanceDifferences, wentBack));
        }
        return new Verdict(verdicts, load);
    }
}
