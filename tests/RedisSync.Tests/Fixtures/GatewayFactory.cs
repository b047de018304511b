using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace RedisSync.Tests.Fixtures;

/// <summary>
/// Which Redis the gateway tests run on, from the environment variable <c>REDISSYNC_TEST_REDIS</c>:
/// <c>single</c> (the default) gives every gateway fixture a redis-server of its own; <c>cluster</c> runs
/// them all on one process-wide <see cref="RedisCluster"/>, except fixtures that opt out.
/// </summary>
public static class TestRedis
{
    public const string Variable = "REDISSYNC_TEST_REDIS";

    /// <summary>True when gateway fixtures share the test run's Redis Cluster.</summary>
    public static bool OnCluster { get; } = Environment.GetEnvironmentVariable(Variable)?.Trim().ToLowerInvariant() switch
    {
        null or "" or "single" => false,
        "cluster" => true,
        var other => throw new InvalidOperationException($"{Variable}={other}: expected 'single' or 'cluster'"),
    };
}

/// <summary>
/// The real gateway (Program) over real Redis, with real API keys: its own redis-server on a free port, or
/// the shared Redis Cluster when <see cref="TestRedis.OnCluster"/>. One per test class; tests use unique
/// collection names so they never see each other's data.
/// </summary>
public class GatewayFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    // Load tests write thousands of requests a second with one key; the rate-limit tests turn it back on.
    private readonly Dictionary<string, string?> _settings = new() { ["RateLimit:Enabled"] = "false" };
    private RedisServer? _redis;
    private bool _ownsRedis = true;

    /// <summary>
    /// This gateway's own redis-server. Only fixtures on a single server have one: on the cluster, a fixture
    /// that kills, restarts or inspects its server must say <see cref="OwnRedisServer"/>.
    /// </summary>
    public RedisServer Redis => _redis ?? throw new InvalidOperationException(
        $"This gateway runs on the shared Redis Cluster ({TestRedis.Variable}=cluster); a fixture that needs a server of its own sets OwnRedisServer = true.");

    /// <summary>The shared cluster this gateway runs on, or null on a single server.</summary>
    public RedisCluster? Cluster { get; private set; }

    /// <summary>
    /// Keeps a redis-server of this fixture's own even when the others share the cluster: for tests that kill
    /// or restart Redis, need particular server settings, or compare every key Redis holds.
    /// </summary>
    public bool OwnRedisServer { get; init; }

    /// <summary>The configuration string the gateway is given.</summary>
    public string RedisConnectionString => _redis?.ConnectionString ?? Cluster?.ConnectionString
        ?? throw new InvalidOperationException("Redis is not started yet (InitializeAsync).");

    /// <summary>Settings added on top of the test defaults (set before the first client is created).</summary>
    public IDictionary<string, string?> Settings => _settings;

    /// <summary>Starts this fixture's own server (not called on the cluster unless <see cref="OwnRedisServer"/>).</summary>
    protected virtual Task<RedisServer> StartRedisAsync() => RedisServer.StartAsync();

    /// <summary>Uses an already running server (several gateways on one Redis); it is not stopped with this gateway.</summary>
    protected void UseRedis(RedisServer shared)
    {
        _redis = shared;
        _ownsRedis = false;
    }

    /// <summary>Uses an already running cluster; it is not stopped with this gateway.</summary>
    protected void UseCluster(RedisCluster shared)
    {
        Cluster = shared;
        _ownsRedis = false;
    }

    /// <summary>Uses the Redis <paramref name="other"/> (already started) runs on: its server, or the cluster.</summary>
    protected void UseRedisOf(GatewayFactory other)
    {
        _redis = other._redis;
        Cluster = other.Cluster;
        _ownsRedis = false;
    }

    public virtual async Task InitializeAsync()
    {
        if (!_ownsRedis) return;
        if (TestRedis.OnCluster && !OwnRedisServer) Cluster = await RedisCluster.SharedAsync();
        else _redis = await StartRedisAsync();
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("Redis:ConnectionString", RedisConnectionString);
        var keys = new (string Name, string Key, string Source, string Read, string Write, bool Hashed)[]
        {
            ("writer", TestKeys.Writer, "writer", "*", "*", false),
            ("other", TestKeys.Other, "other", "*", "*", true),
            ("reader", TestKeys.Reader, "reader", "*", "", false),
            ("orders", TestKeys.OrdersOnly, "orders-app", "orders", "orders", false),
        };
        for (var i = 0; i < keys.Length; i++)
        {
            var k = keys[i];
            builder.UseSetting($"Auth:Keys:{i}:Name", k.Name);
            if (k.Hashed)
                builder.UseSetting($"Auth:Keys:{i}:KeySha256", Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(k.Key))));
            else
                builder.UseSetting($"Auth:Keys:{i}:Key", k.Key);
            builder.UseSetting($"Auth:Keys:{i}:Source", k.Source);
            builder.UseSetting($"Auth:Keys:{i}:Read:0", k.Read);
            if (k.Write.Length > 0) builder.UseSetting($"Auth:Keys:{i}:Write:0", k.Write);
        }
        // A peer site's key: no source, reads everything, may apply record states.
        builder.UseSetting($"Auth:Keys:{keys.Length}:Name", "peer");
        builder.UseSetting($"Auth:Keys:{keys.Length}:Key", TestKeys.Peer);
        builder.UseSetting($"Auth:Keys:{keys.Length}:Replicate", "true");
        foreach (var (key, value) in _settings) builder.UseSetting(key, value);
    }

    /// <summary>An HTTP client that authenticates with <paramref name="apiKey"/> (null: no key).</summary>
    public HttpClient ClientWithKey(string? apiKey = TestKeys.Writer)
    {
        var client = CreateClient();
        if (apiKey is not null) client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return client;
    }

    /// <summary>Stops the gateway, and its Redis when it started one.</summary>
    public override async ValueTask DisposeAsync()
    {
        try
        {
            await base.DisposeAsync();
        }
        catch (Exception e)
        {
            CleanupFailures.Record(GetType().Name, e);
            throw;
        }
        if (_ownsRedis && _redis is not null) await _redis.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();
}

/// <summary>A gateway whose collections default to the timestamp (last-writer-wins) policy.</summary>
public sealed class TimestampGatewayFactory : GatewayFactory
{
    public TimestampGatewayFactory() => Settings["Sync:DefaultPolicy"] = "Timestamp";
}
