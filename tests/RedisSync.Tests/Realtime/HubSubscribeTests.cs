using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Realtime.RealtimeHelpers;

namespace RedisSync.Tests.Realtime;

/// <summary>Hub basics: Subscribe/Unsubscribe, replay, live delivery, errors (CONTRACT §4).</summary>
public sealed class HubSubscribeTests(LiveGateway gateway) : IClassFixture<LiveGateway>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task LiveSubscriberReceivesTheMergedRecordOfEachChange()
    {
        var c = Unique.Collection();
        var http = gateway.HttpClient();
        await using var hub = await gateway.ConnectHubAsync();
        var sub = await hub.SubscribeAsync(c);
        Assert.Equal(c, sub.GetProperty("collection").GetString());
        Assert.Equal(0, sub.GetProperty("replayed").GetInt32());
        Assert.False(sub.GetProperty("resyncRequired").GetBoolean());

        var seq = await PutAsync(http, c, "r1", new { name = "John", pi = 3.141592653589793 });
        var change = (await hub.NextChangesAsync(1, Wait))[0];

        Assert.Equal(seq, change.Seq());
        Assert.Equal(c, change.GetProperty("collection").GetString());
        Assert.Equal("r1", change.GetProperty("id").GetString());
        Assert.Equal("upsert", change.GetProperty("kind").GetString());
        Assert.Equal(1, change.GetProperty("revision").GetInt64());
        Assert.Equal("writer", change.GetProperty("source").GetString());
        Assert.Equal(["name", "pi"], change.GetProperty("changedFields").EnumerateArray().Select(f => f.GetString()!).ToArray());
        var record = change.GetProperty("record");
        Assert.Equal("John", record.GetProperty("data").GetProperty("name").GetString());
        Assert.Equal("3.141592653589793", record.GetProperty("data").GetProperty("pi").GetRawText());
        Assert.Equal(seq, record.GetProperty("seq").GetString());
    }

    [Fact]
    public async Task SubscribeWithAfterReplaysExactlyTheMissedChangesThenLiveOnes()
    {
        var c = Unique.Collection();
        var http = gateway.HttpClient();
        var seqs = new List<string>();
        for (var i = 0; i < 6; i++) seqs.Add((await PutAsync(http, c, $"r{i}", new { i }))!);

        await using var hub = await gateway.ConnectHubAsync();
        var sub = await hub.SubscribeAsync(c, seqs[1]);
        Assert.Equal(4, sub.GetProperty("replayed").GetInt32());
        Assert.Equal(seqs[5], sub.GetProperty("last").GetString());
        var replay = await hub.NextChangesAsync(4, Wait);
        Assert.Equal(seqs[2..], replay.Select(ch => ch.Seq()).ToList());

        var live = await PutAsync(http, c, "r-live", new { live = true });
        Assert.Equal(live, (await hub.NextChangesAsync(1, Wait))[0].Seq());
    }

    [Fact]
    public async Task SubscribeWithNullAfterStartsAtTheCollectionsLastSeq()
    {
        var c = Unique.Collection();
        var http = gateway.HttpClient();
        var first = await PutAsync(http, c, "a", new { x = 1 });
        await using var hub = await gateway.ConnectHubAsync();
        var sub = await hub.SubscribeAsync(c);
        Assert.Equal(first, sub.GetProperty("last").GetString());
        var second = await PutAsync(http, c, "b", new { x = 2 });
        Assert.Equal(second, (await hub.NextChangesAsync(1, Wait))[0].Seq());
    }

    [Fact]
    public async Task DeleteIsPushedAsADeleteEvent()
    {
        var c = Unique.Collection();
        var http = gateway.HttpClient();
        await PutAsync(http, c, "r1", new { x = 1 });
        await using var hub = await gateway.ConnectHubAsync();
        await hub.SubscribeAsync(c);
        var response = await http.DeleteAsync($"/api/v1/collections/{c}/records/r1?version=1000000000");
        response.EnsureSuccessStatusCode();
        var change = (await hub.NextChangesAsync(1, Wait))[0];
        Assert.Equal("delete", change.GetProperty("kind").GetString());
        Assert.True(change.GetProperty("record").GetProperty("deleted").GetBoolean());
    }

    [Fact]
    public async Task UnsubscribeStopsDeliveryOfThatCollectionOnly()
    {
        var (a, b) = (Unique.Collection(), Unique.Collection());
        var http = gateway.HttpClient();
        await using var hub = await gateway.ConnectHubAsync();
        await hub.SubscribeAsync(a);
        await hub.SubscribeAsync(b);
        await hub.InvokeAsync("Unsubscribe", a);

        await PutAsync(http, a, "ignored", new { x = 1 });
        await PutAsync(http, b, "b1", new { x = 1 });
        await PutAsync(http, b, "b2", new { x = 2 });
        var received = await hub.ChangesUntilAsync("b2", Wait);
        Assert.All(received, ch => Assert.Equal(b, ch.GetProperty("collection").GetString()));
        Assert.Equal(["b1", "b2"], received.Select(ch => ch.GetProperty("id").GetString()!).ToArray());
    }

    [Fact]
    public async Task AfterBeyondTheCollectionsLastSeqRequiresResync()
    {
        var c = Unique.Collection();
        var http = gateway.HttpClient();
        await PutAsync(http, c, "r1", new { x = 1 });
        await using var hub = await gateway.ConnectHubAsync();
        var sub = await hub.SubscribeAsync(c, "99999999999999-0");
        Assert.True(sub.GetProperty("resyncRequired").GetBoolean());
        // ...and it is subscribed live from now.
        var seq = await PutAsync(http, c, "r2", new { x = 2 });
        Assert.Equal(seq, (await hub.NextChangesAsync(1, Wait))[0].Seq());
    }

    [Fact]
    public async Task SubscribeOutsideTheKeysCollectionsIsForbidden()
    {
        await using var hub = await gateway.ConnectHubAsync(TestKeys.OrdersOnly);
        var error = await Assert.ThrowsAsync<HubException>(() => hub.SubscribeAsync("customers"));
        Assert.Contains("HubException: forbidden:", error.Message);
        var ok = await hub.SubscribeAsync("orders");
        Assert.Equal("orders", ok.GetProperty("collection").GetString());
    }

    [Theory]
    [InlineData("Bad Name", null, "validation")]
    [InlineData("ok", "not-a-seq", "validation")]
    [InlineData("ok", "1-2-3", "validation")]
    public async Task InvalidSubscribeArgumentsAreHubErrors(string collection, string? after, string code)
    {
        await using var hub = await gateway.ConnectHubAsync();
        var error = await Assert.ThrowsAsync<HubException>(() => hub.SubscribeAsync(collection, after));
        Assert.Contains($"HubException: {code}:", error.Message);
        // The connection stays usable.
        Assert.Equal(0, (await hub.SubscribeAsync(Unique.Collection())).GetProperty("replayed").GetInt32());
    }

    [Fact]
    public async Task SubscribingBeyondTheLimitFailsWithAProblemCode()
    {
        // CONTRACT §7: every failing hub method's message begins with a problem code, this limit's too (§5).
        await using var hub = await gateway.ConnectHubAsync();
        var limit = new RedisSync.Gateway.Realtime.RealtimeOptions().MaxSubscriptionsPerConnection;
        for (var i = 0; i < limit; i++) await hub.SubscribeAsync(Unique.Collection());
        var error = await Assert.ThrowsAsync<HubException>(() => hub.SubscribeAsync(Unique.Collection()));
        Assert.Matches("HubException: (validation|forbidden|payload-too-large|rate-limited|unavailable): ", error.Message);
    }

    [Fact]
    public async Task ConnectingWithoutAValidKeyIsRefused()
    {
        // The client negotiates first: the refusal is that request's 401.
        foreach (var key in new[] { null, "not-a-key-at-all-000000" })
        {
            var refused = await Assert.ThrowsAsync<HttpRequestException>(() => HubTestClient.ConnectAsync(gateway.Address, key));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }
    }

    [Fact]
    public async Task AClientThatDropsAndResumesFromItsLastSeqGetsExactlyWhatItMissed()
    {
        var c = Unique.Collection();
        var http = gateway.HttpClient();
        var first = await gateway.ConnectHubAsync();
        await first.SubscribeAsync(c);
        await PutAsync(http, c, "a", new { n = 1 });
        await PutAsync(http, c, "b", new { n = 2 });
        var seen = await first.NextChangesAsync(2, Wait);
        first.Abort();
        await first.DisposeAsync();

        var missed = new List<string>();
        for (var i = 0; i < 5; i++) missed.Add((await PutAsync(http, c, $"m{i}", new { i }))!);

        await using var second = await gateway.ConnectHubAsync();
        var sub = await second.SubscribeAsync(c, seen[^1].Seq());
        Assert.Equal(5, sub.GetProperty("replayed").GetInt32());
        Assert.Equal(missed, (await second.NextChangesAsync(5, Wait)).Select(ch => ch.Seq()).ToList());
    }

    [Fact]
    public async Task SubscribingAgainReplacesTheSubscriptionWithoutDuplicates()
    {
        var c = Unique.Collection();
        var http = gateway.HttpClient();
        var s1 = await PutAsync(http, c, "a", new { n = 1 });
        await using var hub = await gateway.ConnectHubAsync();
        await hub.SubscribeAsync(c);
        await hub.SubscribeAsync(c, s1);
        var s2 = await PutAsync(http, c, "b", new { n = 2 });
        var s3 = await PutAsync(http, c, "c", new { n = 3 });
        var got = await hub.ChangesUntilAsync("c", Wait);
        Assert.Equal([s2!, s3!], got.Select(ch => ch.Seq()).ToArray());
    }
}
