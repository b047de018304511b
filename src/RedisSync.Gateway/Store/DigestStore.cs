using StackExchange.Redis;

namespace RedisSync.Gateway.Store;

/// <summary>What a scrub found wrong with one record.</summary>
public enum Damage
{
    /// <summary>The record's key is gone, though the gateway wrote it (deleted behind its back).</summary>
    Lost,
    /// <summary>The record's stored state is not what the gateway wrote (altered behind its back).</summary>
    Altered,
}

/// <summary>
/// The digest index in Redis (keys <c>rs:{c}:dg:{b}</c>, <c>rs:{c}:damaged</c>, and <c>scrubs</c> in
/// <c>rs:{c}:meta</c>; see <see cref="RedisKeys"/>). The commit script keeps each record's entry (its state hash)
/// current; this reads the index, and lets a scrub set it straight where the stored records no longer match it.
/// </summary>
public sealed class DigestStore(IConnectionMultiplexer redis)
{
    private IDatabase Db => redis.GetDatabase();

    /// <summary>
    /// Changes whenever the digest can have changed: every commit appends to the log (<c>n</c>), every scrub repair
    /// counts in <c>scrubs</c>. Equal versions, equal digest.
    /// </summary>
    public async Task<string> VersionAsync(string collection)
    {
        var meta = await Db.HashGetAsync(RedisKeys.Meta(collection), [(RedisValue)"n", (RedisValue)"scrubs"]);
        return $"{(long?)meta[0] ?? 0}:{(long?)meta[1] ?? 0}";
    }

    /// <summary>One bucket's entries: record id → hash of its state.</summary>
    public async Task<Dictionary<string, string>> BucketAsync(string collection, int bucket) =>
        (await Db.HashGetAllAsync(RedisKeys.DigestBucket(collection, bucket)))
            .ToDictionary(e => (string)e.Name!, e => (string)e.Value!, StringComparer.Ordinal);

    /// <summary>Every bucket, sent together (one pipelined burst, not one round trip each).</summary>
    public async Task<Dictionary<string, string>[]> AllBucketsAsync(string collection)
    {
        var db = Db;
        var reads = Enumerable.Range(0, RedisKeys.DigestBuckets).Select(b => db.HashGetAllAsync(RedisKeys.DigestBucket(collection, b))).ToArray();
        await Task.WhenAll(reads);
        return reads.Select(r => r.Result.ToDictionary(e => (string)e.Name!, e => (string)e.Value!, StringComparer.Ordinal)).ToArray();
    }

    /// <summary>Ids a scrub found damaged and no repair has replaced yet.</summary>
    public async Task<HashSet<string>> DamagedAsync(string collection) =>
        (await Db.SetMembersAsync(RedisKeys.Damaged(collection))).Select(v => (string)v!).ToHashSet(StringComparer.Ordinal);

    /// <summary>Clears the damage marks of records a repair replaced.</summary>
    public Task RepairedAsync(string collection, IEnumerable<string> ids) =>
        Db.SetRemoveAsync(RedisKeys.Damaged(collection), ids.Select(i => (RedisValue)i).ToArray());

    /// <summary>
    /// Checks one bucket against the stored records and returns what is damaged. Reads are not atomic with
    /// writes, so every mismatch is confirmed on a consistent snapshot (MULTI/EXEC) before anything is touched,
    /// and set straight only if nothing moved meanwhile (WATCH-style conditions): a scrub never blocks or undoes
    /// a write. A lost record leaves the index; an altered one is indexed as stored; both are marked damaged.
    /// </summary>
    public async Task<(int Records, List<(string Id, Damage Damage)> Found)> ScrubBucketAsync(string collection, int bucket)
    {
        var db = Db;
        var key = RedisKeys.DigestBucket(collection, bucket);
        var entries = await BucketAsync(collection, bucket);
        var found = new List<(string, Damage)>();
        if (entries.Count == 0) return (0, found);
        var ids = entries.Keys.ToArray();
        var values = await db.StringGetAsync(ids.Select(id => RedisKeys.Record(collection, id)).ToArray());
        for (var i = 0; i < ids.Length; i++)
        {
            if (HashOf(values[i]) == entries[ids[i]]) continue;
            // Confirm on a snapshot: a commit may have changed the record between the two reads above.
            var snapshot = db.CreateTransaction();
            var valueTask = snapshot.StringGetAsync(RedisKeys.Record(collection, ids[i]));
            var indexedTask = snapshot.HashGetAsync(key, ids[i]);
            if (!await snapshot.ExecuteAsync()) continue;
            var (value, indexed) = (await valueTask, (string?)await indexedTask);
            var actual = HashOf(value);
            if (indexed is null || actual == indexed) continue;

            var fix = db.CreateTransaction();
            fix.AddCondition(Condition.HashEqual(key, ids[i], indexed));
            fix.AddCondition(value.IsNull ? Condition.KeyNotExists(RedisKeys.Record(collection, ids[i])) : Condition.StringEqual(RedisKeys.Record(collection, ids[i]), value));
            _ = actual is null ? fix.HashDeleteAsync(key, ids[i]) : fix.HashSetAsync(key, ids[i], actual);
            _ = fix.SetAddAsync(RedisKeys.Damaged(collection), ids[i]);
            _ = fix.HashIncrementAsync(RedisKeys.Meta(collection), "scrubs");
            if (await fix.ExecuteAsync()) found.Add((ids[i], actual is null ? Damage.Lost : Damage.Altered));
        }
        return (ids.Length, found);
    }

    private static string? HashOf(RedisValue value) =>
        value.IsNull ? null : RecordCodec.StateHash(RecordCodec.StatePart((byte[])value!));
}
