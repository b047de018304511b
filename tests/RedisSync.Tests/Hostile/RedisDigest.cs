using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace RedisSync.Tests.Hostile;

/// <summary>
/// A fingerprint of every key in a Redis database: for each key its type, whether it expires, and its whole content (hash
/// fields, set members, sorted-set members with scores, list items, stream entries and the stream's
/// last-generated id), each hashed with SHA-256. Two snapshots compare key by key, so a failure names
/// the keys that changed, appeared or vanished.
/// </summary>
internal sealed class RedisSnapshot(IReadOnlyDictionary<string, string> keys)
{
    /// <summary>SHA-256 (hex) of each key's type, expiry and content, by key name.</summary>
    public IReadOnlyDictionary<string, string> Keys { get; } = keys;

    /// <summary>One hash over all keys, in ordinal key order.</summary>
    public string Digest
    {
        get
        {
            var all = string.Join("\n", Keys.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => k.Key + "=" + k.Value));
            return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(all)));
        }
    }

    /// <summary>The keys that differ between this snapshot and <paramref name="other"/>, described.</summary>
    public List<string> Differences(RedisSnapshot other, Func<string, bool>? ignore = null)
    {
        var diff = new List<string>();
        foreach (var key in Keys.Keys.Union(other.Keys.Keys).Order(StringComparer.Ordinal))
        {
            if (ignore?.Invoke(key) == true) continue;
            var had = Keys.TryGetValue(key, out var a);
            var has = other.Keys.TryGetValue(key, out var b);
            if (had && !has) diff.Add($"removed {Printable(key)}");
            else if (!had && has) diff.Add($"added {Printable(key)}");
            else if (a != b) diff.Add($"changed {Printable(key)}");
        }
        return diff;
    }

    /// <summary>Fails unless <paramref name="after"/> holds exactly the same data (keys outside <paramref name="ignore"/>).</summary>
    public void AssertUnchanged(RedisSnapshot after, string what, Func<string, bool>? ignore = null)
    {
        var diff = Differences(after, ignore);
        Assert.True(diff.Count == 0, $"{what} changed Redis data: {string.Join("; ", diff.Take(20))}");
        if (ignore is null) Assert.Equal(Digest, after.Digest);
    }

    private static string Printable(string key) =>
        string.Concat(key[..key.LastIndexOf(" #", StringComparison.Ordinal)].Select(ch => char.IsControl(ch) ? $"\\u{(int)ch:x4}" : ch.ToString()));
}

/// <summary>
/// Takes <see cref="RedisSnapshot"/>s of one Redis database with one Lua script run: SCAN over every key, each
/// key's content serialized canonically (hash fields and set members sorted, every item length-prefixed) and
/// hashed inside Redis (SHA-1), so megabytes of record data never cross the wire just to be compared.
/// </summary>
internal sealed class RedisDigest(IDatabase db)
{
    // Returns a flat list: key, type, expiry ("persistent" or "expiring"), sha1 of the content; per key.
    // Streams include their last-generated id and entries-added, so even an XADD whose entry is gone shows.
    private const string Script = """
        local function pairs_sorted(flat)
          local pairs_ = {}
          for i = 1, #flat, 2 do pairs_[#pairs_ + 1] = { flat[i], flat[i + 1] } end
          table.sort(pairs_, function(a, b) return a[1] < b[1] end)
          local out = {}
          for _, p in ipairs(pairs_) do out[#out + 1] = p[1]; out[#out + 1] = p[2] end
          return out
        end
        local out = {}
        local cursor = '0'
        repeat
          local r = redis.call('SCAN', cursor, 'COUNT', 1000)
          cursor = r[1]
          for _, k in ipairs(r[2]) do
            local t = redis.call('TYPE', k)['ok']
            local items
            if t == 'string' then items = { redis.call('GET', k) }
            elseif t == 'hash' then items = pairs_sorted(redis.call('HGETALL', k))
            elseif t == 'set' then items = redis.call('SMEMBERS', k); table.sort(items)
            elseif t == 'zset' then items = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
            elseif t == 'list' then items = redis.call('LRANGE', k, 0, -1)
            elseif t == 'stream' then
              items = {}
              local info = redis.call('XINFO', 'STREAM', k)
              for i = 1, #info, 2 do
                local name = info[i]
                if name == 'length' or name == 'last-generated-id' or name == 'entries-added' or name == 'max-deleted-entry-id' then
                  items[#items + 1] = name
                  items[#items + 1] = tostring(info[i + 1])
                end
              end
              for _, e in ipairs(redis.call('XRANGE', k, '-', '+')) do
                items[#items + 1] = e[1]
                items[#items + 1] = tostring(#e[2])
                for _, f in ipairs(e[2]) do items[#items + 1] = f end
              end
            else items = { 'unknown type' } end
            local parts = { t, ':', tostring(#items), ':' }
            for _, v in ipairs(items) do parts[#parts + 1] = #v .. ':' .. v end
            out[#out + 1] = k
            out[#out + 1] = t
            out[#out + 1] = redis.call('PTTL', k) < 0 and 'persistent' or 'expiring'
            out[#out + 1] = redis.sha1hex(table.concat(parts))
          end
        until cursor == '0'
        return out
        """;

    public async Task<RedisSnapshot> TakeAsync()
    {
        var flat = (byte[][])(await db.ScriptEvaluateAsync(Script))!;
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 3 < flat.Length; i += 4)
        {
            var key = flat[i];
            // Presence (members, instance leases) is not stored data: it changes with every hub subscription
            // and every few seconds by itself.
            if (IsPresence(Encoding.UTF8.GetString(key))) continue;
            // Keys are binary-safe in Redis; hex keeps distinct byte strings distinct, the prefix keeps them readable.
            keys[Encoding.UTF8.GetString(key) + " #" + Convert.ToHexString(key)] =
                $"{Encoding.ASCII.GetString(flat[i + 1])}|{Encoding.ASCII.GetString(flat[i + 2])}|{Encoding.ASCII.GetString(flat[i + 3])}";
        }
        Assert.True(flat.Length % 4 == 0, "the digest script returned a partial entry");
        return new RedisSnapshot(keys);
    }

    private static bool IsPresence(string key) =>
        key.StartsWith("rs:{:presence}:", StringComparison.Ordinal) || (key.StartsWith("rs:{", StringComparison.Ordinal) && key.EndsWith("}:presence", StringComparison.Ordinal));
}
