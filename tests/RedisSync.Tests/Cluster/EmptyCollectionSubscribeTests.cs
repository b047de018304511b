using System.Net.Http.Json;
using System.Text.Json;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Realtime.RealtimeHelpers;

namespace RedisSync.Tests.Cluster;

/// <summary>
/// Found by the cluster tests' clients, which load the records first and subscribe from their asOf: for a collection
/// nobody has written yet that asOf is "0-0", which the README calls a valid position and which <c>/changes</c>
/// accepts, but <c>Subscribe</c> answers it with <c>resyncRequired</c>, so such a client reloads and resubscribes in
/// a loop until the first write.
/// </summary>
public sealed class EmptyCollectionSubscribeTests(LiveGateway gateway) : IClassFixture<LiveGateway>
{
    [Fact]
    public async Task SubscribingFromTheAsOfOfAnEmptyCollectionNeedsNoResyncAndDeliversItsFirstChange()
    {
        var c = Unique.Collection("empty");
        var http = gateway.HttpClient();
        var page = await http.GetFromJsonAsync<JsonElement>($"/api/v1/collections/{c}/records");
        var asOf = page.GetProperty("asOf").GetString();
        Assert.Equal("0-0", asOf);

        await using var hub = await gateway.ConnectHubAsync();
        var subscribed = await hub.SubscribeAsync(c, asOf);
        Assert.False(subscribed.GetProperty("resyncRequired").GetBoolean(), $"Subscribe({c}, {asOf}) answered {subscribed}");

        var seq = await PutAsync(http, c, "first", new { x = 1 });
        Assert.Equal(seq, (await hub.NextChangesAsync(1, TimeSpan.FromSeconds(15)))[0].Seq());
    }
}
