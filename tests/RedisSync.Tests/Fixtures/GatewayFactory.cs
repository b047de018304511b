using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace RedisSync.Tests.Fixtures;

/// <summary>API keys every test gateway is configured with (plain and hashed keys both in use).</summary>
public static class TestKeys
{
    /// <summary>Reads and writes everything, as source "writer".</summary>
    public const string Writer = "test-writer-key-0000000001";
    /// <summary>Reads and writes everything, as source "other" (configured as a SHA-256 hash).</summary>
    public const string Other = "test-other-key-00000000002";
    /// <summary>Reads everything, writes nothing.</summary>
    public const string Reader = "test-reader-key-0000000003";
    /// <summary>Reads and writes only collection "orders".</summary>
    public const string OrdersOnly = "test-orders-key-0000000004";
}

/// <summary>
/// The real gateway (Program) over a real redis-server started on a free port, with real API keys.
/// One per test class; tests use unique collection names so they never see each other's data.
/// </summary>
public class GatewayFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    // Load tests write thousands of requests a second with one key; the rate-limit tests turn it back on.
    private readonly Dictionary<string, string?> _settings = new() { ["RateLimit:Enabled"] = "false" };

    public RedisServer Redis { get; private set; } = null!;

    /// <summary>Settings added on top of the test defaults (set before the first client is created).</summary>
    public IDictionary<string, string?> Settings => _settings;

    protected virtual Task<RedisServer> StartRedisAsync() => RedisServer.StartAsync();

    private bool _ownsRedis = true;

    /// <summary>Uses an already running server (several gateways on one Redis); it is not stopped with this gateway.</summary>
    protected void UseRedis(RedisServer shared)
    {
        Redis = shared;
        _ownsRedis = false;
    }

    public virtual async Task InitializeAsync()
    {
        if (_ownsRedis) Redis = await StartRedisAsync();
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("Redis:ConnectionString", Redis.ConnectionString);
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
        await base.DisposeAsync();
        if (_ownsRedis && Redis is not null) await Redis.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();
}

/// <summary>A gateway whose collections default to the timestamp (last-writer-wins) policy.</summary>
public sealed class TimestampGatewayFactory : GatewayFactory
{
    public TimestampGatewayFactory() => Settings["Sync:DefaultPolicy"] = "Timestamp";
}

/// <summary>Unique names per test, so parallel tests never share data.</summary>
public static class Unique
{
    private static int _n;
    public static string Collection(string prefix = "c") => $"{prefix}-{Interlocked.Increment(ref _n)}-{Guid.NewGuid().ToString("N")[..8]}";
}
