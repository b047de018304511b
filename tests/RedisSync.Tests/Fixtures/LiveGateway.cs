using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace RedisSync.Tests.Fixtures;

/// <summary>
/// The gateway on real Kestrel, bound to 127.0.0.1 on a free port, so WebSocket clients (the .NET
/// SignalR client, Node's SignalR client, a browser) can reach it.
/// </summary>
public class LiveGateway : GatewayFactory
{
    /// <summary>A gateway on the test run's Redis: its own server, or the shared cluster.</summary>
    public LiveGateway() => Settings["Urls"] = "http://127.0.0.1:0";

    /// <summary>A gateway on <paramref name="sharedRedis"/> (several instances, one Redis).</summary>
    public static LiveGateway On(RedisServer sharedRedis)
    {
        var gateway = new LiveGateway();
        gateway.UseRedis(sharedRedis);
        return gateway;
    }

    /// <summary>A second instance on the Redis <paramref name="first"/> runs on (several instances, one Redis or one cluster).</summary>
    public static LiveGateway Beside(GatewayFactory first)
    {
        var gateway = new LiveGateway();
        gateway.UseRedisOf(first);
        return gateway;
    }

    /// <summary>Creates and starts a gateway (for tests that own their gateways rather than use a fixture).</summary>
    public static async Task<LiveGateway> StartAsync(LiveGateway gateway)
    {
        await gateway.InitializeAsync();
        return gateway;
    }

    /// <summary>The base address Kestrel listens on, e.g. http://127.0.0.1:43121.</summary>
    public Uri Address { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Start();
    }

    /// <summary>Starts Kestrel (idempotent).</summary>
    public void Start()
    {
        UseKestrel(0);
        StartServer();
        var addresses = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        Address = new Uri(addresses.First(a => a.StartsWith("http://127.0.0.1", StringComparison.Ordinal)));
    }

    /// <summary>A hub client connected with <paramref name="apiKey"/>.</summary>
    public Task<HubTestClient> ConnectHubAsync(string apiKey = TestKeys.Writer) => HubTestClient.ConnectAsync(Address, apiKey);

    /// <summary>An HTTP client against the real Kestrel address.</summary>
    public HttpClient HttpClient(string? apiKey = TestKeys.Writer)
    {
        var client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(30) };
        if (apiKey is not null) client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        return client;
    }
}
