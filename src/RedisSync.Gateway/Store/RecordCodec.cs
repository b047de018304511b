using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using RedisSync.Gateway.Merge;

namespace RedisSync.Gateway.Store;

/// <summary>
/// A record as the store holds it: this site's history of it (<see cref="Commit"/>, <see cref="Revision"/>,
/// <see cref="Seq"/>, <see cref="LastStamp"/>) and its merged <see cref="State"/>.
/// </summary>
/// <param name="Commit">Times the record was written; the compare-and-set token of the commit script. 0: absent.</param>
/// <param name="Revision">Applied changes (CONTRACT §2).</param>
/// <param name="LastStamp">Last timestamp the Redis server issued for it (timestamp policy), 0 for none.</param>
/// <param name="Seq">Seq of its latest applied change, "" for none.</param>
public sealed record StoredRecord(long Commit, long Revision, long LastStamp, string Seq, RecordState State)
{
    public static readonly StoredRecord Absent = new(0, 0, 0, "", RecordState.Empty);

    public bool Exists => Commit > 0;
}

/// <summary>The kind of a change-log entry.</summary>
public enum EntryKind
{
    /// <summary>The record's data changed and it is live.</summary>
    Upsert,
    /// <summary>The record became (or was created) deleted.</summary>
    Delete,
    /// <summary>
    /// Only clocks, removal markers or sites moved: part of the merged state, so peers need it (CONTRACT §9), but
    /// not a change for subscribers. No revision, no event; skipped by <c>/changes</c> and the hub.
    /// </summary>
    State,
}

/// <summary>One change-log entry, decoded.</summary>
public sealed record ChangeEntry(
    string Seq, string Prev, long Ordinal, string Id, EntryKind Kind, long Revision, string Source,
    IReadOnlyList<string> ChangedFields, RecordState State);

/// <summary>
/// The byte layouts of the store (all Redis values the gateway writes), and nothing else: no rule is decided here.
/// <code>
/// record  rs:{c}:r:{id}   "{commit} {revision} {lastStamp} {seq}\n" + state
/// state                   ns(floor clock | "") ns("p" | "d" | "") then per field, by name: ns(name) ns(clock) ns(value | "")
/// clock                   "{version}|{timestampMs}|{source}|{site}"          ("" value = removal marker)
/// log entry              fields p = previous seq, o = ordinal, e = the entry:
///                         ns(id) ns("u" | "d" | "s") ns(revision) ns(source) ns(changed) ns(state)
///                         changed = the changed field names, each a netstring
/// pub/sub message         per entry of one script run: ns(seq) ns(prev) ns(ordinal) followed by the entry
/// </code>
/// ns(x) is a netstring (<see cref="NetstringWriter"/>). The state part is canonical (fields sorted, values as
/// stored), so equal states have equal bytes on every site: its SHA-256 is the record's digest hash.
/// </summary>
public static class RecordCodec
{
    public static byte[] EncodeState(RecordState state)
    {
        var w = new NetstringWriter(64 + state.Fields.Length * 48);
        WriteState(w, state);
        return w.ToArray();
    }

    private static void WriteState(NetstringWriter w, RecordState state)
    {
        if (state.Floor is { } floor) w.Add(floor); else w.Add("");
        w.Add(state.Floor is null ? "" : state.FloorIsDelete ? "d" : "p");
        foreach (var f in state.Fields) w.Add(f.Name).Add(f.Clock).Add(f.Value ?? "");
    }

    public static RecordState DecodeState(ReadOnlySpan<byte> bytes)
    {
        var r = new NetstringReader(bytes);
        var floorText = r.NextString();
        var kind = r.Next();
        Clock? floor = floorText.Length == 0 ? null : ParseClock(floorText);
        var fields = new List<FieldState>();
        while (!r.End)
        {
            var name = r.NextString();
            var clock = ParseClock(r.NextString());
            var value = r.Next();
            fields.Add(new FieldState(name, clock, value.Length == 0 ? null : Encoding.UTF8.GetString(value)));
        }
        return new RecordState(floor, kind.Length == 1 && kind[0] == (byte)'d', [.. fields]);
    }

    /// <summary>The record's header line up to its seq, which only the commit script knows.</summary>
    public static string Head(long commit, long revision, long lastStamp) =>
        string.Create(CultureInfo.InvariantCulture, $"{commit} {revision} {lastStamp} ");

    /// <summary>
    /// A stored record, or <see cref="StoredRecord.Absent"/> for a missing key. A value that is not a readable record
    /// (altered behind the gateway's back) reads as an empty record with the commit counter it starts with, which is
    /// what the commit script compares: the next write replaces it, and a scrub reports it as damaged.
    /// </summary>
    public static StoredRecord DecodeStored(ReadOnlySpan<byte> blob)
    {
        try { return DecodeRecord(blob); }
        catch (FormatException)
        {
            var commit = Utf8Parser.TryParse(blob, out long n, out var consumed) && consumed < blob.Length && blob[consumed] == (byte)' ' ? n : 0;
            return StoredRecord.Absent with { Commit = commit };
        }
    }

