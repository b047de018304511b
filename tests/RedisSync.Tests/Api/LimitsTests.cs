using System.Net;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.Api;

/// <summary>CONTRACT §5 "fields per record (default 256)", and §2/§5 "nothing is half written" when a write fails.</summary>
public sealed class FieldLimitTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    private readonly HttpClient _client = gateway.ClientWithKey();

    internal static string Fields(string prefix, int count) =>
        "{" + string.Join(",", Enumerable.Range(0, count).Select(i => $"\"{prefix}{i}\":{i}")) + "}";

    [Fact]
    public async Task ARecordCannotGrowPastTheFieldLimitThroughPatches()
    {
        var c = Unique.Collection();
        await (await _client.PatchRawAsync(Record(c, "r"), $$$"""{"version":1,"data":{{{Fields("a", 256)}}}}""")).JsonAsync(HttpStatusCode.Created);
        // Replacing an existing field keeps the record at 256 fields.
        await (await _client.PatchRawAsync(Record(c, "r"), """{"version":2,"data":{"a0":"x"}}""")).JsonAsync(HttpStatusCode.OK);

        // A 257th field would break the per-record limit.
        await (await _client.PatchRawAsync(Record(c, "r"), """{"version":3,"data":{"b0":1}}""")).ProblemAsync(HttpStatusCode.BadRequest, "validation");
        var view = await (await _client.GetAsync(Record(c, "r"))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(256, view.GetProperty("data").EnumerateObject().Count());
    }
}

/// <summary>A gateway that allows the largest records the configuration accepts (Sync:MaxFieldsPerRecord = 2000).</summary>
public sealed class WideRecordGateway : GatewayFactory
{
    public WideRecordGateway() => Settings["Sync:MaxFieldsPerRecord"] = "2000";
}

public sealed class WideRecordTests(WideRecordGateway gateway) : IClassFixture<WideRecordGateway>
{
    private readonly HttpClient _client = gateway.ClientWithKey();

    [Fact]
    public async Task ARecordOfTheLargestAllowedSizeIsWrittenAndLoggedWhole()
    {
        var c = Unique.Collection();
        var written = await (await _client.PutRawAsync(Record(c, "wide"), $$$"""{"version":1,"data":{{{FieldLimitTests.Fields("f", 2000)}}}}""")).JsonAsync(HttpStatusCode.Created);
        Assert.Equal(2000, written.GetProperty("record").GetProperty("data").EnumerateObject().Count());
        var log = await _client.AllChangesAsync(c);
        Assert.Equal(2000, Assert.Single(log).GetProperty("record").GetProperty("data").EnumerateObject().Count());

        await (await _client.PatchRawAsync(Record(c, "wide"), """{"version":2,"data":{"one-more":1}}""")).ProblemAsync(HttpStatusCode.BadRequest, "validation");
    }

    [Fact]
    public async Task ABatchThatWouldOverflowARecordWritesNothingAtAll()
    {
        var c = Unique.Collection();
        await (await _client.PutRawAsync(Record(c, "wide"), $$$"""{"version":1,"data":{{{FieldLimitTests.Fields("f", 2000)}}}}""")).JsonAsync(HttpStatusCode.Created);
        var before = await _client.AllChangesAsync(c);

        // Item 0 alone is fine; item 1 would give "wide" a 2001st field. The whole batch is refused.
        var response = await _client.PostRawAsync(Records(c),
            """{"records":[{"id":"a","op":"put","version":1,"data":{"x":1}},{"id":"wide","op":"patch","version":2,"data":{"extra":1}}]}""");
        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.True(problem.GetProperty("errors").TryGetProperty("records[1].data", out _));

        await (await _client.GetAsync(Record(c, "a"))).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        Assert.Equal(before.Count, (await _client.AllChangesAsync(c)).Count);
        var asOf = (await (await _client.GetAsync(Records(c))).JsonAsync(HttpStatusCode.OK)).GetProperty("asOf").GetString();
        Assert.Equal(before[^1].GetProperty("seq").GetString(), asOf);
    }
}

public sealed class FieldLimitConfigurationTests
{
    [Fact]
    public async Task AFieldLimitAboveTheAllowedRangeIsRefusedAtStart()
    {
        await using var gateway = new GatewayFactory();
        gateway.Settings["Sync:MaxFieldsPerRecord"] = "10001";
        await ((IAsyncLifetime)gateway).InitializeAsync();
        var error = Assert.ThrowsAny<Exception>(() => gateway.CreateClient());
        Assert.Contains("MaxFieldsPerRecord", error.ToString());
    }
}
