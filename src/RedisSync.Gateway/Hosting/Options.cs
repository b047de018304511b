using System.ComponentModel.DataAnnotations;
using RedisSync.Gateway.Merge;

namespace RedisSync.Gateway.Hosting;

/// <summary>Redis connection settings (section <c>Redis</c>).</summary>
public sealed class RedisOptions
{
    /// <summary>
    /// A StackExchange.Redis configuration string, e.g. <c>localhost:6379,password=…,ssl=true</c>.
    /// Required: the run script starts a local redis-server and sets it when none is configured.
    /// </summary>
    [Required(ErrorMessage = "Redis:ConnectionString is required (or use the README's run command, which starts a local redis-server).")]
    public string? ConnectionString { get; set; }

    /// <summary>
    /// PEM file of a certificate authority to trust for Redis's TLS certificate (with <c>ssl=true</c> in the
    /// connection string), for a Redis whose certificate is not signed by a CA the machine already trusts.
    /// </summary>
    public string? CaCertificatePath { get; set; }

    /// <summary>Redis ACL user (Redis 6+); with <see cref="Password"/>. Overrides <c>user=</c> in the connection string.</summary>
    public string? User { get; set; }

    /// <summary>Password of <see cref="User"/> (or of the default user). Overrides <c>password=</c> in the connection string.</summary>
    public string? Password { get; set; }

    /// <summary>
    /// Replicas that must confirm a write (WAIT) before it is answered 2xx (CONTRACT §8). 0: answered once the primary
    /// has it. When fewer confirm within <see cref="AckTimeout"/>, the answer is 503: the write may or may not survive
    /// a failover, and retrying it is safe (the same clock and data give unchanged).
    /// </summary>
    [Range(0, 16)]
    public int AckReplicas { get; set; }

    /// <summary>How long a write waits for <see cref="AckReplicas"/> confirmations.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan AckTimeout { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>Per-collection settings (section <c>Sync:Collections:{name}</c>).</summary>
public sealed class CollectionOptions
{
    public MergePolicy? Policy { get; set; }
}

/// <summary>Merge and change-log settings (section <c>Sync</c>).</summary>
public sealed class SyncOptions
{
    /// <summary>Policy of collections without their own.</summary>
    public MergePolicy DefaultPolicy { get; set; } = MergePolicy.Version;

    /// <summary>Per-collection overrides.</summary>
    public Dictionary<string, CollectionOptions> Collections { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How far ahead of the gateway's clock a write's timestamp may be.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "7.00:00:00")]
    public TimeSpan MaxClockSkew { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Entries kept per collection's change log (approximate trim).</summary>
    [Range(10, int.MaxValue)]
    public int ChangeLogMaxLength { get; set; } = 100_000;

    /// <summary>Most visible fields a record may hold (and so one write may carry).</summary>
    [Range(1, 10_000)]
    public int MaxFieldsPerRecord { get; set; } = 256;

    /// <summary>Longest field name, in characters (the contract's default is 200).</summary>
    [Range(1, 10_000)]
    public int MaxFieldNameLength { get; set; } = 200;

    /// <summary>Most items in one batch.</summary>
    [Range(1, 10_000)]
    public int MaxBatchSize { get; set; } = 1000;

    /// <summary>Largest accepted request body, in bytes.</summary>
    [Range(1024, 256L * 1024 * 1024)]
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Deepest JSON nesting accepted in a body or hub message.</summary>
    [Range(4, 256)]
    public int MaxJsonDepth { get; set; } = 64;

    /// <summary>
    /// Most records one group commit carries (writes to one collection that arrive while a commit is in flight go
    /// together in the next one). A client's batch is never split, so a larger batch goes alone.
    /// </summary>
    [Range(1, 10_000)]
    public int MaxRecordsPerCommit { get; set; } = 256;

    /// <summary>
    /// Records each instance keeps as it last read or wrote them, so a write to one of them needs one round trip to
    /// Redis instead of two (the commit still checks it is current). 0 turns the cache off.
    /// </summary>
    [Range(0, 10_000_000)]
    public int RecordCacheSize { get; set; } = 20_000;

    /// <summary>Largest page of <c>GET …/records</c> and <c>GET …/changes</c>.</summary>
    [Range(1, 10_000)]
    public int MaxPageSize { get; set; } = 1000;

    public MergePolicy PolicyFor(string collection) =>
        Collections.TryGetValue(collection, out var c) && c.Policy is { } p ? p : DefaultPolicy;
}
