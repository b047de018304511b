using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.Api;

public sealed class BatchTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    private readonly HttpClient _client = gateway.ClientWithKey();

    [Fact]
    public async Task ABatchAppliesItsItemsAndAnswersInInputOrder()
    {
        var c = Unique.Collection();
        var response = await _client.PostAsJsonAsync(Records(c), new
        {
            records = new object[]
            {
                new { id = "b", op = "put", version = 1, data = new { x = 1 } },
                new { id = "a", op = "put", version = 1, data = new { x = 1 } },
                new { id = "b", op = "patch", version = 2, data = new { y = 2 } },
                new { id = "a", op = "delete", version = 2 },
                new { id = "c", op = "patch", version = 1, data = new { z = 3 } },
                new { id = "b", op = "put", version = 0, data = new { old = true } },
            },
        });
        var results = (await response.JsonAsync(HttpStatusCode.OK)).GetProperty("results").EnumerateArray().ToArray();

        Assert.Equal(["b", "a", "b", "a", "c", "b"], results.Select(r => r.GetProperty("id").GetString()!).ToArray());
        Assert.Equal(["applied", "applied", "applied", "applied", "applied", "stale"], results.Select(r => r.GetProperty("outcome").GetString()!).ToArray());
        Assert.Equal([1L, 1, 2, 2, 1, 2], results.Select(r => r.GetProperty("revision").GetInt64()).ToArray());
        Assert.Equal([true, true, false, false, true, false], results.Select(r => r.GetProperty("created").GetBoolean()).ToArray());
        Assert.All(results, r => Assert.Equal(c, r.GetProperty("collection").GetString()));
        Assert.True(results[3].GetProperty("record").GetProperty("deleted").GetBoolean());
        Assert.Equal(["x", "y"], results[2].GetProperty("record").GetProperty("data").Names());

        var seqs = results[..5].Select(r => r.GetProperty("seq").GetString()!).ToArray();
        for (var i = 1; i < seqs.Length; i++) Assert.True(CompareSeq(seqs[i - 1], seqs[i]) < 0);
        Assert.Equal(seqs, (await _client.AllChangesAsync(c)).Select(e => e.GetProperty("seq").GetString()!).ToArray());
    }

    [Fact]
    public async Task ABatchOf1000ItemsIsAccepted()
    {
        var c = Unique.Collection();
        var items = Enumerable.Range(0, 1000).Select(i => new { id = $"r{i:D4}", op = "put", version = 1, data = new { n = i } }).ToArray();
        var results = (await (await _client.PostAsJsonAsync(Records(c), new { records = items })).JsonAsync(HttpStatusCode.OK)).GetProperty("results");
        Assert.Equal(1000, results.GetArrayLength());
        Assert.All(results.EnumerateArray(), r => Assert.Equal("applied", r.GetProperty("outcome").GetString()));
        Assert.Equal(items.Select(i => i.id), results.EnumerateArray().Select(r => r.GetProperty("id").GetString()));
        Assert.Equal(1000, (await _client.AllChangesAsync(c)).Count);
        var view = await (await _client.GetAsync(Record(c, "r0999"))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(999, view.GetProperty("data").GetProperty("n").GetInt32());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1001)]
    public async Task ABatchOutside1To1000ItemsIs400AndWritesNothing(int count)
    {
        var c = Unique.Collection();
        var items = Enumerable.Range(0, count).Select(i => new { id = $"r{i}", op = "put", version = 1, data = new { n = i } }).ToArray();
        await (await _client.PostAsJsonAsync(Records(c), new { records = items })).ValidationProblemAsync("records");
        Assert.Empty(await _client.AllChangesAsync(c));
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{"records":null}""")]
    public async Task ABatchWithoutRecordsIs400(string body)
    {
        await (await _client.PostRawAsync(Records(Unique.Collection()), body)).ValidationProblemAsync("records");
    }

    [Fact]
    public async Task AnInvalidItemRejectsTheWholeBatchNamingEveryBadItemByIndex()
    {
        var c = Unique.Collection();
        const string body = """
            {"records":[
              {"id":"a","op":"put","version":1,"data":{"x":1}},
              {"id":"b","op":"patch","version":1,"data":{"x":1}},
              {"id":"bad id","op":"put","version":1,"data":{"x":1}},
              {"id":"d","op":"put","version":-1,"data":{"x":1}},
              {"id":"e","op":"upsert","version":1,"data":{"x":1}},
              {"id":"f","op":"patch","version":1,"data":{}},
              null,
              {"id":"h","op":"put","version":1,"data":{"$h":1}},
              {"id":"i","op":"delete","version":1,"data":{"x":1}},
              {"id":"j","op":"put","version":1,"data":{"x":1}},
              {"id":"k","op":"put","data":{"x":1}},
              {"id":"l","op":"put","version":1,"timestamp":"yesterday","data":{"x":1}},
              {"id":"m","op":"put","version":1,"data":[1]}
            ]}
            """;
        await (await _client.PostRawAsync(Records(c), body)).ValidationProblemAsync(
            "records[2].id", "records[3].version", "records[4].op", "records[5].data", "records[6]", "records[7].data.$h",
            "records[8].data", "records[10].version", "records[11].timestamp", "records[12].data");

        await (await _client.GetAsync(Record(c, "a"))).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await _client.GetAsync(Record(c, "b"))).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        Assert.Empty(await _client.AllChangesAsync(c));
        var collections = await (await _client.GetAsync(Collections)).JsonAsync(HttpStatusCode.OK);
        Assert.DoesNotContain(c, collections.EnumerateArray().Select(x => x.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task AnItemOfTheWrongJsonTypeIs400NamingItsPath()
    {
        var c = Unique.Collection();
        var response = await _client.PostRawAsync(Records(c), """{"records":[{"id":"a","op":"put","version":1,"data":{}},{"id":"b","op":"put","version":true,"data":{}}]}""");
        await response.ValidationProblemAsync("$.records[1].version");
        Assert.Empty(await _client.AllChangesAsync(c));
    }

    [Theory]
    [InlineData("""{"op":"put","version":1,"data":{"x":1}}""")]
    [InlineData("""{"id":null,"op":"put","version":1,"data":{"x":1}}""")]
    [InlineData("""{"id":"","op":"put","version":1,"data":{"x":1}}""")]
    [InlineData("""{"id":"","op":"delete","version":1}""")]
    public async Task AnItemWithoutAnIdIs400AndWritesNothing(string item)
    {
        var c = Unique.Collection();
        await (await _client.PostRawAsync(Records(c), $$$"""{"records":[{"id":"ok","op":"put","version":1,"data":{"x":1}},{{{item}}}]}"""))
            .ValidationProblemAsync("records[1].id");
        Assert.Empty(await _client.AllChangesAsync(c));
        Assert.Empty((await (await _client.GetAsync(Records(c))).JsonAsync(HttpStatusCode.OK)).GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task AnItemClaimingAnotherSourceIs403AndWritesNothing()
    {
        var c = Unique.Collection();
        var response = await _client.PostAsJsonAsync(Records(c), new
        {
            records = new object[]
            {
                new { id = "a", op = "put", version = 1, data = new { x = 1 } },
                new { id = "b", op = "put", version = 1, source = "somebody-else", data = new { x = 1 } },
            },
        });
        await response.ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        Assert.Empty(await _client.AllChangesAsync(c));
    }

    [Fact]
    public async Task AConflictingItemIsReportedInItsResultWhileTheOthersApply()
    {
        var c = Unique.Collection();
        await (await _client.PutAsJsonAsync(Record(c, "a"), new { version = 1, data = new { x = 1 } })).JsonAsync(HttpStatusCode.Created);
        var results = (await (await _client.PostAsJsonAsync(Records(c), new
        {
            records = new object[]
            {
                new { id = "a", op = "put", version = 1, data = new { x = 2 } },
                new { id = "b", op = "put", version = 1, data = new { x = 1 } },
            },
        })).JsonAsync(HttpStatusCode.OK)).GetProperty("results");
        Assert.Equal("conflict", results[0].GetProperty("outcome").GetString());
        Assert.Equal("applied", results[1].GetProperty("outcome").GetString());
        var a = await (await _client.GetAsync(Record(c, "a"))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(1, a.GetProperty("data").GetProperty("x").GetInt32());
        Assert.Equal(JsonValueKind.Number, a.GetProperty("revision").ValueKind);
    }
}
