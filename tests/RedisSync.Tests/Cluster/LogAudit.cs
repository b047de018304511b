using System.Net.Http.Json;
using System.Text.Json;
using RedisSync.Gateway.Store;

namespace RedisSync.Tests.Cluster;

/// <summary>One change-log entry as <c>/changes</c> serves it: enough to check streams and writes against.</summary>
public sealed record LoggedChange(string Seq, string Id, string Kind, long Revision, long? Version);

/// <summary>A record as <c>GET …/records</c> serves it.</summary>
public sealed record ServedRecord(string Id, long Revision, string? Seq, long? Version, JsonElement Data);

/// <summary>
/// A collection once the load stopped: its whole change log and every live record, read over HTTP from one
/// instance. Streams, acknowledged writes and clients' views are checked against it.
/// </summary>
public sealed class FinalState
{
    private readonly Dictionary<string, int> _index;

    private FinalState(string collection, List<LoggedChange> log, Dictionary<string, ServedRecord> records, string? asOf)
    {
        Collection = collection;
        Log = log;
        Records = records;
        AsOf = asOf;
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < log.Count; i++) _index[log[i].Seq] = i;
    }

    public string Collection { get; }
    public IReadOnlyList<LoggedChange> Log { get; }
    public IReadOnlyDictionary<string, ServedRecord> Records { get; }

    /// <summary>The records' asOf: equal to the log's last seq when nothing was written between the two reads.</summary>
    public string? AsOf { get; }

    public string? LastSeq => Log.Count == 0 ? null : Log[^1].Seq;

    /// <summary>Position of <paramref name="seq"/> in the log; -1 for the start ("0-0"); null when the log does not hold it.</summary>
    public int? IndexOf(string seq) => seq == "0-0" ? -1 : _index.TryGetValue(seq, out var i) ? i : null;

    public static async Task<FinalState> ReadAsync(HttpClient http, Uri gateway, string collection, CancellationToken ct = default)
    {
        var log = new List<LoggedChange>();
        string? after = null;
        for (var page = 0; page < 10_000; page++)
        {
            var url = $"/api/v1/collections/{collection}/changes?limit=1000" + (after is null ? "" : $"&after={after}");
            var body = await http.GetFromJsonAsync<JsonElement>(new Uri(gateway, url), ct);
            foreach (var item in body.GetProperty("items").EnumerateArray())
            {
                var record = item.GetProperty("record");
                log.Add(new LoggedChange(item.GetProperty("seq").GetString()!, item.GetProperty("id").GetString()!, item.GetProperty("kind").GetString()!,
                    item.GetProperty("revision").GetInt64(), VersionOf(record)));
            }
            after = body.GetProperty("next").GetString();
            if (!body.GetProperty("hasMore").GetBoolean()) break;
        }
        var records = new Dictionary<string, ServedRecord>(StringComparer.Ordinal);
        string? asOf = null, cursor = null;
        for (var page = 0; page < 10_000; page++)
        {
            var url = $"/api/v1/collections/{collection}/records?limit=1000" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}");
            var body = await http.GetFromJsonAsync<JsonElement>(new Uri(gateway, url), ct);
            asOf ??= body.GetProperty("asOf").GetString();
            foreach (var item in body.GetProperty("items").EnumerateArray())
            {
                var id = item.GetProperty("id").GetString()!;
                records[id] = new ServedRecord(id, item.GetProperty("revision").GetInt64(), item.GetProperty("seq").GetString(), VersionOf(item), item.GetProperty("data").Clone());
            }
            cursor = body.GetProperty("nextCursor").GetString();
            if (cursor is null) break;
        }
        return new FinalState(collection, log, records, asOf);
    }

    private static long? VersionOf(JsonElement record) =>
        record.TryGetProperty("clock", out var clock) && clock.ValueKind == JsonValueKind.Object
        && clock.TryGetProperty("version", out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : null;

    /// <summary>
    /// Differences between two instances' (or a client's and the server's) views: ids missing on either side, and
    /// records whose revision or data differ. Empty when they are equal.
    /// </summary>
    public static List<string> Differences(IReadOnlyDictionary<string, (long Revision, JsonElement Data)> expected,
        IReadOnlyDictionary<string, (long Revision, JsonElement Data)> actual, int max = 5)
    {
        var differences = new List<string>();
        foreach (var (id, e) in expected)
        {
            if (!actual.TryGetValue(id, out var a)) differences.Add($"{id} missing");
            else if (a.Revision != e.Revision || !JsonElement.DeepEquals(a.Data, e.Data))
                differences.Add($"{id}: revision {a.Revision} {a.Data.GetRawText()} instead of {e.Revision} {e.Data.GetRawText()}");
        }
        foreach (var id in actual.Keys.Where(id => !expected.ContainsKey(id))) differences.Add($"{id} extra");
        return differences.Take(max).ToList();
    }

    public IReadOnlyDictionary<string, (long Revision, JsonElement Data)> View() =>
        Records.ToDictionary(r => r.Key, r => (r.Value.Revision, r.Value.Data), StringComparer.Ordinal);

    public static IReadOnlyDictionary<string, (long Revision, JsonElement Data)> View(IReadOnlyDictionary<string, HeldRecord> held) =>
        held.ToDictionary(r => r.Key, r => (r.Value.Revision, r.Value.Data), StringComparer.Ordinal);
}

