using System.Net;
using System.Net.Http.Headers;
using System.Text;
using RedisSync.Tests.Api;

namespace RedisSync.Tests.Hostile;

/// <summary>
/// Issue #4, HTTP side: every hostile request of <see cref="HttpCases"/> gets its 4xx problem, leaves every
/// byte of Redis as it was (digest of all keys before and after), and the gateway goes on serving.
/// </summary>
public sealed class HostileHttpTests(HostileGateway gateway) : IClassFixture<HostileGateway>
{
    private static int _version = 1000;

    public static TheoryData<string> Cases => new(HttpCases.All.Keys);

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task AHostileRequestGetsItsProblemAndChangesNothingInRedis(string name)
    {
        var @case = HttpCases.All[name];
        var before = await gateway.SnapshotAsync();

        var response = await SendAsync(gateway.Address, @case, Interlocked.Increment(ref _version));
        var after = await gateway.SnapshotAsync();

        // A wrong answer says whether it also wrote something.
        var diff = before.Differences(after);
        var what = $"{name} [{(diff.Count == 0 ? "Redis unchanged" : "Redis CHANGED: " + string.Join("; ", diff))}]";
        if (@case.ProblemBody)
            HostileAssert.Problem(response.Status, response.ContentType, response.Body, @case.Status, @case.Code, @case.ErrorKey, what);
        else
            Assert.True(response.Status == @case.Status, $"{what}: expected {(int)@case.Status}, got {(int)response.Status}: {response.Body}");

        before.AssertUnchanged(after, name);
        await gateway.AssertStillServingAsync();
    }

    // SyncOptions.MaxJsonDepth is 64 and System.Text.Json counts the body's outer object as depth 1, so the
    // deepest value a PUT/PATCH field can hold is 62 levels (body 1 + data 2 + 62 = 64); in a batch,
    // 60 (body 1 + records 2 + item 3 + data 4 + 60 = 64). One more level anywhere is a 400.
    [Theory]
    [InlineData("PUT", 62)]
    [InlineData("PATCH", 62)]
    [InlineData("POST", 60)]
    public async Task ABodyNestedExactly64DeepIsAcceptedAndOneLevelMoreIsRefused(string method, int valueDepth)
    {
        using var http = gateway.HttpClient();
        string Value(int depth) => new string('[', depth - 1) + "{}" + new string(']', depth - 1);
        string Body(string id, int depth) => method == "POST"
            ? $$$"""{"records":[{"id":"{{{id}}}","op":"put","version":1,"data":{"deep":{{{Value(depth)}}}}}]}"""
            : $$$"""{"version":1,"data":{"deep":{{{Value(depth)}}}}}""";
        HttpRequestMessage Request(string id, int depth) => new(new HttpMethod(method), method == "POST" ? Api.Http.Records("depth") : Api.Http.Record("depth", id))
        {
            Content = Api.Http.Body(Body(id, depth)),
        };
        var id = $"{method.ToLowerInvariant()}-{valueDepth}";

        var before = await gateway.SnapshotAsync();
        var refused = await http.SendAsync(Request(id + "-over", valueDepth + 1));
        HostileAssert.Problem(refused.StatusCode, refused.Content.Headers.ContentType?.MediaType, await refused.Content.ReadAsStringAsync(),
            HttpStatusCode.BadRequest, "validation", null, $"{method} nested {valueDepth + 1} deep");
        before.AssertUnchanged(await gateway.SnapshotAsync(), "a body nested 65 deep");

        var accepted = await http.SendAsync(Request(id, valueDepth));
        Assert.True(accepted.IsSuccessStatusCode, $"{method} nested to depth 64: {(int)accepted.StatusCode} {await accepted.Content.ReadAsStringAsync()}");
        var read = await (await http.GetAsync(Api.Http.Record("depth", id))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(Value(valueDepth), read.GetProperty("data").GetProperty("deep").GetRawText());
        // The change log serves it too (its own response nests the value deeper still).
        var changes = await (await http.GetAsync(Api.Http.Changes("depth") + "?limit=1000")).Content.ReadAsStringAsync();
        Assert.Contains(Value(valueDepth), changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheDigestSeesEveryKindOfChangeAndNothingElse()
    {
        // The tool the whole suite leans on: it must notice a changed hash field, an XADD even when the entry
        // is deleted again, a new key, and a TTL; and see nothing when nothing happened.
        var redis = gateway.Redis;
        var start = await gateway.SnapshotAsync();
        start.AssertUnchanged(await gateway.SnapshotAsync(), "taking a snapshot");

        async Task Expect(string what, string key, Func<Task> change)
        {
            var before = await gateway.SnapshotAsync();
            await change();
            var diff = before.Differences(await gateway.SnapshotAsync());
            Assert.True(diff.Count == 1 && diff[0].EndsWith(" " + key, StringComparison.Ordinal), $"{what}: {string.Join("; ", diff)}");
        }
        await Expect("a changed record value", "rs:{canary}:r:seed", () => redis.CliAsync("APPEND", "rs:{canary}:r:seed", "x"));
        await Expect("an added and deleted stream entry", "rs:{canary}:log", async () =>
        {
            var id = (await redis.CliAsync("XADD", "rs:{canary}:log", "*", "x", "y")).Trim();
            await redis.CliAsync("XDEL", "rs:{canary}:log", id);
        });
        await Expect("a new key", "scratch", () => redis.CliAsync("SET", "scratch", "1"));
        await Expect("a binary key", @"rs:{canary}:r:x\u0000", () => redis.CliAsync("EVAL", "return redis.call('SET', 'rs:{canary}:r:x' .. string.char(0), 1)", "0"));
        await Expect("a TTL", "scratch", () => redis.CliAsync("PEXPIRE", "scratch", "600000"));
        await redis.CliAsync("EVAL", "return redis.call('DEL', 'scratch', 'rs:{canary}:r:x' .. string.char(0))", "0");
    }

    /// <summary>Sends a case as written: body bytes untouched, target checked to reach the wire unchanged.</summary>
    internal static async Task<RawResponse> SendAsync(Uri server, HttpCase c, int version)
    {
        var body = c.Body is null ? null : ReplaceVersion(c.Body, version);
        if (c.Transport is Transport.Raw or Transport.Chunked)
            return await RawHttp.SendAsync(server, c.Method, c.Target, c.ApiKey, body, c.ContentType, chunked: c.Transport == Transport.Chunked);

        var uri = new Uri(server.GetLeftPart(UriPartial.Authority) + c.Target);
        // HttpClient writes Uri.PathAndQuery on the request line; if System.Uri rewrote the target the case
        // would test something else, so say so (and send such targets over RawHttp).
        Assert.True(uri.PathAndQuery == c.Target, $"System.Uri would send '{uri.PathAndQuery}' instead of '{c.Target}'");

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(new HttpMethod(c.Method), uri);
        if (c.ApiKey is not null) request.Headers.Add("X-Api-Key", c.ApiKey);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            if (c.ContentType is not null) request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(c.ContentType);
        }
        using var response = await http.SendAsync(request);
        return new RawResponse(response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
    }

    private static byte[] ReplaceVersion(byte[] body, int version)
    {
        var marker = "{V}"u8;
        var replacement = Encoding.ASCII.GetBytes(version.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var output = new List<byte>(body.Length);
        for (var i = 0; i < body.Length; i++)
        {
            if (i + marker.Length <= body.Length && body.AsSpan(i, marker.Length).SequenceEqual(marker))
            {
                output.AddRange(replacement);
                i += marker.Length - 1;
            }
            else output.Add(body[i]);
        }
        return [.. output];
    }
}
