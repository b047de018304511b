using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using RedisSync.Gateway.Contracts;
using RedisSync.Gateway.Hosting;
using RedisSync.Gateway.Merge;
using RedisSync.Gateway.Observability;
using RedisSync.Gateway.Replication;
using StackExchange.Redis;

namespace RedisSync.Gateway.Store;

/// <summary>
/// Result of reading the change log: entries (state-only ones included), or "your position is gone, resync".
/// <see cref="Count"/> is how many entries the log ever had (an entry's <see cref="ChangeEntry.Ordinal"/> is its
/// number among them), so a reader at an entry knows how far behind it is.
/// </summary>
public sealed record ChangeLogRead(bool ResyncRequired, string? Last, IReadOnlyList<ChangeEntry> Entries, long Count = 0);

/// <summary>One page of a collection's full state (deleted records included).</summary>
/// <param name="Next">Where the next page starts (an HSCAN cursor), or null after the last page.</param>
/// <param name="AsOf">The collection's last seq, read before the page's records.</param>
public sealed record StatePage(IReadOnlyList<(string Id, StoredRecord Record)> Items, string? Next, string AsOf);

/// <summary>
/// All record and change-log access to Redis (key layout: <see cref="RedisKeys"/>, byte layout:
/// <see cref="RecordCodec"/>). Writes are merged here with <see cref="RecordMerge"/> and committed by commit.lua,
/// grouped per collection (<see cref="CommitQueue"/>): one read and one script run per group, however many calls
/// and records it carries.
/// </summary>
public sealed class RecordStore
{
    private readonly IConnectionMultiplexer _redis;
    private readonly SyncOptions _options;
    private readonly string _site;
    private readonly SyncMetrics _metrics;
    private readonly ConcurrentDictionary<string, CommitQueue> _queues = new(StringComparer.Ordinal);

    public RecordStore(IConnectionMultiplexer redis, IOptions<SyncOptions> options, SyncMetrics? metrics = null,
        IOptions<ReplicationOptions>? replication = null, IOptions<RedisOptions>? redisOptions = null)
    {
        _redis = redis;
        _options = options.Value;
        _site = replication?.Value.Site ?? "";
        _metrics = metrics ?? SyncMetrics.Detached();
        _ack = redisOptions?.Value is { } r ? (r.AckReplicas, r.AckTimeout) : (0, TimeSpan.FromSeconds(1));
        _cache = new RecordCache(_options.RecordCacheSize);
    }

    private readonly RecordCache _cache;

    private readonly (int Replicas, TimeSpan Timeout) _ack;

    private IDatabase Db => _redis.GetDatabase();

    /// <summary>This site's name ("" when none is configured).</summary>
    public string Site => _site;

    public MergePolicy PolicyOf(string collection) => _options.PolicyFor(collection);

    /// <summary>Applies writes to one collection in order, atomically as a whole, under the collection's policy.</summary>
    /// <exception cref="RecordTooLargeException">A write would leave its record with too many fields; nothing was written.</exception>
    public async Task<IReadOnlyList<WriteResult>> WriteAsync(string collection, IReadOnlyList<RecordWrite> writes)
    {
        var call = new WriteCall(writes);
        IReadOnlyList<WriteResult> results;
        // The span covers the call's wait in the group commit, the group's read and its commit script: what the
        // request spent in Redis on its behalf.
        using (var activity = SyncTelemetry.StartScript("commit.lua", collection, writes.Count))
        {
            QueueOf(collection).Submit(call);
            try { results = await call.Answer; }
            catch (Exception e) { SyncTelemetry.Failed(activity, e); throw; }
        }
        var applied = 0;
        foreach (var result in results)
        {
            _metrics.Write(result.Outcome);
            if (result.Outcome == "applied") applied++;
        }
        _metrics.Published(applied);
        return results;
    }

    /// <summary>
    /// Joins record states into one collection (replication, repair), and advances replication
    /// <paramref name="cursors"/> in the same atomic step.
    /// </summary>
    public Task<IReadOnlyList<StateOutcome>> ApplyStatesAsync(string collection, IReadOnlyList<IncomingState> states,
        IReadOnlyList<KeyValuePair<string, string>>? cursors = null)
    {
        var call = new StateCall(states, cursors ?? []);
        QueueOf(collection).Submit(call);
        return call.Answer;
    }

    private CommitQueue QueueOf(string collection) =>
        _queues.GetOrAdd(collection, c =>
        {
            var unseen = new UnseenRecordGuess(); // used by the queue's one commit at a time
            return new CommitQueue(group => CommitAsync(c, PolicyOf(c), unseen, group), _options.MaxRecordsPerCommit);
        });

    /// <summary>Group commits this store ran (each one script run, or none when nothing changed); calls per commit show grouping.</summary>
    public long Commits => Interlocked.Read(ref _commits);
    private long _commits;

