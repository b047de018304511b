using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.Api;

public sealed class ReadTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    private readonly HttpClient _client = gateway.ClientWithKey();

    [Fact]
    public async Task GetWithoutIncludeHasNoFieldClocksAndWithIncludeClocksHasEveryVisibleFieldsClock()
    {
        var c = Unique.Collection();
        await (await _client.PutAsJsonAsync(Record(c, "r"), new { version = 1, timestamp = "2025-05-05T05:05:05.5+02:00", data = new { a = 1, b = 1, gone = 1 } })).JsonAsync(HttpStatusCode.Created);
        await (await gateway.ClientWithKey(TestKeys.Other).PatchRawAsync(Record(c, "r"), """{"version":2,"data":{"b":2,"gone":null}}""")).JsonAsync(HttpStatusCode.OK);

        var plain = await (await _client.GetAsync(Record(c, "r"))).JsonAsync(HttpStatusCode.OK);
        Assert.False(plain.TryGetProperty("fields", out _));
        Assert.Equal(["clock", "collection", "data", "deleted", "id", "revision", "seq", "updatedAt"], plain.Names());
        Assert.Equal(2, plain.GetProperty("clock").GetProperty("version").GetInt64());
        Assert.Equal("other", plain.GetProperty("clock").GetProperty("source").GetString());

        var withClocks = await (await _client.GetAsync(Record(c, "r") + "?include=clocks")).JsonAsync(HttpStatusCode.OK);
        var fields = withClocks.GetProperty("fields");
        Assert.Equal(["a", "b"], fields.Names());
        Assert.Equal(1, fields.GetProperty("a").GetProperty("version").GetInt64());
        Assert.Equal("2025-05-05T03:05:05.500Z", fields.GetProperty("a").GetProperty("timestamp").GetString());
        Assert.Equal("writer", fields.GetProperty("a").GetProperty("source").GetString());
        Assert.Equal(2, fields.GetProperty("b").GetProperty("version").GetInt64());
        Assert.Equal("other", fields.GetProperty("b").GetProperty("source").GetString());
        Assert.Equal(plain.GetProperty("data").GetRawText(), withClocks.GetProperty("data").GetRawText());
    }

    [Theory]
    [InlineData("clock")]
    [InlineData("")]
    [InlineData("clocks,data")]
    public async Task AnUnknownIncludeIs400(string include)
    {
        var c = Unique.Collection();
        await (await _client.PutAsJsonAsync(Record(c, "r"), new { version = 1, data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);
        await (await _client.GetAsync($"{Record(c, "r")}?include={include}")).ValidationProblemAsync("include");
    }

    [Fact]
    public async Task PagingWithLimitAndCursorCoversEveryLiveRecordExactlyOnce()
    {
        var c = Unique.Collection();
        var ids = Enumerable.Range(0, 23).Select(i => $"id-{i * 7919 % 23:D2}").ToArray();
        var writes = ids.Select(object (id) => new { id, op = "put", version = 1, data = new { id } })
            .Concat(ids.Where((_, i) => i % 4 == 0).Select(object (id) => new { id, op = "delete", version = 2 }))
            .ToArray();
        await (await _client.PostAsJsonAsync(Records(c), new { records = writes })).JsonAsync(HttpStatusCode.OK);
        var live = ids.Where((_, i) => i % 4 != 0).Order(StringComparer.Ordinal).ToArray();
        var lastSeq = (await _client.AllChangesAsync(c)).Last().GetProperty("seq").GetString();

        var seen = new List<string>();
        string? cursor = null;
        for (var page = 0; ; page++)
        {
            Assert.True(page < 10, "paging did not end");
            var body = await (await _client.GetAsync($"{Records(c)}?limit=4" + (cursor is null ? "" : $"&cursor={cursor}"))).JsonAsync(HttpStatusCode.OK);
            Assert.Equal(lastSeq, body.GetProperty("asOf").GetString());
            var items = body.GetProperty("items").EnumerateArray().ToArray();
            Assert.InRange(items.Length, 1, 4);
            Assert.All(items, r => Assert.False(r.GetProperty("deleted").GetBoolean()));
            seen.AddRange(items.Select(r => r.GetProperty("id").GetString()!));
            var next = body.GetProperty("nextCursor");
            if (next.ValueKind == JsonValueKind.Null) break;
            cursor = next.GetString();
        }
        Assert.Equal(live, seen.Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(seen.Count, seen.Distinct().Count());
    }

    [Fact]
    public async Task AsOfIsTheCollectionsLastSeq()
    {
        var c = Unique.Collection();
        await (await _client.PutAsJsonAsync(Record(c, "a"), new { version = 1, data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);
        var last = await (await _client.DeleteAsync(Record(c, "a") + "?version=2")).JsonAsync(HttpStatusCode.OK);
        var page = await (await _client.GetAsync(Records(c))).JsonAsync(HttpStatusCode.OK);
        Assert.Empty(page.GetProperty("items").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, page.GetProperty("nextCursor").ValueKind);
        Assert.Equal(last.GetProperty("seq").GetString(), page.GetProperty("asOf").GetString());

        var listed = (await (await _client.GetAsync(Collections)).JsonAsync(HttpStatusCode.OK)).EnumerateArray().Single(x => x.GetProperty("name").GetString() == c);
        Assert.Equal(listed.GetProperty("lastSeq").GetString(), page.GetProperty("asOf").GetString());
    }

    [Theory]
    [InlineData("cursor=!!!", "cursor")]
    [InlineData("cursor=", "cursor")]
    [InlineData("cursor=JSQ", "cursor")]      // decodes to "%$": not an id
    [InlineData("limit=0", "limit")]
    [InlineData("limit=-1", "limit")]
    [InlineData("limit=abc", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("limit=", "limit")]
    [InlineData("limit=1.5", "limit")]
    public async Task ABadCursorOrLimitIs400(string query, string field)
    {
        await (await _client.GetAsync($"{Records(Unique.Collection())}?{query}")).ValidationProblemAsync(field);
    }

    [Fact]
    public async Task TheLargestLimitIsAccepted()
    {
        var page = await (await _client.GetAsync($"{Records(Unique.Collection())}?limit=1000")).JsonAsync(HttpStatusCode.OK);
        Assert.Empty(page.GetProperty("items").EnumerateArray());
    }
}
