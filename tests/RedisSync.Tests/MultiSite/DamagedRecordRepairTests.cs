using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using RedisSync.Gateway.Store;
using RedisSync.Tests.Fixtures;
using StackExchange.Redis;
using static RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.MultiSite;

/// <summary>
/// CONTRACT §10 from the damaged site's side, when the repair runs at its peer: the peer looks up nothing here (a
/// damaged record is not handed out) and pushes its own states with <c>POST /replication/collections/{c}/records</c>.
/// What this site then holds must be the peer's copy, and the record must be handed out again. Found by the bench's
/// sites phase, whose repair on site a left site b with a different root.
/// </summary>
public sealed class DamagedRecordRepairTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    private readonly HttpClient _client = gateway.ClientWithKey();
    private readonly HttpClient _peer = gateway.ClientWithKey(TestKeys.Peer);

    [Fact]
    public async Task OnlyAPeerSitesKeyMayApplyRecordStates()
    {
        // States carry any clock, source and site: a client's key, even one that reads and writes everything, may not.
        var c = Unique.Collection("apply");
        var body = "{\"items\":[{\"id\":\"r1\",\"state\":{\"floor\":null,\"floorKind\":null,\"fields\":[{\"name\":\"a\",\"clock\":{\"version\":1,\"timestamp\":0,\"source\":\"x\",\"site\":\"\"},\"value\":\"1\"}]}}]}";
        var refused = await _client.PostAsync($"/api/v1/replication/collections/{c}/records", new StringContent(body, Encoding.UTF8, "application/json"));
        await refused.ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await _client.GetAsync(Record(c, "r1"))).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await _peer.PostAsync($"/api/v1/replication/collections/{c}/records", new StringContent(body, Encoding.UTF8, "application/json"))).JsonAsync(HttpStatusCode.OK);
        await (await _client.GetAsync(Record(c, "r1"))).JsonAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task StatesAPeerPushesReplaceARecordAlteredHereEvenWhenTheAlteredValueSortsAbove()
    {
        var c = Unique.Collection();
        var state = await WriteAndReadStateAsync(c, "r1");

        // Altered behind the gateway's back: same clocks, a value that a join would keep ("greater content wins").
        await using var redis = await ConnectionMultiplexer.ConnectAsync(gateway.RedisConnectionString);
        var key = RedisKeys.Record(c, "r1");
        var blob = (byte[])(await redis.GetDatabase().StringGetAsync(key))!;
        var at = blob.AsSpan().IndexOf("\"eu-west\""u8);
        Assert.True(at >= 0);
        "\"eu-zest\""u8.CopyTo(blob.AsSpan(at));
        await redis.GetDatabase().StringSetAsync(key, blob);
        await (await _client.PostAsync("/api/v1/digests/rebuild", null)).JsonAsync(HttpStatusCode.OK);

        await PushAsync(c, "r1", state);

        var record = await (await _client.GetAsync(Record(c, "r1"))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("eu-west", record.GetProperty("data").GetProperty("region").GetString());
    }

    [Fact]
    public async Task ARecordLostHereAndRestoredByAPeersPushIsHandedOutToPeersAgain()
    {
        var c = Unique.Collection();
        var state = await WriteAndReadStateAsync(c, "r1");

        await using var redis = await ConnectionMultiplexer.ConnectAsync(gateway.RedisConnectionString);
        Assert.True(await redis.GetDatabase().KeyDeleteAsync(RedisKeys.Record(c, "r1")));
        await (await _client.PostAsync("/api/v1/digests/rebuild", null)).JsonAsync(HttpStatusCode.OK);

        await PushAsync(c, "r1", state);

        // Restored with the peer's own state, it is no longer damaged: lookups and full copies carry it again.
        var lookup = await (await _client.PostAsJsonAsync($"/api/v1/replication/collections/{c}/records/lookup", new { ids = new[] { "r1" } })).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(["r1"], lookup.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!).ToArray());
        var copy = await (await _client.GetAsync($"/api/v1/replication/collections/{c}/records?limit=1000")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(["r1"], copy.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!).ToArray());
    }

    /// <summary>Writes a record and returns its state as a peer reads it (the copy the peer will push back).</summary>
    private async Task<JsonElement> WriteAndReadStateAsync(string c, string id)
    {
        await (await _client.PutAsJsonAsync(Record(c, id), new { version = 1, data = new { region = "eu-west", n = 1 } })).JsonAsync(HttpStatusCode.Created);
        var lookup = await (await _client.PostAsJsonAsync($"/api/v1/replication/collections/{c}/records/lookup", new { ids = new[] { id } })).JsonAsync(HttpStatusCode.OK);
        return lookup.GetProperty("items")[0].GetProperty("state");
    }

    /// <summary>What a peer's repair sends for a record that differs: its state, to be joined in here.</summary>
    private async Task PushAsync(string c, string id, JsonElement state)
    {
        var body = $$"""{"items":[{"id":"{{id}}","state":{{state.GetRawText()}}}]}""";
        await (await _peer.PostAsync($"/api/v1/replication/collections/{c}/records", new StringContent(body, Encoding.UTF8, "application/json"))).JsonAsync(HttpStatusCode.OK);
    }
}
