using System.Text.Json;
using System.Net;
using System.Net.Http.Json;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.Api;

public sealed class ChangesTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    private readonly HttpClient _client = gateway.ClientWithKey();

    private async Task<string[]> WriteChangesAsync(string c, int count)
    {
        var items = Enumerable.Range(1, count).Select(i => new { id = $"r{i % 3}", op = "patch", version = i, data = new { n = i } }).ToArray();
        var results = (await (await _client.PostAsJsonAsync(Records(c), new { records = items })).JsonAsync(HttpStatusCode.OK)).GetProperty("results");
        return results.EnumerateArray().Select(r => r.GetProperty("seq").GetString()!).ToArray();
    }

    [Fact]
    public async Task WithoutAfterTheLogIsReadFromTheOldestEntryWithEveryEventField()
    {
        var c = Unique.Collection();
        await (await _client.PutAsJsonAsync(Record(c, "c-42"), new { version = 1, data = new { name = "John", age = 30 } })).JsonAsync(HttpStatusCode.Created);
        await (await _client.PatchAsJsonAsync(Record(c, "c-42"), new { version = 2, data = new { age = 31 } })).JsonAsync(HttpStatusCode.OK);
        var last = await (await gateway.ClientWithKey(TestKeys.Other).DeleteAsync(Record(c, "c-42") + "?version=3")).JsonAsync(HttpStatusCode.OK);

        var page = await (await _client.GetAsync(Changes(c))).JsonAsync(HttpStatusCode.OK);
        var items = page.GetProperty("items").EnumerateArray().ToArray();
        Assert.Equal(3, items.Length);
        Assert.False(page.GetProperty("hasMore").GetBoolean());
        Assert.Equal(last.GetProperty("seq").GetString(), page.GetProperty("next").GetString());

        var e = items[1];
        Assert.Equal(["changedFields", "collection", "id", "kind", "record", "revision", "seq", "site", "source"], e.Names());
        Assert.Equal(JsonValueKind.Null, e.GetProperty("site").ValueKind); // no Replication:Site configured
        Assert.Equal(c, e.GetProperty("collection").GetString());
        Assert.Equal("c-42", e.GetProperty("id").GetString());
        Assert.Equal("upsert", e.GetProperty("kind").GetString());
        Assert.Equal(2, e.GetProperty("revision").GetInt64());
        Assert.Equal("writer", e.GetProperty("source").GetString());
        Assert.Equal(["age"], e.GetProperty("changedFields").Strings());
        Assert.Equal(31, e.GetProperty("record").GetProperty("data").GetProperty("age").GetInt32());
        Assert.Equal(e.GetProperty("seq").GetString(), e.GetProperty("record").GetProperty("seq").GetString());

        Assert.Equal("delete", items[2].GetProperty("kind").GetString());
        Assert.Equal("other", items[2].GetProperty("source").GetString());
        Assert.Equal(["age", "name"], items[2].GetProperty("changedFields").Strings());
        Assert.True(items[2].GetProperty("record").GetProperty("deleted").GetBoolean());
    }

    [Fact]
    public async Task PagesFollowNextUntilHasMoreIsFalse()
    {
        var c = Unique.Collection();
        var seqs = await WriteChangesAsync(c, 7);

        var got = new List<string>();
        var pages = new List<(int Count, bool HasMore, string Next)>();
        string? after = null;
        for (var i = 0; i < 10; i++)
        {
            var page = await (await _client.GetAsync($"{Changes(c)}?limit=3" + (after is null ? "" : $"&after={after}"))).JsonAsync(HttpStatusCode.OK);
            var items = page.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("seq").GetString()!).ToArray();
            got.AddRange(items);
            after = page.GetProperty("next").GetString()!;
            pages.Add((items.Length, page.GetProperty("hasMore").GetBoolean(), after));
            if (!page.GetProperty("hasMore").GetBoolean()) break;
        }
        Assert.Equal([(3, true, seqs[2]), (3, true, seqs[5]), (1, false, seqs[6])], pages);
        Assert.Equal(seqs, got);

        // Reading on from the end: nothing new, and the position stays.
        var end = await (await _client.GetAsync($"{Changes(c)}?after={seqs[^1]}")).JsonAsync(HttpStatusCode.OK);
        Assert.Empty(end.GetProperty("items").EnumerateArray());
        Assert.False(end.GetProperty("hasMore").GetBoolean());
        Assert.Equal(seqs[^1], end.GetProperty("next").GetString());

        // From the middle: exactly the entries after it.
        var middle = await (await _client.GetAsync($"{Changes(c)}?after={seqs[3]}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(seqs[4..], middle.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("seq").GetString()!).ToArray());
    }

    [Fact]
    public async Task AnEmptyCollectionHasAnEmptyLog()
    {
        var c = Unique.Collection();
        foreach (var url in new[] { Changes(c), Changes(c) + "?after=0-0" })
        {
            var page = await (await _client.GetAsync(url)).JsonAsync(HttpStatusCode.OK);
            Assert.Empty(page.GetProperty("items").EnumerateArray());
            Assert.False(page.GetProperty("hasMore").GetBoolean());
        }
    }

    [Theory]
    [InlineData("after=abc", "after")]
    [InlineData("after=", "after")]
    [InlineData("after=1-2-3", "after")]
    [InlineData("after=-1", "after")]
    [InlineData("after=1732262400000", "after")]
    [InlineData("after=99999999999999999999-0", "after")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("limit=x", "limit")]
    public async Task ABadAfterOrLimitIs400(string query, string field)
    {
        var c = Unique.Collection();
        await WriteChangesAsync(c, 2);
        await (await _client.GetAsync($"{Changes(c)}?{query}")).ValidationProblemAsync(field);
    }

    [Fact]
    public async Task AfterBeyondTheLastSeqIs410ResyncRequired()
    {
        var c = Unique.Collection();
        var seqs = await WriteChangesAsync(c, 2);
        var ms = ulong.Parse(seqs[^1].Split('-')[0]);
        await (await _client.GetAsync($"{Changes(c)}?after={ms + 1}-0")).ProblemAsync(HttpStatusCode.Gone, "resync-required");
        await (await _client.GetAsync($"{Changes(c)}?after=99999999999999-0")).ProblemAsync(HttpStatusCode.Gone, "resync-required");
        // A collection that has no log at all cannot be continued from a position either.
        await (await _client.GetAsync($"{Changes(Unique.Collection())}?after={seqs[0]}")).ProblemAsync(HttpStatusCode.Gone, "resync-required");
    }
}

