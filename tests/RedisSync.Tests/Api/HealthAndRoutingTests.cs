using System.Net;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.Api;

public sealed class HealthAndRoutingTests(GatewayFactory gateway) : IClassFixture<GatewayFactory>
{
    [Fact]
    public async Task LiveAndReadyAre200WithoutAKey()
    {
        var anonymous = gateway.ClientWithKey(null);
        await (await anonymous.GetAsync("/health/live")).JsonAsync(HttpStatusCode.OK);
        var ready = await (await anonymous.GetAsync("/health/ready")).JsonAsync(HttpStatusCode.OK);
        Assert.True(ready.GetProperty("redis").GetBoolean());
    }

    [Theory]
    [InlineData("/api/v1/nothing")]
    [InlineData("/api/v2/collections")]
    [InlineData("/api/v1/collections/c/records/r/extra")]
    [InlineData("/api/v1/collections/c/unknown")]
    public async Task AnUnknownRouteIsA404Problem(string path)
    {
        await (await gateway.ClientWithKey().GetAsync(path)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await gateway.ClientWithKey(null).GetAsync(path)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task AnUnsupportedMethodOnAKnownRouteIsAProblem()
    {
        var response = await gateway.ClientWithKey().PostAsync(Record(Unique.Collection(), "r"), Body("{}"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
