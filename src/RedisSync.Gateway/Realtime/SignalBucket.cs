using System.Diagnostics;

namespace RedisSync.Gateway.Realtime;

/// <summary>
/// One connection's signal allowance (<c>Realtime:SignalsPerSecond</c>): a token bucket refilled
/// continuously, whose burst is the rate itself. Continuous refill rather than
/// System.Threading.RateLimiting's per-period replenishment, which would allow twice the rate across a
/// period boundary or need a timer per connection.
/// </summary>
internal sealed class SignalBucket(int perSecond)
{
    private readonly Lock _lock = new();
    private double _tokens = perSecond;
    private long _refilledAt = Stopwatch.GetTimestamp();

    /// <summary>Takes a token if one is there; a refused call takes nothing.</summary>
    public bool TryTake()
    {
        lock (_lock)
        {
            var now = Stopwatch.GetTimestamp();
            _tokens = Math.Min(perSecond, _tokens + Stopwatch.GetElapsedTime(_refilledAt, now).TotalSeconds * perSecond);
            _refilledAt = now;
            if (_tokens < 1) return false;
            _tokens -= 1;
            return true;
        }
    }
}