/// <summary>A gateway that keeps only about ten change-log entries per collection.</summary>
public sealed class ShortChangeLogGateway : GatewayFactory
{
    public ShortChangeLogGateway() => Settings["Sync:ChangeLogMaxLength"] = "10";
}

public sealed class TrimmedChangeLogTests(ShortChangeLogGateway gateway) : IClassFixture<ShortChangeLogGateway>
{
    private readonly HttpClient _client = gateway.ClientWithKey();

    [Fact]
    public async Task AfterOlderThanTheRetainedLogIs410AndTheRetainedTailStillReads()
    {
        var c = Unique.Collection();
        // XADD MAXLEN ~ trims whole stream nodes (up to 100 entries each), so write several nodes' worth.
        var items = Enumerable.Range(1, 400).Select(i => new { id = $"r{i % 5}", op = "put", version = i, data = new { n = i } }).ToArray();
        var seqs = (await (await _client.PostAsJsonAsync(Records(c), new { records = items })).JsonAsync(HttpStatusCode.OK))
            .GetProperty("results").EnumerateArray().Select(r => r.GetProperty("seq").GetString()!).ToArray();

        var retained = (await _client.AllChangesAsync(c, pageSize: 7)).Select(e => e.GetProperty("seq").GetString()!).ToArray();
        Assert.InRange(retained.Length, 10, 399);
        var oldest = Array.IndexOf(seqs, retained[0]);
        Assert.True(oldest > 0, "the log was not trimmed");
        Assert.Equal(seqs[oldest..], retained);

        await (await _client.GetAsync($"{Changes(c)}?after={seqs[0]}")).ProblemAsync(HttpStatusCode.Gone, "resync-required");
        await (await _client.GetAsync($"{Changes(c)}?after=0-0")).ProblemAsync(HttpStatusCode.Gone, "resync-required");
        if (oldest >= 2)
            await (await _client.GetAsync($"{Changes(c)}?after={seqs[oldest - 2]}")).ProblemAsync(HttpStatusCode.Gone, "resync-required");

        // The entry just before the oldest retained one is still a gap-free position.
        var boundary = await (await _client.GetAsync($"{Changes(c)}?after={seqs[oldest - 1]}&limit=1")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(retained[0], boundary.GetProperty("items")[0].GetProperty("seq").GetString());
        Assert.True(boundary.GetProperty("hasMore").GetBoolean());
        var fromOldest = await (await _client.GetAsync($"{Changes(c)}?after={retained[0]}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(retained[1..Math.Min(retained.Length, 101)], fromOldest.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("seq").GetString()!).ToArray());
    }
}
