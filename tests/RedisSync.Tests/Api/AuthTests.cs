using System.Net;
using System.Net.Http.Json;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.Api;

public sealed class AuthTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    private readonly HttpClient _writer = gateway.ClientWithKey();

    public static TheoryData<string, string> EveryEndpoint => new()
    {
        { "PUT", "/records/{id}" },
        { "PATCH", "/records/{id}" },
        { "DELETE", "/records/{id}?version=1" },
        { "POST", "/records" },
        { "GET", "/records/{id}" },
        { "GET", "/records" },
        { "GET", "/changes" },
    };

    private static HttpRequestMessage Request(string method, string c, string path, string id = "r") =>
        new(new HttpMethod(method), $"/api/v1/collections/{c}{path.Replace("{id}", id)}")
        {
            Content = method is "PUT" or "PATCH" ? Body("""{"version":1,"data":{"a":1}}""")
                : method == "POST" ? Body($$$"""{"records":[{"id":"{{{id}}}","op":"put","version":1,"data":{"a":1}}]}""")
                : null,
        };

    [Theory]
    [MemberData(nameof(EveryEndpoint))]
    public async Task WithoutAKeyEveryEndpointIs401(string method, string path)
    {
        var c = Unique.Collection();
        await (await gateway.ClientWithKey(null).SendAsync(Request(method, c, path))).ProblemAsync(HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Empty(await _writer.AllChangesAsync(c));
    }

    [Theory]
    [MemberData(nameof(EveryEndpoint))]
    public async Task WithAWrongKeyEveryEndpointIs401(string method, string path)
    {
        var c = Unique.Collection();
        await (await gateway.ClientWithKey("not-a-key-of-this-gateway").SendAsync(Request(method, c, path))).ProblemAsync(HttpStatusCode.Unauthorized, "unauthorized");
        // A key that differs from a real one in its last character is just as wrong.
        await (await gateway.ClientWithKey(TestKeys.Writer[..^1] + "X").SendAsync(Request(method, c, path))).ProblemAsync(HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Empty(await _writer.AllChangesAsync(c));
    }

    [Fact]
    public async Task AKeyConfiguredAsASha256HashWorksAndWritesAsItsSource()
    {
        var c = Unique.Collection();
        var written = await (await gateway.ClientWithKey(TestKeys.Other).PutAsJsonAsync(Record(c, "r"), new { version = 1, data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);
        Assert.Equal("other", written.GetProperty("record").GetProperty("clock").GetProperty("source").GetString());
        Assert.Equal("other", (await _writer.AllChangesAsync(c))[0].GetProperty("source").GetString());
    }

    [Fact]
    public async Task TheKeyMayComeAsTheAccessTokenQueryParameter()
    {
        var c = Unique.Collection();
        var anonymous = gateway.ClientWithKey(null);
        await (await anonymous.PutAsJsonAsync($"{Record(c, "r")}?access_token={TestKeys.Writer}", new { version = 1, data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);
        await (await anonymous.GetAsync($"{Record(c, "r")}?access_token={TestKeys.Reader}")).JsonAsync(HttpStatusCode.OK);
        await (await anonymous.GetAsync($"{Record(c, "r")}?access_token=wrong-token")).ProblemAsync(HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Theory]
    [InlineData("PUT", "/records/{id}")]
    [InlineData("PATCH", "/records/{id}")]
    [InlineData("DELETE", "/records/{id}?version=1")]
    [InlineData("POST", "/records")]
    public async Task AReadOnlyKeyWritingIs403(string method, string path)
    {
        var c = Unique.Collection();
        await (await gateway.ClientWithKey(TestKeys.Reader).SendAsync(Request(method, c, path))).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        Assert.Empty(await _writer.AllChangesAsync(c));
    }

    [Fact]
    public async Task AReadOnlyKeyReads()
    {
        var c = Unique.Collection();
        await (await _writer.PutAsJsonAsync(Record(c, "r"), new { version = 1, data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);
        var reader = gateway.ClientWithKey(TestKeys.Reader);
        await (await reader.GetAsync(Record(c, "r"))).JsonAsync(HttpStatusCode.OK);
        await (await reader.GetAsync(Records(c))).JsonAsync(HttpStatusCode.OK);
        await (await reader.GetAsync(Changes(c))).JsonAsync(HttpStatusCode.OK);
    }

    [Theory]
    [MemberData(nameof(EveryEndpoint))]
    public async Task AKeyLimitedToOrdersIs403ElsewhereAndWorksOnOrders(string method, string path)
    {
        var c = Unique.Collection();
        var orders = gateway.ClientWithKey(TestKeys.OrdersOnly);
        await (await orders.SendAsync(Request(method, c, path))).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        Assert.Empty(await _writer.AllChangesAsync(c));

        // On "orders" the same request passes the access check (whatever it then answers).
        var own = await orders.SendAsync(Request(method, "orders", path, Guid.NewGuid().ToString("N")));
        Assert.NotEqual(HttpStatusCode.Forbidden, own.StatusCode);
        Assert.NotEqual(HttpStatusCode.Unauthorized, own.StatusCode);
        Assert.True((int)own.StatusCode < 500, $"{method} on orders answered {(int)own.StatusCode}");
    }

    [Fact]
    public async Task ABodySourceOtherThanTheKeysIs403()
    {
        var c = Unique.Collection();
        await (await _writer.PutAsJsonAsync(Record(c, "r"), new { version = 1, source = "other", data = new { a = 1 } })).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await _writer.PatchAsJsonAsync(Record(c, "r"), new { version = 1, source = "crm", data = new { a = 1 } })).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await _writer.DeleteAsync(Record(c, "r") + "?version=1&source=other")).ProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        Assert.Empty(await _writer.AllChangesAsync(c));
    }

    [Fact]
    public async Task ABodySourceEqualToTheKeysIsAccepted()
    {
        var c = Unique.Collection();
        var put = await (await _writer.PutAsJsonAsync(Record(c, "r"), new { version = 1, source = "writer", data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);
        Assert.Equal("writer", put.GetProperty("record").GetProperty("clock").GetProperty("source").GetString());
        await (await _writer.DeleteAsync(Record(c, "r") + "?version=2&source=writer")).JsonAsync(HttpStatusCode.OK);
        var batch = await _writer.PostAsJsonAsync(Records(c), new { records = new[] { new { id = "s", op = "put", version = 1, source = "writer", data = new { a = 1 } } } });
        await batch.JsonAsync(HttpStatusCode.OK);
    }
}

/// <summary>A gateway with auth off: anyone reads and writes, and the writer names itself in the body.</summary>
public sealed class AuthOffGateway : GatewayFactory
{
    public AuthOffGateway() => Settings["Auth:Enabled"] = "false";
}

public sealed class AuthOffTests(AuthOffGateway gateway) : IClassFixture<AuthOffGateway>
{
    private readonly HttpClient _client = gateway.ClientWithKey(null);

    [Fact]
    public async Task TheSourceComesFromTheBodyOrTheQuery()
    {
        var c = Unique.Collection();
        var put = await (await _client.PutAsJsonAsync(Record(c, "r"), new { version = 1, source = "crm.eu-1_a", data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);
        Assert.Equal("crm.eu-1_a", put.GetProperty("record").GetProperty("clock").GetProperty("source").GetString());
        await (await _client.DeleteAsync(Record(c, "r") + "?version=2&source=billing")).JsonAsync(HttpStatusCode.OK);
        var changes = await _client.AllChangesAsync(c);
        Assert.Equal(["crm.eu-1_a", "billing"], changes.Select(e => e.GetProperty("source").GetString()!).ToArray());
    }

    [Fact]
    public async Task WithoutASourceAWriteIs400()
    {
        var c = Unique.Collection();
        await (await _client.PutAsJsonAsync(Record(c, "r"), new { version = 1, data = new { a = 1 } })).ValidationProblemAsync("source");
        await (await _client.DeleteAsync(Record(c, "r") + "?version=1")).ValidationProblemAsync("source");
        await (await _client.PostAsJsonAsync(Records(c), new { records = new[] { new { id = "r", op = "put", version = 1, data = new { a = 1 } } } }))
            .ValidationProblemAsync("records[0].source");
        Assert.Empty(await _client.AllChangesAsync(c));
    }

    [Theory]
    [InlineData("CRM")]
    [InlineData("-crm")]
    [InlineData(".crm")]
    [InlineData("_crm")]
    [InlineData("crm app")]
    [InlineData("crm/app")]
    [InlineData("crm~1")]
    [InlineData("crmé")]
    public async Task ASourceBreakingTheNameRuleIs400(string source)
    {
        var c = Unique.Collection();
        await (await _client.PutAsJsonAsync(Record(c, "r"), new { version = 1, source, data = new { a = 1 } })).ValidationProblemAsync("source");
        await (await _client.PostAsJsonAsync(Records(c), new { records = new[] { new { id = "r", op = "put", version = 1, source, data = new { a = 1 } } } }))
            .ValidationProblemAsync("records[0].source");
        await (await _client.DeleteAsync($"{Record(c, "r")}?version=1&source={Uri.EscapeDataString(source)}")).ValidationProblemAsync("source");
    }

    [Fact]
    public async Task ASourceOf64CharactersIsAcceptedAnd65IsNot()
    {
        var c = Unique.Collection();
        await (await _client.PutAsJsonAsync(Record(c, "r"), new { version = 1, source = new string('s', 64), data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);
        await (await _client.PutAsJsonAsync(Record(c, "r"), new { version = 2, source = new string('s', 65), data = new { a = 1 } })).ValidationProblemAsync("source");
    }
}
