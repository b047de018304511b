using System.Net;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.Security;

/// <summary>Redis with a password, and Redis over TLS with a private CA (CONTRACT §6).</summary>
public sealed class RedisConnectionSecurityTests
{
    [Fact]
    public async Task AGatewayWithTheRedisPasswordServesAndOneWithAWrongPasswordIsNotReady()
    {
        await using var redis = await RedisServer.StartAsync(password: "redis-test-password-1");
        await using (var good = new SharedRedisGateway(redis, redis.ConnectionString))
        {
            await ((IAsyncLifetime)good).InitializeAsync();
            var client = good.ClientWithKey();
            await (await client.PutRawAsync(Record(Unique.Collection(), "r"), """{"version":1,"data":{"a":1}}""")).JsonAsync(HttpStatusCode.Created);
        }

        await using var bad = new SharedRedisGateway(redis, redis.ConnectionString.Replace("redis-test-password-1", "wrong-password"));
        await ((IAsyncLifetime)bad).InitializeAsync();
        var badClient = bad.ClientWithKey();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await badClient.GetAsync("/health/ready")).StatusCode);
        await (await badClient.PutRawAsync(Record(Unique.Collection(), "r"), """{"version":1,"data":{"a":1}}"""))
            .ProblemAsync(HttpStatusCode.ServiceUnavailable, "unavailable");
    }

    [Fact]
    public async Task AGatewayTrustingTheRedisCaWritesOverTlsAndOneWithoutItIsNotReady()
    {
        await using var redis = await RedisServer.StartTlsAsync();
        await using (var trusting = new SharedRedisGateway(redis, redis.ConnectionString))
        {
            trusting.Settings["Redis:CaCertificatePath"] = redis.CaCertificatePath;
            await ((IAsyncLifetime)trusting).InitializeAsync();
            var client = trusting.ClientWithKey();
            var c = Unique.Collection();
            await (await client.PutRawAsync(Record(c, "r"), """{"version":1,"data":{"over":"tls"}}""")).JsonAsync(HttpStatusCode.Created);
            var read = await (await client.GetAsync(Record(c, "r"))).JsonAsync(HttpStatusCode.OK);
            Assert.Equal("tls", read.GetProperty("data").GetProperty("over").GetString());
            Assert.Contains(c, await redis.CliAsync("--scan", "--pattern", $"rs:{{{c}}}:*"));
        }

        await using var untrusting = new SharedRedisGateway(redis, redis.ConnectionString);
        await ((IAsyncLifetime)untrusting).InitializeAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await untrusting.ClientWithKey().GetAsync("/health/ready")).StatusCode);
    }

    /// <summary>A gateway on an existing Redis with a connection string of the test's choosing.</summary>
    private sealed class SharedRedisGateway : GatewayFactory
    {
        public SharedRedisGateway(RedisServer redis, string connectionString)
        {
            UseRedis(redis);
            Settings["Redis:ConnectionString"] = connectionString;
        }
    }
}