    private async Task CommitAsync(string collection, MergePolicy policy, UnseenRecordGuess unseen, List<CommitCall> calls)
    {
        var group = new CommitGroup(Db, collection,
            new CommitSettings(policy, _site, _options.MaxFieldsPerRecord, _options.ChangeLogMaxLength, _ack.Replicas, _ack.Timeout), _cache, unseen, calls);
        Interlocked.Increment(ref _commits);
        _metrics.Committed(calls.Count);
        await group.RunAsync();
        // A record born here may belong to a collection not yet listed (also after Redis lost its data). Another
        // slot than the collection's, so outside the script; fire-and-forget, so no round trip is awaited.
        if (group.Created > 0) await Db.SetAddAsync(RedisKeys.Collections, collection, CommandFlags.FireAndForget);
    }

    /// <summary>The record as stored (<see cref="StoredRecord.Absent"/> when it never existed).</summary>
    public async Task<StoredRecord> GetStoredAsync(string collection, string id)
    {
        var value = await Db.StringGetAsync(RedisKeys.Record(collection, id));
        return value.IsNull ? StoredRecord.Absent : RecordCodec.DecodeStored((byte[])value!);
    }

    /// <summary>Several records as stored, in the order of <paramref name="ids"/> (one round trip).</summary>
    public async Task<StoredRecord[]> GetStoredAsync(string collection, IReadOnlyList<string> ids)
    {
        if (ids.Count == 0) return [];
        var values = await Db.StringGetAsync(ids.Select(id => RedisKeys.Record(collection, id)).ToArray());
        return values.Select(v => v.IsNull ? StoredRecord.Absent : RecordCodec.DecodeStored((byte[])v!)).ToArray();
    }

    /// <summary>The record's view (live or deleted), or null when it never existed.</summary>
    public async Task<RecordView?> GetAsync(string collection, string id, bool includeClocks)
    {
        var stored = await GetStoredAsync(collection, id);
        return stored.Exists ? RecordViews.Record(collection, id, stored, PolicyOf(collection), includeClocks) : null;
    }

    /// <summary>
    /// A page of live records in id order. <c>asOf</c> is read before the records, so every change after
    /// it is either in the page already or will be replayed by Subscribe(c, asOf); clients drop by revision.
    /// </summary>
    public async Task<RecordPage> ListAsync(string collection, int limit, string? afterId)
    {
        var db = Db;
        // Sent together on one connection: Redis runs them in this order, so `last` precedes the id read.
        var lastTask = db.HashGetAsync(RedisKeys.Meta(collection), "last");
        var idsTask = db.SortedSetRangeByValueAsync(RedisKeys.Ids(collection),
            afterId is null ? default : (RedisValue)afterId, default,
            afterId is null ? Exclude.None : Exclude.Start, Order.Ascending, 0, limit + 1);
        var last = (string?)await lastTask;
        var ids = await idsTask;

        var page = ids.Take(limit).Select(id => (string)id!).ToArray();
        var stored = await GetStoredAsync(collection, page);
        var policy = PolicyOf(collection);
        var items = new List<RecordView>(page.Length);
        for (var i = 0; i < page.Length; i++)
            if (stored[i] is { Exists: true, State.Deleted: false } s) items.Add(RecordViews.Record(collection, page[i], s, policy)); // deleted between the two reads
        return new RecordPage(items, ids.Length > limit ? Cursor.Encode(page[^1]) : null, last ?? "0-0");
    }

    /// <summary>
    /// Change-log entries after <paramref name="after"/> (null: from the oldest retained), state-only ones
    /// included. Resync when the log no longer continues from <paramref name="after"/>: the entry that follows it
    /// must name it as its predecessor, which fails when entries after it were trimmed away, and when the log went
    /// back (a failover lost entries, Redis lost its data), whatever the stream ids say (PITFALLS 2).
    /// </summary>
    public async Task<ChangeLogRead> ReadChangesAsync(string collection, string? after, int limit)
    {
        var db = Db;
        var metaTask = db.HashGetAsync(RedisKeys.Meta(collection), [(RedisValue)"last", (RedisValue)"n"]);
        if (after is null)
        {
            var all = await db.StreamRangeAsync(RedisKeys.Log(collection), "-", "+", limit);
            var (last, count) = Meta(await metaTask);
            return new ChangeLogRead(false, last.Length == 0 ? null : last, Decode(all), count);
        }

        var from = after == "0-0" ? "" : after;
        var entriesTask = db.StreamRangeAsync(RedisKeys.Log(collection), "(" + (from.Length == 0 ? "0-0" : from), "+", limit);
        var (lastSeq, n) = Meta(await metaTask);
        var raw = await entriesTask;
        var lastOrNull = lastSeq.Length == 0 ? null : lastSeq;
        if (raw.Length == 0)
            return new ChangeLogRead(lastSeq != from, lastOrNull, [], n);
        var entries = Decode(raw);
        return entries[0].Prev == from ? new ChangeLogRead(false, lastOrNull, entries, n) : new ChangeLogRead(true, lastOrNull, [], n);
    }

