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
    /// <summary>A peer site's key (Replicate): reads everything, applies record states, writes nothing itself. In-process gateways only.</summary>
    public const string Peer = "test-peer-key-000000000005";
}
