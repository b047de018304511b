using System.Net;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.Security;

/// <summary>A gateway with a tiny per-key rate and one allowed browser origin.</summary>
public sealed class TightGateway : GatewayFactory
{
    public const string AllowedOrigin = "https://app.example.test";

    public TightGateway()
    {
        Settings["RateLimit:Enabled"] = "true";
        Settings["RateLimit:PermitsPerSecond"] = "1";
        Settings["RateLimit:Burst"] = "3";
        Settings["Cors:AllowedOrigins:0"] = AllowedOrigin;
    }
}

public sealed class RateLimitAndCorsTests(TightGateway gateway) : IClassFixture<TightGateway>
{
    [Fact]
    public async Task AKeyOverItsRateGets429WithRetryAfterWhileOtherKeysAreServed()
    {
        var c = Unique.Collection();
        var reader = gateway.ClientWithKey(TestKeys.Reader);
        HttpResponseMessage? limited = null;
        // Burst 3, 1 more per second: within 20 immediate requests at least one must be refused.
        for (var i = 0; i < 20 && limited is null; i++)
        {
            var response = await reader.GetAsync(Records(c));
            if (response.StatusCode == HttpStatusCode.TooManyRequests) limited = response;
        }
        Assert.NotNull(limited);
        await limited.ProblemAsync(HttpStatusCode.TooManyRequests, "rate-limited");
        var retryAfter = Assert.Single(limited.Headers.GetValues("Retry-After"));
        Assert.InRange(int.Parse(retryAfter), 1, 60);

        // Another key has its own bucket; health probes are never limited.
        Assert.Equal(HttpStatusCode.OK, (await gateway.ClientWithKey(TestKeys.Other).GetAsync(Records(c))).StatusCode);
        for (var i = 0; i < 10; i++)
            Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/health/live")).StatusCode);
    }

    [Fact]
    public async Task APreflightFromAnAllowedOriginIsAnsweredAndOthersAreNot()
    {
        var client = gateway.CreateClient();
        async Task<HttpResponseMessage> Preflight(string origin)
        {
            var request = new HttpRequestMessage(HttpMethod.Options, Records("cors"));
            request.Headers.Add("Origin", origin);
            request.Headers.Add("Access-Control-Request-Method", "PUT");
            request.Headers.Add("Access-Control-Request-Headers", "x-api-key,content-type");
            return await client.SendAsync(request);
        }

        var allowed = await Preflight(TightGateway.AllowedOrigin);
        Assert.Equal(TightGateway.AllowedOrigin, Assert.Single(allowed.Headers.GetValues("Access-Control-Allow-Origin")));
        var other = await Preflight("https://evil.example.test");
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));
    }
}