    private static (string Last, long Count) Meta(RedisValue[] meta) =>
        ((string?)meta[0] ?? "", meta[1].IsNull ? 0 : (long)meta[1]);

    /// <summary>
    /// A page of every record of a collection, deleted ones included, walking the digest index (which lists every
    /// record) with HSCAN from <paramref name="cursor"/> ("0": the start). A record whose key is gone (lost behind the
    /// gateway's back) is left out: there is nothing to hand out. HSCAN may return a record twice; joining a state twice
    /// changes nothing.
    /// </summary>
    public async Task<StatePage> ReadStatePageAsync(string collection, string cursor, int limit)
    {
        var db = Db;
        var asOf = (string?)await db.HashGetAsync(RedisKeys.Meta(collection), "last") ?? "0-0";
        var page = (RedisResult[])(await db.ExecuteAsync("HSCAN", RedisKeys.DigestIndex(collection), cursor, "COUNT", limit))!;
        var next = (string)page[0]!;
        var fields = (RedisResult[])page[1]!;
        var ids = new string[fields.Length / 2];
        for (var i = 0; i < ids.Length; i++) ids[i] = (string)fields[2 * i]!;
        var items = new List<(string, StoredRecord)>(ids.Length);
        foreach (var chunk in ids.Chunk(1000))
        {
            var stored = await GetStoredAsync(collection, chunk);
            for (var i = 0; i < chunk.Length; i++) if (stored[i].Exists) items.Add((chunk[i], stored[i]));
        }
        return new StatePage(items, next == "0" ? null : next, asOf);
    }

    /// <summary>This site's replication cursors for a collection: peer site → the peer's seq applied here.</summary>
    public async Task<Dictionary<string, string>> CursorsAsync(string collection) =>
        (await Db.HashGetAllAsync(RedisKeys.Cursors(collection))).ToDictionary(e => (string)e.Name!, e => (string)e.Value!, StringComparer.Ordinal);

    private static List<ChangeEntry> Decode(StreamEntry[] raw)
    {
        var entries = new List<ChangeEntry>(raw.Length);
        foreach (var entry in raw)
            entries.Add(RecordCodec.DecodeEntry((string)entry.Id!, (string?)entry["p"] ?? "", (long)entry["o"], (byte[])entry["e"]!));
        return entries;
    }

    /// <summary>How many change-log entries the collection ever had; no record's revision exceeds it.</summary>
    public async Task<long> ChangeCountAsync(string collection) =>
        (long?)await Db.HashGetAsync(RedisKeys.Meta(collection), "n") ?? 0;

    /// <summary>The seq of the collection's latest change-log entry, or null when it has none.</summary>
    public async Task<string?> LastSeqAsync(string collection) =>
        (string?)await Db.HashGetAsync(RedisKeys.Meta(collection), "last");

    /// <summary>Every collection ever written, with live-record count and last seq.</summary>
    public async Task<IReadOnlyList<(string Name, long Records, string? LastSeq)>> ListCollectionsAsync()
    {
        var db = Db;
        var names = (await db.SetMembersAsync(RedisKeys.Collections)).Select(n => (string)n!).OrderBy(n => n, StringComparer.Ordinal).ToArray();
        var counts = names.Select(n => db.SortedSetLengthAsync(RedisKeys.Ids(n))).ToArray();
        var lasts = names.Select(n => db.HashGetAsync(RedisKeys.Meta(n), "last")).ToArray();
        await Task.WhenAll(counts.Cast<Task>().Concat(lasts));
        return names.Select((n, i) => (n, counts[i].Result, (string?)lasts[i].Result)).ToArray();
    }

    /// <summary>True when Redis answers a PING.</summary>
    public async Task<bool> PingAsync()
    {
        try { await Db.PingAsync(); return true; }
        catch (RedisException) { return false; }
        catch (TimeoutException) { return false; }
    }
}

/// <summary>A write would leave its record with more visible fields than allowed; nothing was written.</summary>
public sealed class RecordTooLargeException(int itemIndex, int fieldCount, int max)
    : Exception($"The record would hold {fieldCount} fields; at most {max} are allowed.")
{
    /// <summary>0-based index of the offending write in the call.</summary>
    public int ItemIndex { get; } = itemIndex;
}

/// <summary>Opaque page cursors: the last id of the page, base64url so clients don't build them.</summary>
public static class Cursor
{
    public static string Encode(string id) => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(id))
        .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static bool TryDecode(string cursor, out string id)
    {
        id = "";
        try
        {
            var s = cursor.Replace('-', '+').Replace('_', '/');
            s = s.PadRight(s.Length + (4 - s.Length % 4) % 4, '=');
            id = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(s));
            return id.Length > 0;
        }
        catch (FormatException) { return false; }
    }
}
