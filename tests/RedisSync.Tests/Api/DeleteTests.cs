using System.Net;
using System.Net.Http.Json;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.Api;

public sealed class DeleteTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    private readonly HttpClient _client = gateway.ClientWithKey();

    [Fact]
    public async Task DeleteAtAQueryClockReturns200WithTheWriteResultAndGetThen404sWithDeletedRevisionAndSeq()
    {
        var c = Unique.Collection();
        await (await _client.PutAsJsonAsync(Record(c, "d"), new { version = 1, data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);

        var deleted = await (await _client.DeleteAsync($"{Record(c, "d")}?version=2&timestamp=2025-01-02T03:04:05.006Z")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("applied", deleted.GetProperty("outcome").GetString());
        Assert.False(deleted.GetProperty("created").GetBoolean());
        Assert.Equal(2, deleted.GetProperty("revision").GetInt64());
        var record = deleted.GetProperty("record");
        Assert.True(record.GetProperty("deleted").GetBoolean());
        Assert.Empty(record.GetProperty("data").EnumerateObject());
        Assert.Equal(2, record.GetProperty("clock").GetProperty("version").GetInt64());
        Assert.Equal("2025-01-02T03:04:05.006Z", record.GetProperty("clock").GetProperty("timestamp").GetString());

        var problem = await (await _client.GetAsync(Record(c, "d"))).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        Assert.True(problem.GetProperty("deleted").GetBoolean());
        Assert.Equal(2, problem.GetProperty("revision").GetInt64());
        Assert.Equal(deleted.GetProperty("seq").GetString(), problem.GetProperty("seq").GetString());

        var changes = await _client.AllChangesAsync(c);
        Assert.Equal(["upsert", "delete"], changes.Select(e => e.GetProperty("kind").GetString()!).ToArray());
        Assert.Equal(["a"], changes[1].GetProperty("changedFields").Strings());
        Assert.Empty((await (await _client.GetAsync(Records(c))).JsonAsync(HttpStatusCode.OK)).GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task GetOfARecordNeverWrittenIs404WithoutDeleted()
    {
        var problem = await (await _client.GetAsync(Record(Unique.Collection(), "ghost"))).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        Assert.False(problem.TryGetProperty("deleted", out _));
    }

    [Fact]
    public async Task AnOlderDeleteIsStaleAndLeavesTheRecordLive()
    {
        var c = Unique.Collection();
        await (await _client.PutAsJsonAsync(Record(c, "d"), new { version = 5, data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);
        var stale = await (await _client.DeleteAsync($"{Record(c, "d")}?version=4")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("stale", stale.GetProperty("outcome").GetString());
        Assert.Equal(1, stale.GetProperty("revision").GetInt64());
        await (await _client.GetAsync(Record(c, "d"))).JsonAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task ALaterPutRevivesADeletedRecord()
    {
        var c = Unique.Collection();
        await (await _client.PutAsJsonAsync(Record(c, "d"), new { version = 1, data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);
        await (await _client.DeleteAsync($"{Record(c, "d")}?version=2")).JsonAsync(HttpStatusCode.OK);

        // Older than the delete: stays deleted.
        var older = await (await _client.PutAsJsonAsync(Record(c, "d"), new { version = 1, data = new { a = 9 } })).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("stale", older.GetProperty("outcome").GetString());
        await (await _client.GetAsync(Record(c, "d"))).ProblemAsync(HttpStatusCode.NotFound, "not-found");

        var revived = await (await _client.PutAsJsonAsync(Record(c, "d"), new { version = 3, data = new { b = 2 } })).JsonAsync(HttpStatusCode.Created);
        Assert.True(revived.GetProperty("created").GetBoolean());
        Assert.Equal(3, revived.GetProperty("revision").GetInt64());
        var view = await (await _client.GetAsync(Record(c, "d"))).JsonAsync(HttpStatusCode.OK);
        Assert.False(view.GetProperty("deleted").GetBoolean());
        Assert.Equal(["b"], view.GetProperty("data").Names());
    }

    [Fact]
    public async Task ALaterPatchRevivesADeletedRecordWithOnlyItsFields()
    {
        var c = Unique.Collection();
        await (await _client.PutAsJsonAsync(Record(c, "d"), new { version = 1, data = new { a = 1, b = 1 } })).JsonAsync(HttpStatusCode.Created);
        await (await _client.DeleteAsync($"{Record(c, "d")}?version=2")).JsonAsync(HttpStatusCode.OK);
        await (await _client.PatchAsJsonAsync(Record(c, "d"), new { version = 3, data = new { c = 3 } })).JsonAsync(HttpStatusCode.Created);
        var view = await (await _client.GetAsync(Record(c, "d"))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(["c"], view.GetProperty("data").Names());
    }

    [Theory]
    [InlineData("", "version")]                         // version policy: version is required
    [InlineData("?version=abc", "version")]
    [InlineData("?version=-1", "version")]
    [InlineData("?version=9007199254740992", "version")]
    [InlineData("?version=1&timestamp=garbage", "timestamp")]
    [InlineData("?version=1&timestamp=2025-01-02T03:04:05", "timestamp")]
    public async Task DeleteWithABadClockIs400AndDeletesNothing(string query, string field)
    {
        var c = Unique.Collection();
        await (await _client.PutAsJsonAsync(Record(c, "d"), new { version = 0, data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);
        await (await _client.DeleteAsync(Record(c, "d") + query)).ValidationProblemAsync(field);
        await (await _client.GetAsync(Record(c, "d"))).JsonAsync(HttpStatusCode.OK);
    }
}
