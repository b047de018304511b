using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.Api;

/// <summary>CONTRACT §1 (names), §2 (clock ranges) and the JSON rules for bodies: every violation is a 400 naming the field.</summary>
public sealed class ValidationTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    private readonly HttpClient _client = gateway.ClientWithKey();

    private async Task AssertNothingWrittenAsync(string c, string id = "r")
    {
        await (await _client.GetAsync(Record(c, id))).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        Assert.Empty(await _client.AllChangesAsync(c));
    }

    [Theory]
    [InlineData("Upper")]
    [InlineData("-lead")]
    [InlineData("_lead")]
    [InlineData("a.b")]
    [InlineData("a~b")]
    [InlineData("a%20b")]
    [InlineData("%C3%A9t%C3%A9")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")] // 65
    public async Task ACollectionNameBreakingTheRuleIs400OnWritesAndReads(string collection)
    {
        var problem = await (await _client.PutAsJsonAsync(Record(collection, "r"), new { version = 1, data = new { a = 1 } })).ValidationProblemAsync("collection");
        Assert.Contains(Uri.UnescapeDataString(collection), problem.GetProperty("errors").GetProperty("collection")[0].GetString());
        await (await _client.GetAsync(Record(collection, "r"))).ValidationProblemAsync("collection");
        await (await _client.GetAsync(Records(collection))).ValidationProblemAsync("collection");
        await (await _client.GetAsync(Changes(collection))).ValidationProblemAsync("collection");
        await (await _client.PostAsJsonAsync(Records(collection), new { records = new[] { new { id = "r", op = "put", version = 1, data = new { a = 1 } } } }))
            .ValidationProblemAsync("collection");
    }

    [Theory]
    [InlineData("0")]
    [InlineData("a_b-c")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")] // 64
    public async Task ACollectionNameWithinTheRuleIsAccepted(string prefix)
    {
        // Unique per run: a 64-character name is its own unique prefix only when shortened.
        var collection = prefix.Length == 64 ? prefix[..56] + Guid.NewGuid().ToString("N")[..8] : $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";
        await (await _client.PutAsJsonAsync(Record(collection, "r"), new { version = 1, data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);
        await (await _client.GetAsync(Record(collection, "r"))).JsonAsync(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData(".lead")]
    [InlineData("-lead")]
    [InlineData("~lead")]
    [InlineData("_lead")]
    [InlineData("a%20b")]
    [InlineData("a+b")]
    [InlineData("a%7Bb%7D")]
    [InlineData("a:b")]
    [InlineData("%C3%A9")]
    [InlineData("a%2Fb")]
    public async Task ARecordIdBreakingTheRuleIs400(string id)
    {
        var c = Unique.Collection();
        var problem = await (await _client.PutAsJsonAsync(Record(c, id), new { version = 1, data = new { a = 1 } })).ValidationProblemAsync("id");
        Assert.Contains(id.Contains("%2F") ? id : Uri.UnescapeDataString(id), problem.GetProperty("errors").GetProperty("id")[0].GetString());
        await (await _client.PatchAsJsonAsync(Record(c, id), new { version = 1, data = new { a = 1 } })).ValidationProblemAsync("id");
        await (await _client.DeleteAsync(Record(c, id) + "?version=1")).ValidationProblemAsync("id");
        await (await _client.GetAsync(Record(c, id))).ValidationProblemAsync("id");
        var decoded = Uri.UnescapeDataString(id);
        await (await _client.PostAsJsonAsync(Records(c), new { records = new[] { new { id = decoded, op = "put", version = 1, data = new { a = 1 } } } }))
            .ValidationProblemAsync("records[0].id");
        Assert.Empty(await _client.AllChangesAsync(c));
    }

    [Fact]
    public async Task ARecordIdOf128CharactersIsAcceptedAnd129IsNot()
    {
        var c = Unique.Collection();
        var longest = "A.b_c~d-e" + new string('x', 119);
        await (await _client.PutAsJsonAsync(Record(c, longest), new { version = 1, data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);
        await (await _client.GetAsync(Record(c, longest))).JsonAsync(HttpStatusCode.OK);
        await (await _client.PutAsJsonAsync(Record(c, longest + "x"), new { version = 1, data = new { a = 1 } })).ValidationProblemAsync("id");
        await (await _client.PostAsJsonAsync(Records(c), new { records = new[] { new { id = longest + "x", op = "put", version = 1, data = new { a = 1 } } } }))
            .ValidationProblemAsync("records[0].id");
    }

    [Fact]
    public async Task AFieldNameStartingWithDollarIs400NamingTheField()
    {
        var c = Unique.Collection();
        await (await _client.PutRawAsync(Record(c, "r"), """{"version":1,"data":{"ok":1,"$x":1}}""")).ValidationProblemAsync("data.$x");
        await (await _client.PatchRawAsync(Record(c, "r"), """{"version":1,"data":{"$rev":1}}""")).ValidationProblemAsync("data.$rev");
        await (await _client.PostRawAsync(Records(c), """{"records":[{"id":"r","op":"put","version":1,"data":{"$x":1}}]}""")).ValidationProblemAsync("records[0].data.$x");
        await AssertNothingWrittenAsync(c);

        // '$' is only forbidden at the start.
        await (await _client.PutRawAsync(Record(c, "r"), """{"version":1,"data":{"x$":1}}""")).JsonAsync(HttpStatusCode.Created);
    }

    [Fact]
    public async Task AFieldNameOf200CharactersIsAcceptedAnd201OrEmptyIsNot()
    {
        var c = Unique.Collection();
        var longest = new string('f', 200);
        await (await _client.PutRawAsync(Record(c, "r"), $$$"""{"version":1,"data":{"{{{longest}}}x":1}}""")).ValidationProblemAsync($"data.{longest}x");
        await (await _client.PutRawAsync(Record(c, "r"), """{"version":1,"data":{"":1}}""")).ValidationProblemAsync("data.");
        await AssertNothingWrittenAsync(c);

        var ok = await (await _client.PutRawAsync(Record(c, "r"), $$$"""{"version":1,"data":{"{{{longest}}}":1}}""")).JsonAsync(HttpStatusCode.Created);
        Assert.Equal([longest], ok.GetProperty("record").GetProperty("data").Names());
    }

    [Theory]
    [InlineData("-1", "version")]
    [InlineData("9007199254740992", "version")]             // 2^53
    [InlineData("9223372036854775808", "$.version")]        // 2^63: not even a 64-bit integer
    [InlineData("18446744073709551616", "$.version")]       // 2^64
    [InlineData("1.5", "$.version")]
    [InlineData("1e3", "$.version")]
    [InlineData("true", "$.version")]
    [InlineData("null", "version")]
    public async Task AVersionOutsideZeroTo2Pow53Minus1Is400(string version, string field)
    {
        var c = Unique.Collection();
        await (await _client.PutRawAsync(Record(c, "r"), $$$"""{"version":{{{version}}},"data":{"a":1}}""")).ValidationProblemAsync(field);
        await AssertNothingWrittenAsync(c);
    }

    [Fact]
    public async Task AVersionSentAsAJsonStringIs400()
    {
        // CONTRACT §2: version is an integer. A JSON string is the wrong type, as it is for timestamp's number.
        var c = Unique.Collection();
        await (await _client.PutRawAsync(Record(c, "r"), """{"version":"1","data":{"a":1}}""")).ValidationProblemAsync("$.version");
        await (await _client.PostRawAsync(Records(c), """{"records":[{"id":"r","op":"put","version":"1","data":{"a":1}}]}""")).ValidationProblemAsync("$.records[0].version");
        await AssertNothingWrittenAsync(c);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("9007199254740991")]
    public async Task AVersionAtTheEdgesOfTheRangeIsAccepted(string version)
    {
        var c = Unique.Collection();
        var written = await (await _client.PutRawAsync(Record(c, "r"), $$$"""{"version":{{{version}}},"data":{"a":1}}""")).JsonAsync(HttpStatusCode.Created);
        Assert.Equal(version, written.GetProperty("record").GetProperty("clock").GetProperty("version").GetRawText());
    }

    [Theory]
    [InlineData("\"2025-01-02T03:04:05\"")]         // no offset
    [InlineData("\"2025-01-02 03:04:05Z\"")]
    [InlineData("\"2025-01-02\"")]
    [InlineData("\"garbage\"")]
    [InlineData("\"\"")]
    [InlineData("\"2025-02-30T00:00:00Z\"")]
    [InlineData("\"2025-01-02T03:04:05+0100\"")]
    [InlineData("\"1735787045000\"")]
    public async Task ATimestampThatIsNotRfc3339WithAnOffsetIs400(string timestamp)
    {
        var c = Unique.Collection();
        await (await _client.PutRawAsync(Record(c, "r"), $$$"""{"version":1,"timestamp":{{{timestamp}}},"data":{"a":1}}""")).ValidationProblemAsync("timestamp");
        await AssertNothingWrittenAsync(c);
    }

    [Theory]
    [InlineData("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z")]
    [InlineData("1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z")]
    [InlineData("2025-06-01T12:00:00.123456789+05:30", "2025-06-01T06:30:00.123Z")]
    [InlineData("2025-06-01t12:00:00z", "2025-06-01T12:00:00.000Z")]
    public async Task AnRfc3339TimestampIsStoredAsUtcMilliseconds(string timestamp, string stored)
    {
        var c = Unique.Collection();
        var written = await (await _client.PutAsJsonAsync(Record(c, "r"), new { version = 1, timestamp, data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);
        Assert.Equal(stored, written.GetProperty("record").GetProperty("clock").GetProperty("timestamp").GetString());
    }

    [Fact]
    public async Task ATimestampThatIsNotAStringIs400()
    {
        var c = Unique.Collection();
        await (await _client.PutRawAsync(Record(c, "r"), """{"version":1,"timestamp":1735787045000,"data":{"a":1}}""")).ValidationProblemAsync("$.timestamp");
        await AssertNothingWrittenAsync(c);
    }

    [Fact]
    public async Task ATimestampMoreThanFiveMinutesAheadIs400AndFourMinutesAheadIsAccepted()
    {
        var c = Unique.Collection();
        var ahead6 = Rfc3339(DateTimeOffset.UtcNow.AddMinutes(6));
        await (await _client.PutAsJsonAsync(Record(c, "r"), new { version = 1, timestamp = ahead6, data = new { a = 1 } })).ValidationProblemAsync("timestamp");
        await (await _client.DeleteAsync($"{Record(c, "r")}?version=1&timestamp={ahead6}")).ValidationProblemAsync("timestamp");
        await (await _client.PostAsJsonAsync(Records(c), new { records = new[] { new { id = "r", op = "put", version = 1, timestamp = ahead6, data = new { a = 1 } } } }))
            .ValidationProblemAsync("records[0].timestamp");
        // In another offset it is the same instant, and just as far ahead.
        var ahead6Offset = DateTimeOffset.UtcNow.AddMinutes(6).ToOffset(TimeSpan.FromHours(-5)).ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz");
        await (await _client.PutAsJsonAsync(Record(c, "r"), new { version = 1, timestamp = ahead6Offset, data = new { a = 1 } })).ValidationProblemAsync("timestamp");
        await AssertNothingWrittenAsync(c);

        var ahead4 = DateTimeOffset.UtcNow.AddMinutes(4);
        var ok = await (await _client.PutAsJsonAsync(Record(c, "r"), new { version = 1, timestamp = Rfc3339(ahead4), data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);
        Assert.Equal(Rfc3339(ahead4), ok.GetProperty("record").GetProperty("clock").GetProperty("timestamp").GetString());
    }

    [Theory]
    [InlineData("[1]")]
    [InlineData("\"text\"")]
    [InlineData("5")]
    [InlineData("true")]
    [InlineData("null")]
    public async Task DataThatIsNotAnObjectIs400(string data)
    {
        var c = Unique.Collection();
        await (await _client.PutRawAsync(Record(c, "r"), $$$"""{"version":1,"data":{{{data}}}}""")).ValidationProblemAsync("data");
        await (await _client.PatchRawAsync(Record(c, "r"), $$$"""{"version":1,"data":{{{data}}}}""")).ValidationProblemAsync("data");
        await AssertNothingWrittenAsync(c);
    }

    [Fact]
    public async Task APutWithoutDataIs400()
    {
        var c = Unique.Collection();
        await (await _client.PutRawAsync(Record(c, "r"), """{"version":1}""")).ValidationProblemAsync("data");
        await AssertNothingWrittenAsync(c);
    }

    [Fact]
    public async Task MoreThan256FieldsIs400And256AreAccepted()
    {
        var c = Unique.Collection();
        static string Fields(int n) => "{" + string.Join(",", Enumerable.Range(0, n).Select(i => $"\"f{i}\":{i}")) + "}";
        await (await _client.PutRawAsync(Record(c, "r"), $$$"""{"version":1,"data":{{{Fields(257)}}}}""")).ValidationProblemAsync("data");
        await (await _client.PatchRawAsync(Record(c, "r"), $$$"""{"version":1,"data":{{{Fields(257)}}}}""")).ValidationProblemAsync("data");
        await AssertNothingWrittenAsync(c);
        var ok = await (await _client.PutRawAsync(Record(c, "r"), $$$"""{"version":1,"data":{{{Fields(256)}}}}""")).JsonAsync(HttpStatusCode.Created);
        Assert.Equal(256, ok.GetProperty("record").GetProperty("data").EnumerateObject().Count());
    }

    [Theory]
    [InlineData("""{"version":1,"data":{"a":1}""")]
    [InlineData("""{"version":1,"data":{"a":}}""")]
    [InlineData("""{version:1,"data":{"a":1}}""")]
    [InlineData("""{"version":1,"data":{"a":1}} trailing""")]
    [InlineData("""{"version":1,"data":{"a":'x'}}""")]
    [InlineData("""[1,2]""")]
    [InlineData("""null""")]
    [InlineData("""42""")]
    public async Task MalformedJsonIs400(string body)
    {
        var c = Unique.Collection();
        var problem = await (await _client.PutRawAsync(Record(c, "r"), body)).ProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.NotEmpty(problem.GetProperty("errors").EnumerateObject());
        await AssertNothingWrittenAsync(c);
    }

    [Fact]
    public async Task AnEmptyBodyIs400()
    {
        var c = Unique.Collection();
        await (await _client.PutRawAsync(Record(c, "r"), "")).ValidationProblemAsync("body");
        await (await _client.PostRawAsync(Records(c), "")).ValidationProblemAsync("body");
        await AssertNothingWrittenAsync(c);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("application/xml")]
    public async Task AWrongContentTypeIs415(string mediaType)
    {
        var c = Unique.Collection();
        var response = await _client.PutAsync(Record(c, "r"), Body("""{"version":1,"data":{"a":1}}""", mediaType));
        // The contract names no code of its own for this; the API files it under bad input.
        await response.ProblemAsync(HttpStatusCode.UnsupportedMediaType, "validation");
        await AssertNothingWrittenAsync(c);
    }

    [Fact]
    public async Task ABodyOverOneMebibyteIs413PayloadTooLarge()
    {
        var c = Unique.Collection();
        var big = $$$"""{"version":1,"data":{"blob":"{{{new string('x', 1024 * 1024)}}}"}}""";
        await (await _client.PutRawAsync(Record(c, "r"), big)).ProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        var batch = $$$"""{"records":[{"id":"r","op":"put","version":1,"data":{"blob":"{{{new string('x', 1024 * 1024)}}}"}}]}""";
        await (await _client.PostRawAsync(Records(c), batch)).ProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        await AssertNothingWrittenAsync(c);

        // Just under the limit is fine.
        var under = $$$"""{"version":1,"data":{"blob":"{{{new string('x', 1000 * 1024)}}}"}}""";
        await (await _client.PutRawAsync(Record(c, "r"), under)).JsonAsync(HttpStatusCode.Created);
    }

    [Fact]
    public async Task DuplicateJsonKeysAre400()
    {
        var c = Unique.Collection();
        var top = await (await _client.PutRawAsync(Record(c, "r"), """{"version":1,"version":2,"data":{"a":1}}""")).ProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.NotEmpty(top.GetProperty("errors").EnumerateObject());
        var inData = await (await _client.PutRawAsync(Record(c, "r"), """{"version":1,"data":{"a":1,"a":2}}""")).ProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.NotEmpty(inData.GetProperty("errors").EnumerateObject());
        var inBatch = await (await _client.PostRawAsync(Records(c), """{"records":[{"id":"r","op":"put","version":1,"data":{"a":1,"a":2}}]}""")).ProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.NotEmpty(inBatch.GetProperty("errors").EnumerateObject());
        await AssertNothingWrittenAsync(c);
    }

    [Fact]
    public async Task DeeplyNestedDataIs400NotA500()
    {
        var c = Unique.Collection();
        var deep = new string('[', 200) + new string(']', 200);
        await (await _client.PutRawAsync(Record(c, "r"), $$$"""{"version":1,"data":{"a":{{{deep}}}}}""")).ProblemAsync(HttpStatusCode.BadRequest, "validation");
        await AssertNothingWrittenAsync(c);

        // Nesting within the limit is stored as a whole value.
        var nested = new string('[', 20) + "1" + new string(']', 20);
        var ok = await (await _client.PutRawAsync(Record(c, "r"), $$$"""{"version":1,"data":{"a":{{{nested}}}}}""")).JsonAsync(HttpStatusCode.Created);
        Assert.Equal(nested, ok.GetProperty("record").GetProperty("data").GetProperty("a").GetRawText());
    }

    [Fact]
    public async Task EveryBadPartOfOneWriteIsNamed()
    {
        var c = Unique.Collection();
        var ahead = Rfc3339(DateTimeOffset.UtcNow.AddHours(1));
        await (await _client.PutRawAsync(Record(c, "r"), $$$"""{"version":-5,"timestamp":"{{{ahead}}}","data":{"$a":1,"b":2}}"""))
            .ValidationProblemAsync("version", "timestamp", "data.$a");
        await AssertNothingWrittenAsync(c);
    }

    [Fact]
    public async Task AVersionOfTheWrongTypeInsideAnotherwiseValidBodyIsNamedByItsJsonPath()
    {
        var c = Unique.Collection();
        var problem = await (await _client.PutRawAsync(Record(c, "r"), """{"version":{"n":1},"data":{"a":1}}""")).ValidationProblemAsync("$.version");
        Assert.DoesNotContain("System.", problem.GetProperty("errors").GetProperty("$.version")[0].GetString());
        Assert.Equal(JsonValueKind.Object, problem.ValueKind);
    }
}

/// <summary>The gateway on real Kestrel (the in-memory test server does not enforce Kestrel's body-size limit).</summary>
public sealed class KestrelGateway : GatewayFactory
{
    public KestrelGateway() => UseKestrel(0);
}

public sealed class KestrelLimitTests(KestrelGateway gateway) : IClassFixture<KestrelGateway>
{
    private readonly HttpClient _client = gateway.ClientWithKey();

    [Fact]
    public async Task ABodyOverOneMebibyteWithoutAContentLengthIs413()
    {
        var c = Unique.Collection();
        var bytes = Encoding.UTF8.GetBytes($$$"""{"version":1,"data":{"blob":"{{{new string('x', 2 * 1024 * 1024)}}}"}}""");
        var content = new StreamContent(new MemoryStream(bytes));
        content.Headers.ContentType = new("application/json");
        var request = new HttpRequestMessage(HttpMethod.Put, Record(c, "r")) { Content = content };
        request.Headers.TransferEncodingChunked = true;
        await (await _client.SendAsync(request)).ProblemAsync(HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        await (await _client.GetAsync(Record(c, "r"))).ProblemAsync(HttpStatusCode.NotFound, "not-found");
    }
}
