using RedisSync.Tests.Fixtures;

namespace RedisSync.Tests.Realtime;

/// <summary>
/// Two gateway processes on one redis-server, as in production behind a load balancer: what one client
/// does through instance A must reach clients on instance B. Shared by the signal and presence tests
/// (unique collection names keep them apart).
/// </summary>
public sealed class TwoGateways : IAsyncLifetime
{
    /// <summary>Signals per second per connection on both instances: small, so the rate-limit test can exhaust it.</summary>
    public const int SignalsPerSecond = 4;

    public RedisServer Redis { get; private set; } = null!;
    public GatewayProcess A { get; private set; } = null!;
    public GatewayProcess B { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Redis = await RedisServer.StartAsync();
        var settings = new Dictionary<string, string> { ["Realtime:SignalsPerSecond"] = SignalsPerSecond.ToString() };
        var starting = new[] { GatewayProcess.StartAsync(Redis, settings), GatewayProcess.StartAsync(Redis, settings) };
        try
        {
            await Task.WhenAll(starting);
        }
        catch
        {
            // Stop the one that did start (and Redis): a failed fixture must not leave processes behind.
            foreach (var task in starting.Where(t => t.IsCompletedSuccessfully)) await task.Result.DisposeAsync();
            await Redis.DisposeAsync();
            throw;
        }
        (A, B) = (starting[0].Result, starting[1].Result);
    }

    public async Task DisposeAsync()
    {
        await Task.WhenAll(A.DisposeAsync().AsTask(), B.DisposeAsync().AsTask());
        await Redis.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class TwoGatewaysCollection : ICollectionFixture<TwoGateways>
{
    public const string Name = "two gateway processes on one Redis";
}
