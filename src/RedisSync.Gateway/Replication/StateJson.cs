using System.Text.Json;
using RedisSync.Gateway.Contracts;
using RedisSync.Gateway.Merge;
using RedisSync.Gateway.Store;

namespace RedisSync.Gateway.Replication;

/// <summary>A clock as sites exchange it: the timestamp in exact milliseconds, the site it entered at ("" unknown).</summary>
public sealed record ClockJson(long Version, long Timestamp, string Source, string Site);

/// <summary>One field of a record state; <c>value</c> is the value's canonical JSON text, null for a removal marker.</summary>
public sealed record FieldJson(string Name, ClockJson Clock, string? Value);

/// <summary>
/// A record's merged state as sites exchange it (CONTRACT §9): per-field values and clocks, the floor and its kind.
/// Values travel as their exact JSON text inside a string, so no re-encoding on the way can change a digit.
/// </summary>
public sealed record StateJson(ClockJson? Floor, string? FloorKind, IReadOnlyList<FieldJson> Fields)
{
    public static StateJson From(RecordState state) => new(
        state.Floor is { } f ? Clock(f) : null,
        state.Floor is null ? null : state.FloorIsDelete ? "delete" : "put",
        state.Fields.Select(x => new FieldJson(x.Name, Clock(x.Clock), x.Value)).ToArray());

    private static ClockJson Clock(Merge.Clock c) => new(c.Version, c.TimestampMs, c.Source, c.Site);

    /// <summary>The state, or null with <paramref name="error"/> saying what is wrong with what a peer sent.</summary>
    public RecordState? ToState(out string? error)
    {
        error = null;
        Merge.Clock? floor = null;
        if (Floor is not null || FloorKind is not null)
        {
            if (Floor is null || FloorKind is not ("put" or "delete")) { error = "floor and floorKind (put or delete) come together"; return null; }
            if (ToClock(Floor, out error) is not { } c) return null;
            floor = c;
        }
        var fields = new List<FieldState>(Fields?.Count ?? 0);
        foreach (var f in Fields ?? [])
        {
            if (f?.Name is not { Length: > 0 } name || name[0] == '$' || !JsonText.IsWellFormed(name)) { error = "a field name is empty, starts with $ or is not well-formed Unicode"; return null; }
            if (f.Clock is null || ToClock(f.Clock, out error) is not { } clock) { error ??= $"field {name} has no clock"; return null; }
            if (f.Value is not null && !IsCanonicalJson(f.Value)) { error = $"field {name}: value is not canonical JSON text"; return null; }
            fields.Add(new FieldState(name, clock, f.Value));
        }
        fields.Sort((x, y) => string.CompareOrdinal(x.Name, y.Name));
        for (var i = 1; i < fields.Count; i++)
            if (fields[i].Name == fields[i - 1].Name) { error = $"field {fields[i].Name} appears twice"; return null; }
        return new RecordState(floor, FloorKind == "delete", [.. fields]);
    }

    private static Merge.Clock? ToClock(ClockJson c, out string? error)
    {
        error = null;
        if (c.Version is < 0 or > Merge.Clock.MaxVersion) error = "a clock's version is out of range";
        else if (c.Source is null || !Names.Source().IsMatch(c.Source)) error = "a clock's source is not a valid source name";
        else if (c.Site is null || (c.Site.Length > 0 && !Names.Source().IsMatch(c.Site))) error = "a clock's site is not a valid site name";
        return error is null ? new Merge.Clock(c.Version, c.Timestamp, c.Source!, c.Site!) : null;
    }

    private static bool IsCanonicalJson(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return JsonText.Canonical(doc.RootElement) == text;
        }
        catch (JsonException) { return false; }
    }
}

/// <summary>One change-log entry with the record state after it, for a peer (state-only entries included).</summary>
public sealed record ReplicationChange(string Seq, long Ordinal, string Id, string Kind, long Revision, string Source, StateJson State)
{
    /// <inheritdoc cref="RecordStateItem.ToState(string, string)"/>
    public RecordState ToState(string peer, string collection) => new RecordStateItem(Id, State).ToState(peer, collection);

    public static ReplicationChange From(ChangeEntry e) => new(e.Seq, e.Ordinal, e.Id,
        e.Kind switch { EntryKind.Upsert => "upsert", EntryKind.Delete => "delete", _ => "state" }, e.Revision, e.Source, StateJson.From(e.State));
}

/// <summary>
/// A page of a collection's change log for a peer: <c>next</c> as in <c>/changes</c>; <c>last</c> and
/// <c>count</c> describe the whole log (its latest seq, how many entries it ever had), so the peer knows its lag.
/// </summary>
public sealed record ReplicationChangePage(IReadOnlyList<ReplicationChange> Items, string Next, bool HasMore, string? Last, long Count);

/// <summary>One record of a full copy or a lookup, deleted ones included.</summary>
public sealed record RecordStateItem(string Id, StateJson State)
{
    /// <summary>The state a peer sent; a state that breaks the rules stops the exchange with that peer.</summary>
    public RecordState ToState(string peer, string collection) =>
        State.ToState(out var error) ?? throw new InvalidDataException($"peer {peer} sent an invalid state for {collection}/{Id}: {error}");
}

/// <summary>A page of a collection's full state; <c>asOf</c> is where a follower continues after the copy.</summary>
public sealed record RecordStatePage(IReadOnlyList<RecordStateItem> Items, string? NextCursor, string AsOf);

/// <summary>Body of a lookup: the ids whose states are wanted.</summary>
public sealed record RecordLookup(IReadOnlyList<string>? Ids);

/// <summary>Body of an apply: states to join in.</summary>
public sealed record RecordStateBatch(IReadOnlyList<RecordStateItem?>? Items);

/// <summary>What applying states did: counts, and each item's outcome in order (applied, state-only, unchanged).</summary>
public sealed record ApplyResult(int Applied, int StateOnly, int Unchanged, IReadOnlyList<string>? Outcomes = null);
