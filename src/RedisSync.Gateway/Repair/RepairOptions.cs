using System.ComponentModel.DataAnnotations;

namespace RedisSync.Gateway.Repair;

/// <summary>Digests, scrub and repair (section <c>Repair</c>, CONTRACT §10).</summary>
public sealed class RepairOptions
{
    /// <summary>How often each site compares its digests with every peer and repairs what differs.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How often the digests are rebuilt from the stored records (finds what changed behind the gateway's back).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan ScrubInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Records a scrub checks per second at most, so it never competes with writes for Redis.</summary>
    [Range(100, 10_000_000)]
    public int ScrubRecordsPerSecond { get; set; } = 20_000;
}
