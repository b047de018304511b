using StackExchange.Redis;

namespace RedisSync.Gateway.Store;

/// <summary>
/// The Redis key layout. Every key of one collection carries the hash tag <c>{collection}</c>, so a
/// collection lives in one cluster slot (one shard) and every script touching it runs on Redis Cluster.
/// <code>
/// rs:{c}:r:{id}    string   one record: commit counter, revision, last stamp, seq, merged state (Store/RecordCodec.cs)
/// rs:{c}:log       stream   the change log, one entry per change of merged state (fields p: previous seq, o: ordinal,
///                           e: the entry), trimmed to Sync:ChangeLogMaxLength (~)
/// rs:{c}:ids       zset     ids of live records (score 0), paged with ZRANGEBYLEX; never KEYS/SCAN
/// rs:{c}:meta      hash     last = seq of the latest entry, n = entries ever appended, scrubs = scrub repairs of the index
/// rs:{c}:dg        hash     digest index: id → hash of the record's state, every record (deleted too); the digest's
///                           buckets (0–1023) group its entries by a hash of the id (BucketOf)
/// rs:{c}:damaged   set      ids a scrub found lost or altered behind the gateway's back, until a repair replaces them
/// rs:{c}:cursors   hash     replication: peer site → the peer's seq applied here
/// rs:{c}:changes   channel  sharded pub/sub (SPUBLISH): the entries of every commit
/// rs:collections   set      names of collections ever written (its own slot; updated outside the scripts)
/// </code>
/// Collection names are <c>[a-z0-9_-]</c> and ids cannot contain braces, so neither can break the tag.
/// </summary>
public static class RedisKeys
{
    public const string Collections = "rs:collections";

    /// <summary>Digest buckets per collection.</summary>
    public const int DigestBuckets = 1024;

    public static RedisKey Record(string collection, string id) => $"rs:{{{collection}}}:r:{id}";
    public static RedisKey Log(string collection) => $"rs:{{{collection}}}:log";
    public static RedisKey Ids(string collection) => $"rs:{{{collection}}}:ids";
    public static RedisKey Meta(string collection) => $"rs:{{{collection}}}:meta";
    public static RedisKey Cursors(string collection) => $"rs:{{{collection}}}:cursors";
    public static RedisKey DigestIndex(string collection) => $"rs:{{{collection}}}:dg";
    public static RedisKey Damaged(string collection) => $"rs:{{{collection}}}:damaged";
    public static RedisChannel Changes(string collection) => RedisChannel.Sharded($"rs:{{{collection}}}:changes");

    /// <summary>The digest bucket of a record id: FNV-1a (32 bit) of its UTF-8 bytes, modulo <see cref="DigestBuckets"/>.</summary>
    public static int BucketOf(string id)
    {
        var hash = 2166136261u;
        Span<byte> bytes = stackalloc byte[System.Text.Encoding.UTF8.GetMaxByteCount(id.Length)];
        var n = System.Text.Encoding.UTF8.GetBytes(id, bytes);
        foreach (var b in bytes[..n]) hash = (hash ^ b) * 16777619u;
        return (int)(hash % DigestBuckets);
    }
}
