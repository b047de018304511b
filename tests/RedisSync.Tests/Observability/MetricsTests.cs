using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using RedisSync.Gateway.Observability;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Realtime.RealtimeHelpers;

namespace RedisSync.Tests.Observability;

/// <summary>The RedisSync.Gateway meter records what dotnet-counters would show.</summary>
public sealed class MetricsTests(LiveGateway gateway) : IClassFixture<LiveGateway>
{
    [Fact]
    public async Task WritesDeliveriesSubscriptionsAndReplaysAreMeasured()
    {
        var totals = new ConcurrentDictionary<string, long>();
        using var listener = new MeterListener
        {
            // Other test classes run gateways in this process too: count only this gateway's meter.
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == SyncMetrics.MeterName && MeterBelongsToThisGateway(instrument.Meter))
                    l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var key = instrument.Name;
            foreach (var tag in tags) if (tag.Key == "outcome") key += ":" + tag.Value;
            totals.AddOrUpdate(key, value, (_, v) => v + value);
        });
        listener.Start();

        var c = Unique.Collection();
        var http = gateway.HttpClient();
        var first = await PutAsync(http, c, "r1", new { a = 1 });
        await PutAsync(http, c, "r1", new { a = 2 });
        await using var hub = await gateway.ConnectHubAsync();
        await hub.SubscribeAsync(c, first);                      // replays one change
        await hub.NextChangesAsync(1, TimeSpan.FromSeconds(15));
        await PutAsync(http, c, "r2", new { b = 1 });            // delivered live
        await hub.NextChangesAsync(1, TimeSpan.FromSeconds(15));

        Assert.True(totals.GetValueOrDefault("redissync.writes:applied") >= 3);
        Assert.True(totals.GetValueOrDefault("redissync.changes.published") >= 3);
        Assert.True(totals.GetValueOrDefault("redissync.changes.delivered") >= 1);
        Assert.True(totals.GetValueOrDefault("redissync.replays") >= 1);
        Assert.True(totals.GetValueOrDefault("redissync.replays.changes") >= 1);
        Assert.True(totals.GetValueOrDefault("redissync.subscriptions.active") >= 1);
        Assert.True(totals.GetValueOrDefault("redissync.connections.active") >= 1);
    }

    // The host's IMeterFactory creates one Meter per host; the one resolved from this gateway is ours.
    private bool MeterBelongsToThisGateway(Meter meter) =>
        ReferenceEquals(meter.Scope, gateway.Services.GetService(typeof(IMeterFactory)));
}
