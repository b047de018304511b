using System.Globalization;
using Microsoft.Extensions.Options;
using RedisSync.Gateway.Contracts;
using RedisSync.Gateway.Hosting;
using RedisSync.Gateway.Merge;
using RedisSync.Gateway.Observability;
using StackExchange.Redis;

namespace RedisSync.Gateway.Store;

/// <summary>Result of reading the change log: either entries, or "your position is gone, resync".</summary>
public sealed record ChangeLogRead(bool ResyncRequired, string? Last, IReadOnlyList<ChangeEvent> Items);

/// <summary>
/// All record and change-log access to Redis (key layout: <see cref="RedisKeys"/>). Writes go through
/// merge.lua in one round trip per call, however many records the call carries.
/// </summary>
public sealed class RecordStore(IConnectionMultiplexer redis, IOptions<SyncOptions> options, SyncMetrics? metrics = null)
{
    private readonly SyncMetrics _metrics = metrics ?? SyncMetrics.Detached();

    private static readonly StoredScript Merge = StoredScript.FromResource("merge.lua");
    private static readonly StoredScript Changes = StoredScript.FromResource("changes.lua");

    private IDatabase Db => redis.GetDatabase();

    /// <summary>Applies writes to one collection in order, atomically each, in a single script run.</summary>
    public async Task<IReadOnlyList<WriteResult>> WriteAsync(string collection, MergePolicy policy, IReadOnlyList<RecordWrite> writes)
    {
        var keys = new List<RedisKey> { RedisKeys.Meta(collection), RedisKeys.Log(collection), RedisKeys.Ids(collection) };
        var keyIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        var args = new List<RedisValue>
        {
            policy == MergePolicy.Timestamp ? "timestamp" : "version",
            options.Value.ChangeLogMaxLength,
            (string)RedisKeys.Changes(collection)!,
            options.Value.MaxFieldsPerRecord,
            writes.Count,
        };
        foreach (var write in writes)
        {
            if (!keyIndex.TryGetValue(write.Id, out var index))
            {
                keys.Add(RedisKeys.Record(collection, write.Id));
                index = keyIndex[write.Id] = keys.Count; // Lua's KEYS is 1-based
            }
            args.Add(write.Op switch { WriteOp.Put => "put", WriteOp.Patch => "patch", _ => "delete" });
            args.Add(index);
            args.Add(write.Id);
            args.Add(write.Version.ToString(CultureInfo.InvariantCulture));
            args.Add(write.TimestampMs?.ToString(CultureInfo.InvariantCulture) ?? "");
            args.Add(write.Source);
            args.Add(write.Fields.Count);
            foreach (var (name, json) in write.Fields)
            {
                args.Add(name);
                args.Add(json);
            }
        }

        RedisResult[] raw;
        using (var activity = SyncTelemetry.StartScript("merge.lua", collection, writes.Count))
        {
            try { raw = (RedisResult[])(await Merge.RunAsync(Db, keys.ToArray(), args.ToArray()))!; }
            catch (Exception e) { SyncTelemetry.Failed(activity, e); throw; }
        }
        if (raw.Length == 3 && raw[0].ToString() == "too-many-fields")
            throw new RecordTooLargeException((int)raw[1] - 1, (int)raw[2], options.Value.MaxFieldsPerRecord);

        var results = new WriteResult[raw.Length];
        for (var i = 0; i < raw.Length; i++)
        {
            var item = (RedisResult[])raw[i]!;
            var seq = (string)item[3]!;
            var record = EntryCodec.Record(collection, (string[])item[5]!);
            results[i] = new WriteResult(collection, writes[i].Id, (string)item[0]!, (int)item[1] == 1,
                (long)item[2], seq.Length == 0 ? null : seq, (string[])item[4]!, record);
        }

        foreach (var result in results) _metrics.Write(result.Outcome);
        _metrics.Published(results.Count(r => r.Outcome == "applied"));

        // A record born here (revision 1) may belong to a collection not yet listed, including after Redis
        // lost its data. Cross-slot, so outside the script; fire-and-forget, so no extra round trip is awaited.
        if (results.Any(r => r.Outcome == "applied" && r.Revision == 1))
            await Db.SetAddAsync(RedisKeys.Collections, collection, CommandFlags.FireAndForget);
        return results;
    }

    /// <summary>The record's view (live or deleted), or null when it never existed.</summary>
    public async Task<RecordView?> GetAsync(string collection, string id, bool includeClocks)
    {
        var hash = await Db.HashGetAllAsync(RedisKeys.Record(collection, id));
        return EntryCodec.RecordFromHash(collection, id, hash, includeClocks);
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
        var hashes = await Task.WhenAll(page.Select(id => db.HashGetAllAsync(RedisKeys.Record(collection, id))));
        var items = new List<RecordView>(page.Length);
        for (var i = 0; i < page.Length; i++)
        {
            var view = EntryCodec.RecordFromHash(collection, page[i], hashes[i], includeClocks: false);
            if (view is { Deleted: false }) items.Add(view); // deleted between the two reads
        }
        return new RecordPage(items, ids.Length > limit ? Cursor.Encode(page[^1]) : null, last ?? "0-0");
    }

    /// <summary>Change-log entries after <paramref name="after"/> (null: from the oldest retained).</summary>
    public async Task<ChangeLogRead> ReadChangesAsync(string collection, string? after, int limit)
    {
        var raw = (RedisResult[])(await Changes.RunAsync(Db,
            [RedisKeys.Log(collection), RedisKeys.Meta(collection)],
            [after ?? "", limit]))!;
        var last = (string?)raw[1];
        last = string.IsNullOrEmpty(last) ? null : last;
        if ((string)raw[0]! == "resync") return new ChangeLogRead(true, last, []);
        var entries = (RedisResult[])raw[2]!;
        return new ChangeLogRead(false, last, entries.Select(e => EntryCodec.ChangeFromStream(collection, e)).ToArray());
    }

    /// <summary>The seq of the collection's latest change, or null when it has none.</summary>
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
