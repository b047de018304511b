using System.Globalization;
using System.Text;
using RedisSync.Gateway.Contracts;
using RedisSync.Gateway.Merge;
using StackExchange.Redis;

namespace RedisSync.Gateway.Store;

/// <summary>
/// Turns what the scripts return (flat field/value pairs, netstrings) into the contract's views.
/// Formats only: no merge rule is decided here.
/// </summary>
internal static class EntryCodec
{
    /// <summary>Record pairs ('id','r','q','u','c','del','d:…') or change-log pairs into a record view.</summary>
    public static RecordView Record(string collection, IReadOnlyList<string> pairs, string? seqOverride = null)
    {
        string id = "", clock = "", upd = "", seq = "";
        long rev = 0;
        var deleted = false;
        var data = new List<KeyValuePair<string, string>>();
        for (var i = 0; i + 1 < pairs.Count; i += 2)
        {
            var (name, value) = (pairs[i], pairs[i + 1]);
            if (name.StartsWith("d:", StringComparison.Ordinal)) { data.Add(KeyValuePair.Create(name[2..], value)); continue; }
            switch (name)
            {
                case "id": id = value; break;
                case "r": rev = long.Parse(value, CultureInfo.InvariantCulture); break;
                case "q": seq = value; break;
                case "u": upd = value; break;
                case "c": clock = value; break;
                case "del": deleted = value == "1"; break;
                case "k": deleted = value == "delete"; break;
            }
        }
        seq = seqOverride ?? seq;
        return new RecordView(collection, id, rev, seq.Length == 0 ? null : seq, deleted, new RecordData(data),
            clock.Length == 0 ? null : ClockView.From(Clock.Parse(clock)),
            upd.Length == 0 ? null : Timestamps.Format(long.Parse(upd, CultureInfo.InvariantCulture)));
    }

    /// <summary>A record hash as HGETALL returns it (see merge.lua), or null when the record never existed.</summary>
    public static RecordView? RecordFromHash(string collection, string id, HashEntry[] hash, bool includeClocks)
    {
        if (hash.Length == 0) return null;
        var pairs = new List<string> { "id", id };
        Dictionary<string, ClockView>? clocks = includeClocks ? new(StringComparer.Ordinal) : null;
        var visible = new HashSet<string>(StringComparer.Ordinal);
        var fieldClocks = new List<(string Name, string Clock)>();
        foreach (var entry in hash)
        {
            string name = entry.Name!, value = entry.Value!;
            if (name.StartsWith("v:", StringComparison.Ordinal)) { pairs.Add("d:" + name[2..]); pairs.Add(value); visible.Add(name[2..]); }
            else if (name.StartsWith("c:", StringComparison.Ordinal)) fieldClocks.Add((name[2..], value));
            else if (name == "$rev") { pairs.Add("r"); pairs.Add(value); }
            else if (name == "$seq") { pairs.Add("q"); pairs.Add(value); }
            else if (name == "$upd") { pairs.Add("u"); pairs.Add(value); }
            else if (name == "$clk") { pairs.Add("c"); pairs.Add(value); }
            else if (name == "$del") { pairs.Add("del"); pairs.Add(value); }
        }
        var view = Record(collection, pairs);
        if (clocks is null) return view;
        foreach (var (name, clock) in fieldClocks.OrderBy(f => f.Name, StringComparer.Ordinal))
            if (visible.Contains(name)) clocks[name] = ClockView.From(Clock.Parse(clock));
        return view with { Fields = clocks };
    }

    /// <summary>One XRANGE entry: [seq, [field, value, …]].</summary>
    public static ChangeEvent ChangeFromStream(string collection, RedisResult entry)
    {
        var parts = (RedisResult[])entry!;
        var seq = (string)parts[0]!;
        var pairs = ((RedisValue[])parts[1]!).Select(v => (string)v!).ToArray();
        return Change(collection, seq, pairs);
    }

    /// <summary>A pub/sub message: per change, netstrings seq, pair count, pairs.</summary>
    public static List<ChangeEvent> ChangesFromMessage(string collection, byte[] message)
    {
        var changes = new List<ChangeEvent>();
        var pos = 0;
        while (pos < message.Length)
        {
            var seq = NextNetstring(message, ref pos);
            var count = int.Parse(NextNetstring(message, ref pos), CultureInfo.InvariantCulture);
            var pairs = new string[count];
            for (var i = 0; i < count; i++) pairs[i] = NextNetstring(message, ref pos);
            changes.Add(Change(collection, seq, pairs));
        }
        return changes;
    }

    private static ChangeEvent Change(string collection, string seq, IReadOnlyList<string> pairs)
    {
        string id = "", kind = "", source = "", prev = "", changed = "";
        long rev = 0;
        for (var i = 0; i + 1 < pairs.Count; i += 2)
        {
            switch (pairs[i])
            {
                case "id": id = pairs[i + 1]; break;
                case "k": kind = pairs[i + 1]; break;
                case "r": rev = long.Parse(pairs[i + 1], CultureInfo.InvariantCulture); break;
                case "s": source = pairs[i + 1]; break;
                case "p": prev = pairs[i + 1]; break;
                case "x": changed = pairs[i + 1]; break;
            }
        }
        var changedFields = new List<string>();
        var changedBytes = Encoding.UTF8.GetBytes(changed);
        var pos = 0;
        while (pos < changedBytes.Length) changedFields.Add(NextNetstring(changedBytes, ref pos));
        return new ChangeEvent(collection, seq, id, kind, rev, source, changedFields, Record(collection, pairs, seq)) { Prev = prev };
    }

    private static string NextNetstring(byte[] s, ref int pos)
    {
        var colon = Array.IndexOf(s, (byte)':', pos);
        var length = int.Parse(s.AsSpan(pos, colon - pos), CultureInfo.InvariantCulture);
        pos = colon + 1 + length;
        return Encoding.UTF8.GetString(s, colon + 1, length);
    }
}
