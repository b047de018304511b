using System.Globalization;

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
/// A write's clock. Ordering lives in merge.lua and nowhere else; this type only carries and formats it.
/// </summary>
public readonly record struct Clock(long Version, long TimestampMs, string Source)
{
    /// <summary>Largest version a client may send: 2^53−1, the largest integer JavaScript holds exactly.</summary>
    public const long MaxVersion = 9_007_199_254_740_991;

    /// <summary>Parses the store's 'version|timestampMs|source' form.</summary>
    public static Clock Parse(string stored)
    {
        var first = stored.IndexOf('|');
        var second = stored.IndexOf('|', first + 1);
        return new Clock(
            long.Parse(stored.AsSpan(0, first), CultureInfo.InvariantCulture),
            long.Parse(stored.AsSpan(first + 1, second - first - 1), CultureInfo.InvariantCulture),
            stored[(second + 1)..]);
    }
}

/// <summary>
/// One validated write, ready for the merge script. <see cref="TimestampMs"/> is null when the Redis
/// server must stamp it (timestamp policy, no timestamp given). Field values are canonical JSON text;
/// in a patch the text <c>null</c> means "remove".
/// </summary>
public sealed record RecordWrite(
    WriteOp Op,
    string Id,
    long Version,
    long? TimestampMs,
    string Source,
    IReadOnlyList<KeyValuePair<string, string>> Fields);
