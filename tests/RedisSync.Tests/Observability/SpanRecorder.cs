using System.Diagnostics;
using System.Threading.Channels;
using OpenTelemetry;

namespace RedisSync.Tests.Observability;

/// <summary>
/// A processor added to a gateway's own tracer provider: every span that provider records and ends, in the order
/// they end, so a test waits for the span it expects instead of polling an exporter's list.
/// </summary>
internal sealed class SpanRecorder : BaseProcessor<Activity>
{
    private readonly Channel<Activity> _ended = Channel.CreateUnbounded<Activity>();
    private readonly List<Activity> _read = [];

    public override void OnEnd(Activity data) => _ended.Writer.TryWrite(data);

    /// <summary>The first ended span that matches, waiting up to <paramref name="timeout"/> for it.</summary>
    public async Task<Activity> FirstAsync(Func<Activity, bool> match, TimeSpan timeout, string what)
    {
        if (_read.FirstOrDefault(match) is { } seen) return seen;
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var span = await _ended.Reader.ReadAsync(cts.Token);
                _read.Add(span);
                if (match(span)) return span;
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no span {what} within {timeout}; ended: {string.Join(", ", _read.Select(a => $"{a.Source.Name}/{a.DisplayName}"))}");
        }
    }
}
