using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.Api;

public sealed class PutAndPatchTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    private readonly HttpClient _client = gateway.ClientWithKey();

    [Fact]
    public async Task PutCreatesWith201ThenReplacesWith200()
    {
        var c = Unique.Collection();
        var created = await _client.PutAsJsonAsync(Record(c, "c-42"), new { version = 1, data = new { name = "John", age = 30 } });
        var first = await created.JsonAsync(HttpStatusCode.Created);
        Assert.Equal(c, first.GetProperty("collection").GetString());
        Assert.Equal("c-42", first.GetProperty("id").GetString());
        Assert.Equal("applied", first.GetProperty("outcome").GetString());
        Assert.True(first.GetProperty("created").GetBoolean());
        Assert.Equal(1, first.GetProperty("revision").GetInt64());
        Assert.False(string.IsNullOrEmpty(first.GetProperty("seq").GetString()));
        Assert.Empty(first.GetProperty("staleFields").EnumerateArray());
        Assert.Equal(["age", "name"], first.GetProperty("record").GetProperty("data").Names());

        var replaced = await _client.PutAsJsonAsync(Record(c, "c-42"), new { version = 2, data = new { name = "Jane" } });
        var second = await replaced.JsonAsync(HttpStatusCode.OK);
        Assert.Equal("applied", second.GetProperty("outcome").GetString());
        Assert.False(second.GetProperty("created").GetBoolean());
        Assert.Equal(2, second.GetProperty("revision").GetInt64());
        Assert.True(CompareSeq(second.GetProperty("seq").GetString()!, first.GetProperty("seq").GetString()!) > 0);

        var view = await (await _client.GetAsync(Record(c, "c-42"))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(["name"], view.GetProperty("data").Names()); // a PUT removes the fields it does not name
        Assert.Equal("Jane", view.GetProperty("data").GetProperty("name").GetString());
        Assert.Equal(2, view.GetProperty("revision").GetInt64());
        Assert.Equal(second.GetProperty("seq").GetString(), view.GetProperty("seq").GetString());
        Assert.False(view.GetProperty("deleted").GetBoolean());
        Assert.Equal(2, view.GetProperty("clock").GetProperty("version").GetInt64());
        Assert.False(view.GetProperty("clock").TryGetProperty("timestamp", out _)); // written without one: none is shown
        Assert.Equal("writer", view.GetProperty("clock").GetProperty("source").GetString());
        Assert.True(DateTimeOffset.TryParse(view.GetProperty("updatedAt").GetString(), out _));
    }

    [Fact]
    public async Task RepeatedPutIsUnchangedAndOlderPutIsStaleWithoutAChange()
    {
        var c = Unique.Collection();
        var first = await (await _client.PutAsJsonAsync(Record(c, "r"), new { version = 5, data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);

        var retry = await (await _client.PutAsJsonAsync(Record(c, "r"), new { version = 5, data = new { a = 1 } })).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("unchanged", retry.GetProperty("outcome").GetString());
        Assert.Equal(1, retry.GetProperty("revision").GetInt64());
        Assert.Equal(first.GetProperty("seq").GetString(), retry.GetProperty("seq").GetString());

        var older = await (await _client.PutAsJsonAsync(Record(c, "r"), new { version = 4, data = new { a = 2 } })).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("stale", older.GetProperty("outcome").GetString());
        Assert.Equal(1, older.GetProperty("revision").GetInt64());
        Assert.Equal(1, older.GetProperty("record").GetProperty("data").GetProperty("a").GetInt32());

        Assert.Single(await _client.AllChangesAsync(c));
    }

    [Fact]
    public async Task PatchCreatesMergesNamedFieldsAndNullRemovesAField()
    {
        var c = Unique.Collection();
        var created = await (await _client.PatchAsJsonAsync(Record(c, "p"), new { version = 1, data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);
        Assert.True(created.GetProperty("created").GetBoolean());

        var merged = await (await _client.PatchAsJsonAsync(Record(c, "p"), new { version = 2, data = new { b = 2 } })).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(["a", "b"], merged.GetProperty("record").GetProperty("data").Names());
        Assert.Equal(2, merged.GetProperty("revision").GetInt64());

        var removed = await (await _client.PatchRawAsync(Record(c, "p"), """{"version":3,"data":{"a":null}}""")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(["b"], removed.GetProperty("record").GetProperty("data").Names());

        var changes = await _client.AllChangesAsync(c);
        Assert.Equal([["a"], ["b"], ["a"]], changes.Select(e => e.GetProperty("changedFields").Strings()).ToArray());
        Assert.All(changes, e => Assert.Equal("upsert", e.GetProperty("kind").GetString()));
    }

    [Fact]
    public async Task PutNullIsAValueButPatchNullRemoves()
    {
        var c = Unique.Collection();
        var put = await (await _client.PutRawAsync(Record(c, "n"), """{"version":1,"data":{"a":null,"b":1}}""")).JsonAsync(HttpStatusCode.Created);
        Assert.Equal(JsonValueKind.Null, put.GetProperty("record").GetProperty("data").GetProperty("a").ValueKind);
        var view = await (await _client.GetAsync(Record(c, "n"))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(["a", "b"], view.GetProperty("data").Names());
    }

    [Fact]
    public async Task PatchWithNoFieldsIsA400()
    {
        var c = Unique.Collection();
        await (await _client.PatchRawAsync(Record(c, "p"), """{"version":1,"data":{}}""")).ValidationProblemAsync("data");
        await (await _client.PatchRawAsync(Record(c, "p"), """{"version":1}""")).ValidationProblemAsync("data");
        await (await _client.GetAsync(Record(c, "p"))).ProblemAsync(HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task PutWithEmptyDataCreatesALiveEmptyRecord()
    {
        var c = Unique.Collection();
        await (await _client.PutRawAsync(Record(c, "e"), """{"version":1,"data":{}}""")).JsonAsync(HttpStatusCode.Created);
        var view = await (await _client.GetAsync(Record(c, "e"))).JsonAsync(HttpStatusCode.OK);
        Assert.False(view.GetProperty("deleted").GetBoolean());
        Assert.Empty(view.GetProperty("data").EnumerateObject());
    }

    [Fact]
    public async Task AConflictNamesTheClockWithoutAnEpochTimestampWhenTheWriteHadNone()
    {
        // Issue 10: under the version policy a write without a timestamp shows none, not 1970-01-01.
        var c = Unique.Collection();
        await (await _client.PutAsJsonAsync(Record(c, "r"), new { version = 7, data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);
        var problem = await (await _client.PutAsJsonAsync(Record(c, "r"), new { version = 7, data = new { a = 2 } })).ProblemAsync(HttpStatusCode.Conflict, "conflict");
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("version 7", detail);
        Assert.DoesNotContain("1970", detail);
    }

    [Fact]
    public async Task ReusingAClockWithADifferentValueIsA409ConflictAndChangesNothing()
    {
        var c = Unique.Collection();
        await (await _client.PutAsJsonAsync(Record(c, "r"), new { version = 7, data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);

        await (await _client.PutAsJsonAsync(Record(c, "r"), new { version = 7, data = new { a = 2 } })).ProblemAsync(HttpStatusCode.Conflict, "conflict");
        await (await _client.PatchAsJsonAsync(Record(c, "r"), new { version = 7, data = new { a = 3 } })).ProblemAsync(HttpStatusCode.Conflict, "conflict");

        var view = await (await _client.GetAsync(Record(c, "r"))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(1, view.GetProperty("data").GetProperty("a").GetInt32());
        Assert.Equal(1, view.GetProperty("revision").GetInt64());
        Assert.Single(await _client.AllChangesAsync(c));
    }

    [Fact]
    public async Task AnAppliedWriteListsTheFieldsThatLostAsStaleFields()
    {
        var c = Unique.Collection();
        await (await _client.PutAsJsonAsync(Record(c, "s"), new { version = 5, data = new { a = 5 } })).JsonAsync(HttpStatusCode.Created);
        await (await _client.PatchAsJsonAsync(Record(c, "s"), new { version = 10, data = new { a = 10 } })).JsonAsync(HttpStatusCode.OK);

        var partly = await (await _client.PatchAsJsonAsync(Record(c, "s"), new { version = 7, data = new { a = 7, b = 7 } })).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("applied", partly.GetProperty("outcome").GetString());
        Assert.Equal(["a"], partly.GetProperty("staleFields").Strings());
        Assert.Equal(10, partly.GetProperty("record").GetProperty("data").GetProperty("a").GetInt32());
        Assert.Equal(7, partly.GetProperty("record").GetProperty("data").GetProperty("b").GetInt32());

        // Older than the floor (the PUT at version 5): the whole patch is stale.
        var stale = await (await _client.PatchAsJsonAsync(Record(c, "s"), new { version = 3, data = new { c = 3 } })).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("stale", stale.GetProperty("outcome").GetString());
    }

    [Fact]
    public async Task NumbersRoundTripDigitForDigitThroughEveryRead()
    {
        var c = Unique.Collection();
        const string data = """{"pi":3.141592653589793,"big":12345678901234567890,"two63":9223372036854775808,"tenth":1.10,"neg":-0.5,"list":[1.0,2.50]}""";
        var put = await (await _client.PutRawAsync(Record(c, "n"), $$$"""{"version":1,"data":{{{data}}}}""")).JsonAsync(HttpStatusCode.Created);
        var get = await (await _client.GetAsync(Record(c, "n"))).JsonAsync(HttpStatusCode.OK);
        var list = (await (await _client.GetAsync(Records(c))).JsonAsync(HttpStatusCode.OK)).GetProperty("items")[0];
        var change = (await _client.AllChangesAsync(c))[0].GetProperty("record");

        foreach (var seen in new[] { put.GetProperty("record").GetProperty("data"), get.GetProperty("data"), list.GetProperty("data"), change.GetProperty("data") })
        {
            Assert.Equal("3.141592653589793", seen.GetProperty("pi").GetRawText());
            Assert.Equal("12345678901234567890", seen.GetProperty("big").GetRawText());
            Assert.Equal("9223372036854775808", seen.GetProperty("two63").GetRawText());
            Assert.Equal("1.10", seen.GetProperty("tenth").GetRawText());
            Assert.Equal("-0.5", seen.GetProperty("neg").GetRawText());
            Assert.Equal("[1.0,2.50]", seen.GetProperty("list").GetRawText());
        }
    }

    [Fact]
    public async Task UnicodeStringsAndFieldNamesRoundTrip()
    {
        var c = Unique.Collection();
        const string name = "Zoë 日本語 😀 \t\"quoted\"\n\\";
        var body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["version"] = 1,
            ["data"] = new Dictionary<string, string> { ["名前"] = name, ["emoji"] = "\U0001F600", ["escaped"] = "\u00e9\u0000x" },
        });
        await (await _client.PutRawAsync(Record(c, "u"), body)).JsonAsync(HttpStatusCode.Created);
        // Escapes in the request (\u00e9) are the same string as the literal character.
        await (await _client.PatchRawAsync(Record(c, "u"), """{"version":2,"data":{"plain":"\u00e9\ud83d\ude00"}}""")).JsonAsync(HttpStatusCode.OK);

        var data = (await (await _client.GetAsync(Record(c, "u"))).JsonAsync(HttpStatusCode.OK)).GetProperty("data");
        Assert.Equal(name, data.GetProperty("名前").GetString());
        Assert.Equal("\U0001F600", data.GetProperty("emoji").GetString());
        Assert.Equal("\u00e9\u0000x", data.GetProperty("escaped").GetString());
        Assert.Equal("é😀", data.GetProperty("plain").GetString());
        var change = (await _client.AllChangesAsync(c))[0];
        Assert.Equal(name, change.GetProperty("record").GetProperty("data").GetProperty("名前").GetString());
    }
}
