using StackExchange.Redis;

namespace RedisSync.Gateway.Store;

/// <summary>
/// The Redis key layout. Every key of one collection carries the hash tag <c>{collection}</c>, so a
/// collection lives in one cluster slot and every script touching it runs on Redis Cluster.
/// <code>
/// rs:{c}:r:{id}    hash     one record: v:&lt;field&gt; values, c:&lt;field&gt; clocks, $-prefixed meta (see merge.lua)
/// rs:{c}:log       stream   the change log, one entry per applied change, trimmed to Sync:ChangeLogMaxLength (~)
/// rs:{c}:ids       zset     ids of live records (score 0), paged with ZRANGEBYLEX; never KEYS/SCAN
/// rs:{c}:meta      hash     last = seq of the collection's latest change
/// rs:{c}:changes   channel  pub/sub: every script run that applied changes publishes them here
/// rs:collections   set      names of collections ever written (its own slot; updated outside the scripts)
/// </code>
/// Collection names are <c>[a-z0-9_-]</c> and ids cannot contain braces, so neither can break the tag.
/// </summary>
public static class RedisKeys
{
    public const string Collections = "rs:collections";

    public static RedisKey Record(string collection, string id) => $"rs:{{{collection}}}:r:{id}";
    public static RedisKey Log(string collection) => $"rs:{{{collection}}}:log";
    public static RedisKey Ids(string collection) => $"rs:{{{collection}}}:ids";
    public static RedisKey Meta(string collection) => $"rs:{{{collection}}}:meta";
    public static RedisChannel Changes(string collection) => RedisChannel.Literal($"rs:{{{collection}}}:changes");
}
