using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RedisSync.Tests.Api;
using RedisSync.Tests.Fixtures;
using StackExchange.Redis;
using static RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.Hostile;

/// <summary>
/// The gateway on real Kestrel (so what a test writes is what goes on the wire, and Kestrel's own limits
/// apply) over its own redis-server, seeded with records in several collections so that "nothing else
/// changed" means something. Default settings throughout: the limits under test are the shipped ones.
/// </summary>
public sealed class HostileGateway : LiveGateway
{
    /// <summary>Seeded collections; every hostile request aims at them.</summary>
    public const string Alpha = "alpha", Beta = "beta", Gamma = "gamma-1";

    /// <summary>Where the "still serving" check writes (each check a new record).</summary>
    public const string Canary = "canary";

    private ConnectionMultiplexer? _mux;
    private int _canary;
    private string _seededR1 = "";

    internal RedisDigest Data { get; private set; } = null!;

    // "Nothing else changed" is checked over every key Redis holds, which other tests on a shared cluster
    // would change; and the seeded collections have fixed names.
    public HostileGateway() => OwnRedisServer = true;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _mux = await ConnectionMultiplexer.ConnectAsync(Redis.ConnectionString);
        Data = new RedisDigest(_mux.GetDatabase());
        await SeedAsync();
    }

    private async Task SeedAsync()
    {
        using var http = HttpClient();
        async Task Ok(HttpResponseMessage r) => Assert.True(r.IsSuccessStatusCode, $"seeding failed: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");

        await Ok(await http.PutRawAsync(Record(Alpha, "r1"), """{"version":3,"data":{"name":"seed","n":1,"pi":3.141592653589793,"big":9223372036854775808,"nested":{"a":[1,{}]}}}"""));
        await Ok(await http.PutRawAsync(Record(Alpha, "r2"), """{"version":1,"timestamp":"2025-01-01T00:00:00Z","data":{"x":"two"}}"""));
        await Ok(await http.PatchRawAsync(Record(Alpha, "r2"), """{"version":2,"data":{"y":null,"z":[]}}"""));
        await Ok(await http.PutRawAsync(Record(Alpha, "r3"), """{"version":1,"data":{"üñï":"ç","😀":"emoji","a\u0000b":"nul"}}"""));
        await Ok(await http.PutRawAsync(Record(Alpha, "r4"), """{"version":1,"data":{"gone":true}}"""));
        await Ok(await http.DeleteAsync(Record(Alpha, "r4") + "?version=2"));
        await Ok(await http.DeleteAsync(Record(Alpha, "tomb") + "?version=5")); // a tombstone that never lived
        await Ok(await http.PostRawAsync(Records(Beta),
            """{"records":[{"id":"b1","op":"put","version":1,"data":{"k":1}},{"id":"b2","op":"patch","version":1,"data":{"k":2}},{"id":"b3","op":"put","version":1,"data":{}}]}"""));
        await Ok(await http.PutRawAsync(Record(Gamma, "g.1~x-y_z"), """{"version":9007199254740991,"data":{"max":true}}"""));
        await Ok(await http.PutRawAsync(Record(Canary, "seed"), """{"version":1,"data":{"ok":true}}"""));

        _seededR1 = (await (await http.GetAsync(Record(Alpha, "r1") + "?include=clocks")).JsonAsync(HttpStatusCode.OK)).GetRawText();
    }

    /// <summary>A snapshot of all Redis data.</summary>
    internal Task<RedisSnapshot> SnapshotAsync() => Data.TakeAsync();

    /// <summary>
    /// The gateway keeps serving: a seeded record reads back exactly as seeded, and a new write is applied.
    /// </summary>
    internal async Task AssertStillServingAsync()
    {
        using var http = HttpClient();
        var r1 = await (await http.GetAsync(Record(Alpha, "r1") + "?include=clocks")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(_seededR1, r1.GetRawText());
        var id = $"ok-{Interlocked.Increment(ref _canary)}";
        var written = await (await http.PutAsJsonAsync(Record(Canary, id), new { version = 1, data = new { id } })).JsonAsync(HttpStatusCode.Created);
        Assert.Equal("applied", written.GetProperty("outcome").GetString());
    }

    public override async ValueTask DisposeAsync()
    {
        if (_mux is not null) await _mux.CloseAsync();
        _mux?.Dispose();
        await base.DisposeAsync();
    }
}

/// <summary>Reading problems and records as JSON.</summary>
internal static class HostileAssert
{
    /// <summary>Asserts an RFC 9457 problem of this status and code; with <paramref name="errorKey"/>, that <c>errors</c> names it.</summary>
    public static JsonElement Problem(HttpStatusCode actualStatus, string? contentType, string body,
        HttpStatusCode status, string code, string? errorKey, string what)
    {
        var shown = body.Length > 700 ? body[..700] + "…" : body;
        Assert.True(actualStatus == status, $"{what}: expected {(int)status} {code}, got {(int)actualStatus}: {shown}");
        Assert.True(contentType == "application/problem+json", $"{what}: expected application/problem+json, got '{contentType}': {shown}");
        var problem = JsonDocument.Parse(body).RootElement.Clone();
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()));
        if (code == "validation" && status == HttpStatusCode.BadRequest)
        {
            var errors = problem.GetProperty("errors");
            Assert.NotEmpty(errors.EnumerateObject());
            foreach (var e in errors.EnumerateObject())
                Assert.Contains(e.Value.EnumerateArray(), m => !string.IsNullOrWhiteSpace(m.GetString()));
            if (errorKey is not null)
                Assert.True(errors.EnumerateObject().Select(e => e.Name).SequenceEqual([errorKey]), $"{what}: errors should name exactly '{errorKey}': {errors.GetRawText()}");
            // Never a .NET type name in what the caller reads.
            Assert.DoesNotContain("System.", errors.GetRawText(), StringComparison.Ordinal);
        }
        return problem;
    }
}
