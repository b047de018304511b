using System.Text;
using RedisSync.Tests.Fixtures;

namespace RedisSync.Tests.Realtime;

/// <summary>
/// The MessagePack hub protocol beside JSON: every server message and call result carries the same field
/// names and content in both. One JSON and one MessagePack client (the official .NET client) watch the same
/// collection; what they receive is compared field by field after <see cref="Wire"/> normalization, which
/// keeps integers and floats apart.
/// </summary>
public sealed class MessagePackProtocolTests(LiveGateway gateway) : IClassFixture<LiveGateway>
{
    // Every kind of JSON value, with numbers at the edges of 64-bit integers and of float64.
    private const string Data = """
        {"int":42,"negative":-7,"zero":0,"maxLong":9223372036854775807,"minLong":-9223372036854775808,
         "aboveLong":9223372036854775808,"maxULong":18446744073709551615,"aboveULong":18446744073709551616,
         "pi":3.141592653589793,"oneAsFloat":1.0,"large":1e300,"tiny":5e-324,"text":"Grüße 👋 \"quoted\" \u0001",
         "nested":{"a":[1,2.5,{"b":null}],"empty":{},"list":[]},"yes":true,"no":false,"nothing":null}
        """;

    [Fact]
    public async Task ChangeEventsAndSubscribeResultsAreEqualInBothProtocols()
    {
        var c = Unique.Collection("mp");
        var http = gateway.HttpClient();
        await Put(http, c, "before", 1, """{"n":1}""");
        await using var json = await SyncClient.ConnectAsync(gateway.Address, TestKeys.Reader);
        await using var messagePack = await SyncClient.ConnectAsync(gateway.Address, TestKeys.Reader, messagePack: true);
        Assert.Equal(Wire.Canonical(await json.SubscribeAsync(c)), Wire.Canonical(await messagePack.SubscribeAsync(c)));

        await Put(http, c, "all-types", 1, Data);
        await Put(http, c, "all-types", 2, Data.Replace("\"int\":42", "\"int\":43", StringComparison.Ordinal));
        var patch = await http.PatchAsync($"/api/v1/collections/{c}/records/before",
            new StringContent("""{"version":2,"data":{"n":null,"m":0.1}}""", Encoding.UTF8, "application/json"));
        patch.EnsureSuccessStatusCode();
        (await http.DeleteAsync($"/api/v1/collections/{c}/records/all-types?version=3")).EnsureSuccessStatusCode();

        var fromJson = new List<object?>();
        var fromMessagePack = new List<object?>();
        for (var i = 0; i < 4; i++)
        {
            fromJson.Add(await json.Changes.NextAsync());
            fromMessagePack.Add(await messagePack.Changes.NextAsync());
        }
        for (var i = 0; i < 4; i++) Assert.Equal(Wire.Canonical(fromJson[i]), Wire.Canonical(fromMessagePack[i]));
        Assert.Equal(["upsert", "upsert", "upsert", "delete"], fromMessagePack.Select(e => e.Text("kind")));

        // MessagePack integers where the value fits 64 bits, float64 elsewhere: the same rule the JSON client's
        // reading follows, checked on the MessagePack side explicitly.
        var data = fromMessagePack[0].At("record", "data");
        Assert.Equal(9223372036854775807L, data.At("maxLong"));
        Assert.Equal(long.MinValue, data.At("minLong"));
        Assert.Equal(9223372036854775808UL, data.At("aboveLong"));
        Assert.Equal(ulong.MaxValue, data.At("maxULong"));
        Assert.Equal(18446744073709551616d, data.At("aboveULong"));
        Assert.Equal(1.0d, data.At("oneAsFloat"));
        Assert.Equal(3.141592653589793d, data.At("pi"));
        Assert.Equal("Grüße 👋 \"quoted\" \u0001", data.At("text"));
        Assert.Equal("""{"a":[1,2.5,{"b":null}],"empty":{},"list":[]}""", Wire.Canonical(data.At("nested")));

        // A replay (Subscribe with after) goes through the same path: equal again.
        var first = fromJson[0].Text("seq");
        await using var jsonReplay = await SyncClient.ConnectAsync(gateway.Address, TestKeys.Writer);
        await using var messagePackReplay = await SyncClient.ConnectAsync(gateway.Address, TestKeys.Writer, messagePack: true);
        Assert.Equal(Wire.Canonical(await jsonReplay.SubscribeAsync(c, first)), Wire.Canonical(await messagePackReplay.SubscribeAsync(c, first)));
        for (var i = 1; i < 4; i++)
        {
            var replayed = Wire.Canonical(await messagePackReplay.Changes.NextAsync());
            Assert.Equal(Wire.Canonical(fromJson[i]), replayed);
            Assert.Equal(replayed, Wire.Canonical(await jsonReplay.Changes.NextAsync()));
        }
    }

