using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.Api;

/// <summary>A gateway where collection <see cref="Lww"/> uses the timestamp policy and everything else the default.</summary>
public sealed class MixedPolicyGateway : GatewayFactory
{
    public const string Lww = "lww-events";

    public MixedPolicyGateway() => Settings[$"Sync:Collections:{Lww}:Policy"] = "Timestamp";
}

public sealed class CollectionsTests(MixedPolicyGateway gateway) : IClassFixture<MixedPolicyGateway>
{
    private readonly HttpClient _client = gateway.ClientWithKey();

    private async Task<JsonElement?> ListedAsync(HttpClient client, string name) =>
        (await (await client.GetAsync(Collections)).JsonAsync(HttpStatusCode.OK)).EnumerateArray()
            .Cast<JsonElement?>().SingleOrDefault(x => x!.Value.GetProperty("name").GetString() == name);

    [Fact]
    public async Task ListsNamePolicyLiveRecordCountAndLastSeq()
    {
        var c = Unique.Collection();
        await (await _client.PostAsJsonAsync(Records(c), new
        {
            records = new object[]
            {
                new { id = "a", op = "put", version = 1, data = new { x = 1 } },
                new { id = "b", op = "put", version = 1, data = new { x = 1 } },
                new { id = "c", op = "put", version = 1, data = new { x = 1 } },
            },
        })).JsonAsync(HttpStatusCode.OK);
        var last = await (await _client.DeleteAsync(Record(c, "b") + "?version=2")).JsonAsync(HttpStatusCode.OK);

        var listed = await ListedAsync(_client, c);
        Assert.NotNull(listed);
        Assert.Equal(["lastSeq", "name", "policy", "records"], listed.Value.Names());
        Assert.Equal("version", listed.Value.GetProperty("policy").GetString());
        Assert.Equal(2, listed.Value.GetProperty("records").GetInt64());
        Assert.Equal(last.GetProperty("seq").GetString(), listed.Value.GetProperty("lastSeq").GetString());
    }

    [Fact]
    public async Task LastSeqIsTheLogsLastPositionEvenWhenThatIsAStateOnlyEntry()
    {
        var c = Unique.Collection();
        var deleted = await (await _client.DeleteAsync(Record(c, "r") + "?version=1")).JsonAsync(HttpStatusCode.OK);
        // A newer delete of a deleted record moves only the floor's clock: unchanged, no change event, but logged for peers.
        var again = await (await _client.DeleteAsync(Record(c, "r") + "?version=2")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("unchanged", again.GetProperty("outcome").GetString());
        var lastChange = deleted.GetProperty("seq").GetString()!;

        var lastSeq = (await ListedAsync(_client, c))!.Value.GetProperty("lastSeq").GetString()!;
        Assert.True(CompareSeq(lastChange, lastSeq) < 0, $"lastSeq {lastSeq} should follow the last change {lastChange}");
        var rest = await (await _client.GetAsync($"{Changes(c)}?after={lastChange}")).JsonAsync(HttpStatusCode.OK);
        Assert.Empty(rest.GetProperty("items").EnumerateArray());
        Assert.False(rest.GetProperty("hasMore").GetBoolean());
        Assert.Equal(lastSeq, rest.GetProperty("next").GetString());
        Assert.Equal(0, (await (await _client.GetAsync($"{Changes(c)}?after={lastSeq}")).JsonAsync(HttpStatusCode.OK)).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task APerCollectionTimestampPolicyIsListedAndNeedsNoVersion()
    {
        var id = Guid.NewGuid().ToString("N");
        var before = DateTimeOffset.UtcNow.AddSeconds(-5);
        var created = await (await _client.PutAsJsonAsync(Record(MixedPolicyGateway.Lww, id), new { data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);
        // No timestamp given: the gateway stamps the write with the Redis server's time.
        var stamped = DateTimeOffset.Parse(created.GetProperty("record").GetProperty("clock").GetProperty("timestamp").GetString()!);
        Assert.InRange(stamped, before, DateTimeOffset.UtcNow.AddSeconds(5));
        Assert.Equal(0, created.GetProperty("record").GetProperty("clock").GetProperty("version").GetInt64());

        Assert.Equal("timestamp", (await ListedAsync(_client, MixedPolicyGateway.Lww))!.Value.GetProperty("policy").GetString());

        // The default policy still requires a version.
        await (await _client.PutAsJsonAsync(Record(Unique.Collection(), id), new { data = new { a = 1 } })).ValidationProblemAsync("version");
    }

    [Fact]
    public async Task OnlyCollectionsTheKeyMayReadAreListed()
    {
        var c = Unique.Collection();
        await (await _client.PutAsJsonAsync(Record(c, "a"), new { version = 1, data = new { x = 1 } })).JsonAsync(HttpStatusCode.Created);
        var orders = gateway.ClientWithKey(TestKeys.OrdersOnly);
        await (await orders.PutAsJsonAsync(Record("orders", Guid.NewGuid().ToString("N")), new { version = 1, data = new { x = 1 } })).JsonAsync(HttpStatusCode.Created);

        var seenByOrders = (await (await orders.GetAsync(Collections)).JsonAsync(HttpStatusCode.OK)).EnumerateArray().Select(x => x.GetProperty("name").GetString()!).ToArray();
        Assert.Equal(["orders"], seenByOrders);

        var seenByReader = (await (await gateway.ClientWithKey(TestKeys.Reader).GetAsync(Collections)).JsonAsync(HttpStatusCode.OK))
            .EnumerateArray().Select(x => x.GetProperty("name").GetString()).ToArray();
        Assert.Contains("orders", seenByReader);
        Assert.Contains(c, seenByReader);
    }

    [Fact]
    public async Task ListingCollectionsNeedsAKey()
    {
        await (await gateway.ClientWithKey(null).GetAsync(Collections)).ProblemAsync(HttpStatusCode.Unauthorized, "unauthorized");
    }
}