/// <summary>
/// Acknowledged writes checked against the final state. Lost: the record is gone or its clock is older than the
/// acknowledged write's. Duplicated: one write (record and version) applied more than once, i.e. two log entries.
/// </summary>
public sealed record WriteAudit(int Acknowledged, IReadOnlyList<string> Lost, int Duplicated)
{
    public static WriteAudit Of(FinalState final, IEnumerable<AcknowledgedWrite> acknowledged)
    {
        var acks = acknowledged.Where(a => a.Collection == final.Collection).ToList();
        var lost = new List<string>();
        foreach (var ack in acks)
            if (!final.Records.TryGetValue(ack.Id, out var record) || record.Version is not { } v || v < ack.Version)
                lost.Add($"{final.Collection}/{ack.Id} v{ack.Version} ({ack.Outcome} at {ack.Seq}); now {(record is null ? "absent" : $"v{record.Version}")}");
        var duplicated = final.Log.Where(e => e.Kind != "state" && e.Version is not null)
            .GroupBy(e => (e.Id, e.Version)).Count(g => g.Count() > 1);
        return new WriteAudit(acks.Count, lost, duplicated);
    }
}

/// <summary>
/// One subscriber's stream checked against the final change log. Per connection, every change must be the entry
/// that follows the previous one in the log (from where the subscription started): otherwise a gap, or a duplicate
/// when it is not after the position. A change the log no longer holds was taken back by a failover: the client may
/// receive it, but then the stream must end in a resync (or, after a drop, in <c>resyncRequired</c>) before any
/// further change, and its view is reloaded. The stream must end at the log's end.
/// </summary>
public sealed record StreamAudit(int Changes, int Gaps, int Duplicates, int KeptTakenBack, int TakenBackDelivered, int Resyncs,
    int Resumes, bool EndsAtLogEnd, IReadOnlyList<string> Problems)
{
    public bool Clean => Gaps == 0 && Duplicates == 0 && KeptTakenBack == 0 && EndsAtLogEnd && Problems.Count == 0;

    public static StreamAudit Of(FinalState final, IReadOnlyList<StreamEvent> events)
    {
        int changes = 0, gaps = 0, duplicates = 0, keptTakenBack = 0, takenBack = 0, resyncs = 0, resumes = 0;
        var problems = new List<string>();
        string? position = null;
        foreach (var e in events)
        {
            switch (e.Kind)
            {
                case StreamEventKind.Reloaded:
                    position = e.Seq;
                    break;
                case StreamEventKind.Resumed:
                    resumes++;
                    if (position != e.Seq) problems.Add($"resumed from {e.Seq} while at {position}");
                    break;
                case StreamEventKind.ResyncRequired:
                case StreamEventKind.Resync:
                    resyncs++;
                    position = null;
                    break;
                case StreamEventKind.Change:
                    changes++;
                    var seq = e.Seq!;
                    if (position is null)
                    {
                        problems.Add($"change {seq} outside a subscription");
                    }
                    else if (Seq.Compare(seq, position) <= 0)
                    {
                        duplicates++;
                        if (problems.Count < 10) problems.Add($"duplicate or out of order: {seq} after {position}");
                    }
                    else if (final.IndexOf(seq) is not { } at)
                    {
                        takenBack++; // delivered, then taken back by a failover: acceptable only if a resync follows
                    }
                    else if (final.IndexOf(position) is not { } from)
                    {
                        keptTakenBack++;
                        if (problems.Count < 10) problems.Add($"{seq} delivered after {position}, a change the log no longer holds, without a resync");
                    }
                    else if (at != from + 1)
                    {
                        gaps++;
                        if (problems.Count < 10) problems.Add($"gap: {seq} after {position}, {at - from - 1} entries missed");
                    }
                    if (position is not null && Seq.Compare(seq, position) > 0) position = seq;
                    break;
            }
        }
        var ends = position == (final.LastSeq ?? "0-0");
        if (!ends) problems.Add($"ends at {position}, the log at {final.LastSeq}");
        return new StreamAudit(changes, gaps, duplicates, keptTakenBack, takenBack, resyncs, resumes, ends, problems);
    }

    public override string ToString() =>
        $"{Changes} changes, {Gaps} gaps, {Duplicates} duplicates, {TakenBackDelivered} taken back then resynced, {KeptTakenBack} kept after being taken back, " +
        $"{Resyncs} resyncs, {Resumes} resumes{(EndsAtLogEnd ? "" : ", NOT at the log's end")}{(Problems.Count > 0 ? ": " + string.Join("; ", Problems) : "")}";
}
