using System.ComponentModel.DataAnnotations;

namespace RedisSync.Gateway.Realtime;

/// <summary>SignalR delivery settings (section <c>Realtime</c>).</summary>
public sealed class RealtimeOptions
{
    /// <summary>Collections one connection may subscribe to at once.</summary>
    [Range(1, 10_000)]
    public int MaxSubscriptionsPerConnection { get; set; } = 100;

    /// <summary>SignalR connections one API key may hold open at once.</summary>
    [Range(1, 1_000_000)]
    public int MaxConnectionsPerKey { get; set; } = 2000;

    /// <summary>
    /// Messages queued for one connection before it counts as too slow and is disconnected (it can resume
    /// from its last seq). Bounds memory per connection; a slow client never holds up anyone else.
    /// </summary>
    [Range(16, 10_000_000)]
    public int OutboundBufferLength { get; set; } = 10_000;

    /// <summary>Change-log entries read per round trip when replaying or backfilling.</summary>
    [Range(10, 10_000)]
    public int ReplayPageSize { get; set; } = 1000;

    /// <summary>How often each collection feed checks the change log for anything pub/sub did not bring.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan BackfillInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Largest signal payload, counted as compact JSON text in UTF-8 whichever protocol carried it (CONTRACT §7).</summary>
    [Range(2, 1024 * 1024)]
    public int MaxSignalBytes { get; set; } = 4096;

    /// <summary>Signals one connection may send per second: a token bucket whose burst is the same number.</summary>
    [Range(1, 100_000)]
    public int SignalsPerSecond { get; set; } = 50;

    /// <summary>
    /// How soon the members of a gateway instance that died leave (CONTRACT §7). Each instance renews its
    /// lease every sixth of it; a lease not renewed for two thirds of it is expired by a survivor.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan PresenceTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
