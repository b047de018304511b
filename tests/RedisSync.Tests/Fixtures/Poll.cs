using System.Diagnostics;

namespace RedisSync.Tests.Fixtures;

/// <summary>
/// Bounded waits on state that announces no event (a cluster's view of itself, a sentinel's answer):
/// the condition is read again every few milliseconds until it holds or the time is up.
/// </summary>
public static class Poll
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Reads <paramref name="read"/> until <paramref name="done"/> accepts it; returns that value. On timeout,
    /// fails with <paramref name="what"/> and the last value read (or the last exception).
    /// </summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan timeout, string what, Func<T, string>? describe = null)
    {
        var clock = Stopwatch.StartNew();
        var last = "nothing read yet";
        while (true)
        {
            try
            {
                var value = await read().WaitAsync(timeout);
                if (done(value)) return value;
                last = describe?.Invoke(value) ?? value?.ToString() ?? "null";
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                last = $"{e.GetType().Name}: {e.Message}";
            }
            if (clock.Elapsed >= timeout)
                throw new TimeoutException($"timed out after {timeout.TotalSeconds:0.#} s waiting for {what}; last seen: {last}");
            await Task.Delay(Interval);
        }
    }

    /// <summary>Waits until <paramref name="condition"/> is true (exceptions count as false until the timeout).</summary>
    public static Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what) =>
        UntilAsync(condition, ok => ok, timeout, what);
}
