namespace RedisSync.Gateway.Merge;

/// <summary>How a collection orders clocks (CONTRACT §2).</summary>
public enum MergePolicy
{
    /// <summary>Version, then timestamp, then source.</summary>
    Version,
    /// <summary>Timestamp, then version, then source (last writer wins).</summary>
    Timestamp,
}

/// <summary>The kind of a write.</summary>
public enum WriteOp { Put, Patch, Delete }

/// <summary>What one write did to its record.</summary>
public enum WriteOutcome { Applied, Unchanged, Stale, Conflict }

/// <summary>
/// A write's clock, with the site where the write entered (provenance, CONTRACT §9). The order of clocks is
/// <see cref="ClockOrder"/>'s and ignores <see cref="Site"/>; the site only says where a clock came from.
/// </summary>
/// <param name="Site">The site's name, or "" when replication is not configured.</param>
public readonly record struct Clock(long Version, long TimestampMs, string Source, string Site = "")
{
    /// <summary>Largest version a client may send: 2^53−1, the largest integer JavaScript holds exactly.</summary>
    public const long MaxVersion = 9_007_199_254_740_991;
}

/// <summary>The total order of clocks under a policy. Sources compare ordinally (byte-wise: they are ASCII).</summary>
public static class ClockOrder
{
    public static int Compare(in Clock a, in Clock b, MergePolicy policy)
    {
        long p1, p2, q1, q2;
        if (policy == MergePolicy.Timestamp) (p1, p2, q1, q2) = (a.TimestampMs, b.TimestampMs, a.Version, b.Version);
        else (p1, p2, q1, q2) = (a.Version, b.Version, a.TimestampMs, b.TimestampMs);
        if (p1 != p2) return p1 < p2 ? -1 : 1;
        if (q1 != q2) return q1 < q2 ? -1 : 1;
        return Math.Sign(string.CompareOrdinal(a.Source, b.Source));
    }
}

/// <summary>
/// One validated write, ready for the merge. <see cref="TimestampMs"/> is null when the Redis server must stamp
/// it (timestamp policy, no timestamp given). Field values are canonical JSON text; in a patch the text
/// <c>null</c> means "remove".
/// </summary>
public sealed record RecordWrite(
    WriteOp Op,
    string Id,
    long Version,
    long? TimestampMs,
    string Source,
    IReadOnlyList<KeyValuePair<string, string>> Fields);
