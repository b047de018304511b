using System.Net;
using System.Net.Http.Json;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.Api;

/// <summary>A gateway whose redis-server the test kills and restarts (without persistence: it comes back empty).</summary>
public sealed class OutageGateway : GatewayFactory
{
    public OutageGateway() => OwnRedisServer = true; // killed and restarted
}

/// <summary>CONTRACT §5: Redis unreachable → 503 <c>unavailable</c> with Retry-After; the gateway recovers by itself.</summary>
public sealed class OutageTests(OutageGateway gateway) : IClassFixture<OutageGateway>
{
    private static readonly TimeSpan RecoveryTimeout = TimeSpan.FromSeconds(30);

    private static async Task AssertUnavailableAsync(HttpResponseMessage response)
    {
        await response.ProblemAsync(HttpStatusCode.ServiceUnavailable, "unavailable");
        Assert.NotNull(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task WhileRedisIsDownRequestsAre503WithRetryAfterAndTheGatewayRecoversWhenItReturns()
    {
        var c = Unique.Collection();
        var client = gateway.ClientWithKey();
        await (await client.PutAsJsonAsync(Record(c, "r"), new { version = 1, data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);

        gateway.Redis.Kill();

        await AssertUnavailableAsync(await client.PutAsJsonAsync(Record(c, "r"), new { version = 2, data = new { a = 2 } }));
        await AssertUnavailableAsync(await client.PatchAsJsonAsync(Record(c, "r"), new { version = 2, data = new { a = 2 } }));
        await AssertUnavailableAsync(await client.DeleteAsync(Record(c, "r") + "?version=2"));
        await AssertUnavailableAsync(await client.PostAsJsonAsync(Records(c), new { records = new[] { new { id = "r", op = "put", version = 2, data = new { a = 2 } } } }));
        await AssertUnavailableAsync(await client.GetAsync(Record(c, "r")));
        await AssertUnavailableAsync(await client.GetAsync(Records(c)));
        await AssertUnavailableAsync(await client.GetAsync(Changes(c)));
        await AssertUnavailableAsync(await client.GetAsync(Collections));
        var ready = await client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.NotNull(ready.Headers.RetryAfter);
        await (await client.GetAsync("/health/live")).JsonAsync(HttpStatusCode.OK);
        // Validation does not need Redis: bad input is still the caller's 400.
        await (await client.PutAsJsonAsync(Record(c, "r"), new { version = -1, data = new { a = 2 } })).ValidationProblemAsync("version");

        await gateway.Redis.RestartAsync();

        await EventuallyAsync(async () => (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK, RecoveryTimeout, "/health/ready is 200 again");
        HttpResponseMessage? put = null;
        await EventuallyAsync(async () =>
        {
            put = await client.PutAsJsonAsync(Record(c, "r"), new { version = 3, data = new { a = 3 } });
            Assert.True(put.IsSuccessStatusCode || put.StatusCode == HttpStatusCode.ServiceUnavailable, $"answered {(int)put.StatusCode}");
            return put.IsSuccessStatusCode;
        }, RecoveryTimeout, "a PUT succeeds again");
        // This server keeps no data across restarts, so the record is new again.
        Assert.Equal(HttpStatusCode.Created, put!.StatusCode);
        var view = await (await client.GetAsync(Record(c, "r"))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(3, view.GetProperty("data").GetProperty("a").GetInt32());
        Assert.Single(await client.AllChangesAsync(c));
    }
}

/// <summary>A second gateway for the outage test below (it must not share a Redis with the one above).</summary>
public sealed class WipedRedisGateway : GatewayFactory
{
    public WipedRedisGateway() => OwnRedisServer = true; // killed and restarted empty
}

public sealed class WipedRedisTests(WipedRedisGateway gateway) : IClassFixture<WipedRedisGateway>
{
    [Fact]
    public async Task ACollectionWrittenAgainAfterRedisLostItsDataIsListed()
    {
        var c = Unique.Collection();
        var client = gateway.ClientWithKey();
        await (await client.PutAsJsonAsync(Record(c, "r"), new { version = 1, data = new { a = 1 } })).JsonAsync(HttpStatusCode.Created);

        gateway.Redis.Kill();
        await gateway.Redis.RestartAsync(); // no persistence: every key is gone

        await EventuallyAsync(async () =>
        {
            var put = await client.PutAsJsonAsync(Record(c, "s"), new { version = 1, data = new { a = 1 } });
            return put.IsSuccessStatusCode;
        }, TimeSpan.FromSeconds(30), "a PUT succeeds after the restart");

        var names = (await (await client.GetAsync(Collections)).JsonAsync(HttpStatusCode.OK)).EnumerateArray().Select(x => x.GetProperty("name").GetString());
        Assert.Contains(c, names);
    }
}