    /// <summary>A stored record, or <see cref="StoredRecord.Absent"/> for a missing key.</summary>
    /// <exception cref="FormatException">The value is not a record.</exception>
    public static StoredRecord DecodeRecord(ReadOnlySpan<byte> blob)
    {
        if (blob.IsEmpty) return StoredRecord.Absent;
        var newline = blob.IndexOf((byte)'\n');
        if (newline < 0) throw new FormatException("stored record has no header");
        var header = blob[..newline];
        long commit = NextNumber(ref header), revision = NextNumber(ref header), stamp = NextNumber(ref header);
        var seq = Encoding.ASCII.GetString(header);
        return new StoredRecord(commit, revision, stamp, seq, DecodeState(blob[(newline + 1)..]));
    }

    /// <summary>The state part of a stored record (what its digest hash covers), or empty for a missing key.</summary>
    public static ReadOnlySpan<byte> StatePart(ReadOnlySpan<byte> blob)
    {
        var newline = blob.IndexOf((byte)'\n');
        return newline < 0 ? [] : blob[(newline + 1)..];
    }

    private static long NextNumber(ref ReadOnlySpan<byte> header)
    {
        if (!Utf8Parser.TryParse(header, out long value, out var consumed) || consumed >= header.Length || header[consumed] != (byte)' ')
            throw new FormatException("malformed stored record header");
        header = header[(consumed + 1)..];
        return value;
    }

    /// <summary>A log entry's field <c>e</c>: what the gateway knows before the commit (the script adds prev and ordinal).</summary>
    public static byte[] EncodeEntry(string id, EntryKind kind, long revision, string source, IReadOnlyList<string> changedFields, byte[] state)
    {
        var changed = new NetstringWriter(16 * changedFields.Count + 8);
        foreach (var name in changedFields) changed.Add(name);
        var w = new NetstringWriter(state.Length + changed.Length + id.Length + 48);
        w.Add(id).Add(kind switch { EntryKind.Upsert => "u", EntryKind.Delete => "d", _ => "s" }).Add(revision).Add(source)
            .Add(changed.WrittenSpan).Add(state);
        return w.ToArray();
    }

    /// <summary>One stream entry: its id (the seq) and its fields.</summary>
    public static ChangeEntry DecodeEntry(string seq, string prev, long ordinal, ReadOnlySpan<byte> e)
    {
        var r = new NetstringReader(e);
        return ReadEntry(seq, prev, ordinal, ref r);
    }

    /// <summary>A pub/sub message: the entries of one script run, in order.</summary>
    public static List<ChangeEntry> DecodeMessage(ReadOnlySpan<byte> message)
    {
        var entries = new List<ChangeEntry>();
        var r = new NetstringReader(message);
        while (!r.End)
        {
            var seq = r.NextString();
            var prev = r.NextString();
            var ordinal = r.NextLong();
            entries.Add(ReadEntry(seq, prev, ordinal, ref r));
        }
        return entries;
    }

    private static ChangeEntry ReadEntry(string seq, string prev, long ordinal, ref NetstringReader r)
    {
        var id = r.NextString();
        var kind = r.Next() switch
        {
            [(byte)'u'] => EntryKind.Upsert,
            [(byte)'d'] => EntryKind.Delete,
            [(byte)'s'] => EntryKind.State,
            _ => throw new FormatException("unknown change-log entry kind"),
        };
        var revision = r.NextLong();
        var source = r.NextString();
        var changedReader = new NetstringReader(r.Next());
        var changed = new List<string>();
        while (!changedReader.End) changed.Add(changedReader.NextString());
        var state = DecodeState(r.Next());
        return new ChangeEntry(seq, prev, ordinal, id, kind, revision, source, changed, state);
    }

    public static string ClockText(in Clock c) =>
        string.Create(CultureInfo.InvariantCulture, $"{c.Version}|{c.TimestampMs}|{c.Source}|{c.Site}");

    public static Clock ParseClock(string text)
    {
        var parts = text.Split('|');
        if (parts.Length != 4) throw new FormatException("malformed stored clock");
        return new Clock(long.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture), parts[2], parts[3]);
    }

    /// <summary>The digest hash of a record's state bytes: the first 128 bits of their SHA-256, lower-case hex.</summary>
    public static string StateHash(ReadOnlySpan<byte> state)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(state, hash);
        return Convert.ToHexStringLower(hash[..16]);
    }
}
