using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.Security;

public sealed class StartupTests
{
    [Fact]
    public async Task OutsideDevelopmentTheGatewayRefusesToStartWithAuthOnAndNoKeys()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.UseEnvironment("Production");
            b.UseSetting("Redis:ConnectionString", redis.ConnectionString);
        });
        var error = Assert.ThrowsAny<Exception>(() => factory.CreateClient());
        Assert.Contains("no Auth:Keys are configured", error.ToString());
    }

    [Fact]
    public async Task InDevelopmentTheDocumentedDevelopmentKeyWorks()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.UseEnvironment("Development");
            b.UseSetting("Redis:ConnectionString", redis.ConnectionString);
        });
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", "dev-key-redissync-local-only");
        var written = await (await client.PutRawAsync(Record("demo", "r1"), """{"version":1,"data":{"a":1}}""")).JsonAsync(HttpStatusCode.Created);
        Assert.Equal("dev", written.GetProperty("record").GetProperty("clock").GetProperty("source").GetString());
    }
}

/// <summary>A live gateway allowing two hub connections per key.</summary>
public sealed class TwoConnectionsGateway : LiveGateway
{
    public TwoConnectionsGateway() => Settings["Realtime:MaxConnectionsPerKey"] = "2";
}

public sealed class ConnectionLimitTests(TwoConnectionsGateway gateway) : IClassFixture<TwoConnectionsGateway>
{
    [Fact]
    public async Task AKeyCannotHoldMoreConcurrentConnectionsThanAllowed()
    {
        var first = await gateway.ConnectHubAsync(TestKeys.Reader);
        await using var second = await gateway.ConnectHubAsync(TestKeys.Reader);

        // The third is closed by the server with a clear reason; another key is unaffected.
        await using var third = await gateway.ConnectHubAsync(TestKeys.Reader);
        var reason = await third.Closed.Task.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Contains("rate-limited", reason);
        await using var otherKey = await gateway.ConnectHubAsync(TestKeys.Other);
        Assert.False((await otherKey.SubscribeAsync(Unique.Collection())).GetProperty("resyncRequired").GetBoolean());

        // Closing one frees its place.
        await first.DisposeAsync();
        await Api.Http.EventuallyAsync(async () =>
        {
            await using var again = await gateway.ConnectHubAsync(TestKeys.Reader);
            try
            {
                await again.SubscribeAsync(Unique.Collection());
                return true;
            }
            // Refused at once: the server closes it, so Subscribe fails with the close's error, or is cancelled
            // by it, or finds the connection already closed.
            catch (Exception e) when (e is Microsoft.AspNetCore.SignalR.HubException or InvalidOperationException or OperationCanceledException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(15), "a connection slot to free up");
    }
}