    [Fact]
    public async Task SignalAndPresenceMessagesAreEqualInBothProtocols()
    {
        var c = Unique.Collection("mp");
        await using var json = await SyncClient.ConnectAsync(gateway.Address, TestKeys.Writer);
        await using var messagePack = await SyncClient.ConnectAsync(gateway.Address, TestKeys.Writer, messagePack: true);
        await json.SubscribeAsync(c);
        await messagePack.SubscribeAsync(c);
        await json.Presence.NextAsync(); // the MessagePack client's join

        // One payload sent by a client of each protocol; the receivers' copies must all be equal.
        var payload = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, object?>>(Data)!;
        await using var jsonSender = await SyncClient.ConnectAsync(gateway.Address, TestKeys.Other);
        await using var messagePackSender = await SyncClient.ConnectAsync(gateway.Address, TestKeys.Other, messagePack: true);
        await jsonSender.InvokeAsync("Signal", c, System.Text.Json.JsonSerializer.SerializeToElement(payload));
        await messagePackSender.InvokeAsync("Signal", c, Wire.Tree(System.Text.Json.JsonSerializer.SerializeToElement(payload)));
        var signals = new[] { await json.Signals.NextAsync(), await messagePack.Signals.NextAsync(), await json.Signals.NextAsync(), await messagePack.Signals.NextAsync() };
        Assert.Equal(Wire.Canonical(signals[0]), Wire.Canonical(signals[1]));
        Assert.Equal(Wire.Canonical(signals[2]), Wire.Canonical(signals[3]));
        Assert.Equal(jsonSender.Id, signals[0].Text("from", "connectionId"));
        Assert.Equal(messagePackSender.Id, signals[2].Text("from", "connectionId"));
        Assert.Equal(Wire.Canonical(signals[0].At("payload")), Wire.Canonical(signals[2].At("payload")));
        // A payload travels as a value, not as text: integers that fit 64 bits stay integers, every other
        // number is a float64, and a float64 with an integral value is written as an integer (1.0 → 1).
        var received = signals[0].At("payload");
        Assert.Equal(long.MaxValue, received.At("maxLong"));
        Assert.Equal(9223372036854775808UL, received.At("aboveLong"));
        Assert.Equal(18446744073709551616d, received.At("aboveULong"));
        Assert.Equal(3.141592653589793d, received.At("pi"));
        Assert.Equal(1L, received.At("oneAsFloat"));
        Assert.Equal(Wire.Canonical(System.Text.Json.JsonSerializer.SerializeToElement(payload)).Replace("\"oneAsFloat\":1.0", "\"oneAsFloat\":1", StringComparison.Ordinal),
            Wire.Canonical(received));

        // join (to both), update (to both, the MessagePack member included), then Presence() from each.
        await using var joining = await SyncClient.ConnectAsync(gateway.Address, TestKeys.Reader, messagePack: true);
        await joining.SubscribeAsync(c);
        Assert.Equal(Wire.Canonical(await json.Presence.NextAsync()), Wire.Canonical(await messagePack.Presence.NextAsync()));
        await messagePack.InvokeAsync("SetPresence", c, new Dictionary<string, object?> { ["name"] = "Zoë", ["n"] = 1.5, ["tags"] = new object[] { 1L, "x" } });
        var updates = new[] { await json.Presence.NextAsync(), await messagePack.Presence.NextAsync(), await joining.Presence.NextAsync() };
        Assert.Equal("update", updates[0].Text("action"));
        Assert.All(updates, u => Assert.Equal(Wire.Canonical(updates[0]), Wire.Canonical(u)));
        Assert.Equal("""{"n":1.5,"name":"Zoë","tags":[1,"x"]}""", Wire.Canonical(updates[0].At("member", "data")));
        Assert.Equal(Wire.Canonical(await json.InvokeAsync("Presence", c)), Wire.Canonical(await messagePack.InvokeAsync("Presence", c)));
    }

    private static async Task Put(HttpClient http, string collection, string id, long version, string data)
    {
        var response = await http.PutAsync($"/api/v1/collections/{collection}/records/{id}",
            new StringContent($$"""{"version":{{version}},"data":{{data}}}""", Encoding.UTF8, "application/json"));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }
}
