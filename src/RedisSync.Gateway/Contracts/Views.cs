using System.Globalization;
using System.Text.Json.Serialization;

namespace RedisSync.Gateway.Contracts;

/// <summary>
/// A write's clock as clients see it. <c>timestamp</c> is left out when the write had none (the version policy
/// counts a missing timestamp as the epoch); <c>site</c>, where the write entered, when no site is configured.
/// </summary>
public sealed record ClockView(
    long Version,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Timestamp,
    string Source,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Site = null)
{
    public static ClockView From(Merge.Clock clock) =>
        new(clock.Version, clock.TimestampMs == 0 ? null : Timestamps.Format(clock.TimestampMs), clock.Source,
            clock.Site.Length == 0 ? null : clock.Site);
}

/// <summary>A record's merged state (CONTRACT §3 "record view").</summary>
public sealed record RecordView(
    string Collection,
    string Id,
    long Revision,
    string? Seq,
    bool Deleted,
    RecordData Data,
    ClockView? Clock,
    string? UpdatedAt)
{
    /// <summary>The clock of every visible field; only with <c>?include=clocks</c>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, ClockView>? Fields { get; init; }
}

/// <summary>The result of one write (CONTRACT §3).</summary>
public sealed record WriteResult(
    string Collection,
    string Id,
    string Outcome,
    bool Created,
    long Revision,
    string? Seq,
    IReadOnlyList<string> StaleFields,
    RecordView Record);

/// <summary>
/// One entry of a collection's change log, as served by /changes and pushed over SignalR. <c>site</c> is where the
/// write whose clock is the record's clock after the change entered (null when no site is configured).
/// </summary>
public sealed record ChangeEvent(
    string Collection,
    string Seq,
    string Id,
    string Kind,
    long Revision,
    string Source,
    string? Site,
    IReadOnlyList<string> ChangedFields,
    RecordView Record);

/// <summary>A page of live records.</summary>
public sealed record RecordPage(IReadOnlyList<RecordView> Items, string? NextCursor, string AsOf);

/// <summary>A page of the change log.</summary>
public sealed record ChangePage(IReadOnlyList<ChangeEvent> Items, string? Next, bool HasMore);

/// <summary>One collection in <c>GET /collections</c>.</summary>
public sealed record CollectionInfo(string Name, string Policy, long Records, string? LastSeq);

/// <summary>Batch request body.</summary>
public sealed record BatchRequest(IReadOnlyList<BatchItem?>? Records);

/// <summary>One item of a batch.</summary>
public sealed record BatchItem(string? Id, string? Op, long? Version, string? Timestamp, string? Source, System.Text.Json.JsonElement? Data);

/// <summary>Body of PUT and PATCH.</summary>
public sealed record WriteRequest(long? Version, string? Timestamp, string? Source, System.Text.Json.JsonElement? Data);

/// <summary>Batch response body.</summary>
public sealed record BatchResult(IReadOnlyList<WriteResult> Results);

/// <summary>Milliseconds since the epoch, as RFC 3339 UTC with milliseconds.</summary>
public static class Timestamps
{
    public static string Format(long ms) =>
        DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
