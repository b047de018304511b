using System.Collections.Concurrent;
using System.Diagnostics;
using StackExchange.Redis;

namespace RedisSync.Tests.Topology;

/// <summary>Every connection event a multiplexer raises, timestamped, to report what the library noticed and when.</summary>
internal sealed class MultiplexerEvents
{
    private readonly ConcurrentQueue<(TimeSpan At, string Kind, string EndPoint, string Detail)> _events = new();

    public MultiplexerEvents(IConnectionMultiplexer mux, Stopwatch clock)
    {
        mux.ConnectionFailed += (_, e) => _events.Enqueue((clock.Elapsed, "ConnectionFailed", $"{e.EndPoint}", $"{e.ConnectionType} {e.FailureType}"));
        mux.ConnectionRestored += (_, e) => _events.Enqueue((clock.Elapsed, "ConnectionRestored", $"{e.EndPoint}", $"{e.ConnectionType}"));
        mux.ConfigurationChanged += (_, e) => _events.Enqueue((clock.Elapsed, "ConfigurationChanged", $"{e.EndPoint}", ""));
        mux.ConfigurationChangedBroadcast += (_, e) => _events.Enqueue((clock.Elapsed, "ConfigurationChangedBroadcast", $"{e.EndPoint}", ""));
        mux.HashSlotMoved += (_, e) => _events.Enqueue((clock.Elapsed, "HashSlotMoved", $"{e.NewEndPoint}", $"slot {e.HashSlot} from {e.OldEndPoint}"));
    }

    /// <summary>Events of <paramref name="kind"/> (all kinds when null), oldest first.</summary>
    public IReadOnlyList<(TimeSpan At, string Kind, string EndPoint, string Detail)> Of(string? kind = null) =>
        _events.Where(e => kind is null || e.Kind == kind).ToArray();

    public IEnumerable<string> Lines(TimeSpan since) =>
        _events.Where(e => e.At >= since).Select(e => $"{(e.At - since).TotalMilliseconds,6:0} ms {e.Kind} {e.EndPoint} {e.Detail}");
}
