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
/// The digest index in Redis (keys <c>rs:{c}:dg</c>, <c>rs:{c}:damaged</c>, and <c>scrubs</c> in
/// <c>rs:{c}:meta</c>; see <see cref="RedisKeys"/>). The commit script keeps each record's entry (its state hash)
/// current; this reads the index, and lets a scrub set it straight where the stored records no longer match it.
/// The index is read with HSCAN in pages, never in one command, so Redis is never blocked by a large collection.
/// </summary>
public sealed class DigestStore(IConnectionMultiplexer redis)
{
    private const int Page = 1000;

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

    /// <summary>The whole index, page by page: record id → hash of its state.</summary>
    public async Task<Dictionary<string, string>> IndexAsync(string collection)
    {
        var index = new Dictionary<string, string>(StringComparer.Ordinal);
        await foreach (var entry in Db.HashScanAsync(RedisKeys.DigestIndex(collection), pageSize: Page))
            index[(string)entry.Name!] = (string)entry.Value!;
        return index;
    }

    /// <summary>Ids a scrub found damaged and no repair has replaced yet.</summary>
    public async Task<HashSet<string>> DamagedAsync(string collection) =>
        (await Db.SetMembersAsync(RedisKeys.Damaged(collection))).Select(v => (string)v!).ToHashSet(StringComparer.Ordinal);

    /// <summary>Clears the damage marks of records a repair replaced.</summary>
    public Task RepairedAsync(string collection, IEnumerable<string> ids) =>
        Db.SetRemoveAsync(RedisKeys.Damaged(collection), ids.Select(i => (RedisValue)i).ToArray());

    /// <summary>
    /// Checks the index against the stored records, one page at a time (<paramref name="pace"/> runs after each page),
    /// and returns how many records it checked and what is damaged. Reads are not atomic with writes, so every mismatch
    /// is confirmed on a consistent snapshot (MULTI/EXEC) before anything is touched, and set straight only if nothing
    /// moved meanwhile (WATCH-style conditions): a scrub never blocks or undoes a write. A lost record leaves the index;
    /// an altered one is indexed as stored; both are marked damaged.
    /// </summary>
    public async Task<(long Records, List<(string Id, Damage Damage)> Found)> ScrubAsync(string collection, Func<long, Task> pace)
    {
        var db = Db;
        var key = RedisKeys.DigestIndex(collection);
        var found = new List<(string, Damage)>();
        long records = 0;
        var cursor = "0";
        do
        {
            var page = (RedisResult[])(await db.ExecuteAsync("HSCAN", key, cursor, "COUNT", Page))!;
            cursor = (string)page[0]!;
            var fields = (RedisResult[])page[1]!;
            var ids = new string[fields.Length / 2];
            var indexed = new string[ids.Length];
            for (var i = 0; i < ids.Length; i++) (ids[i], indexed[i]) = ((string)fields[2 * i]!, (string)fields[2 * i + 1]!);
            var values = ids.Length == 0 ? [] : await db.StringGetAsync(ids.Select(id => RedisKeys.Record(collection, id)).ToArray());
            for (var i = 0; i < ids.Length; i++)
                if (HashOf(values[i]) != indexed[i] && await ConfirmAndFixAsync(db, collection, ids[i]) is { } damage)
                    found.Add((ids[i], damage));
            records += ids.Length;
            await pace(records);
        } while (cursor != "0");
        return (records, found.DistinctBy(f => f.Item1).ToList());
    }

    private static async Task<Damage?> ConfirmAndFixAsync(IDatabase db, string collection, string id)
    {
        var key = RedisKeys.DigestIndex(collection);
        var record = RedisKeys.Record(collection, id);
        // Confirm on a snapshot: a commit may have changed the record between the two reads of the scan.
        var snapshot = db.CreateTransaction();
        var valueTask = snapshot.StringGetAsync(record);
        var indexedTask = snapshot.HashGetAsync(key, id);
        if (!await snapshot.ExecuteAsync()) return null;
        var (value, indexed) = (await valueTask, (string?)await indexedTask);
        var actual = HashOf(value);
        if (indexed is null || actual == indexed) return null;

        var fix = db.CreateTransaction();
        fix.AddCondition(Condition.HashEqual(key, id, indexed));
        fix.AddCondition(value.IsNull ? Condition.KeyNotExists(record) : Condition.StringEqual(record, value));
        _ = actual is null ? fix.HashDeleteAsync(key, id) : fix.HashSetAsync(key, id, actual);
        _ = fix.SetAddAsync(RedisKeys.Damaged(collection), id);
        _ = fix.HashIncrementAsync(RedisKeys.Meta(collection), "scrubs");
        return await fix.ExecuteAsync() ? actual is null ? Damage.Lost : Damage.Altered : null;
    }

    private static string? HashOf(RedisValue value) =>
        value.IsNull ? null : RecordCodec.StateHash(RecordCodec.StatePart((byte[])value!));
}
