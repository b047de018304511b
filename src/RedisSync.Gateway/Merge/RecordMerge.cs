namespace RedisSync.Gateway.Merge;

/// <summary>
/// THE merge rules of CONTRACT §2 and §9, in one place: a join of record states. Everything that changes a
/// record goes through <see cref="Join"/>: a client's write (turned into the state it stands for by
/// <see cref="StateOf"/>), a peer site's state, a repair.
/// <para>
/// The join is the least upper bound in a lattice, hence commutative, associative and idempotent (PITFALLS 14):
/// the floor is the greatest floor; each field is its greatest-clock entry; fields older than the resulting floor
/// are dropped. Clocks are totally ordered by the policy. Entries with equal clocks are ordered by their content
/// (value text ordinal, a removal below any value; for the floor, a PUT above a DELETE) and then by site, the
/// smallest name first, which makes "the site of a clock that entered at several sites is the smallest of their
/// names" (§9) part of the same order. Equal clocks with different content can only come from a source that
/// reused a clock: a client's write doing so is refused (409 <c>conflict</c>); between sites, where nobody can be
/// refused any more, the greater content wins everywhere alike.
/// </para>
/// </summary>
public static class RecordMerge
{
    /// <summary>
    /// The join of <paramref name="current"/> and <paramref name="incoming"/>. With
    /// <paramref name="refuseClashes"/>, equal clocks holding different content make <paramref name="clash"/>
    /// true and the result is <paramref name="current"/> unchanged.
    /// </summary>
    public static RecordState Join(RecordState current, RecordState incoming, MergePolicy policy, bool refuseClashes, out bool clash)
    {
        clash = false;

        // The floor.
        var floor = current.Floor;
        var floorIsDelete = current.FloorIsDelete;
        if (incoming.Floor is { } f)
        {
            if (floor is null) (floor, floorIsDelete) = (f, incoming.FloorIsDelete);
            else
            {
                var c = ClockOrder.Compare(f, floor.Value, policy);
                if (c > 0) (floor, floorIsDelete) = (f, incoming.FloorIsDelete);
                else if (c == 0)
                {
                    if (incoming.FloorIsDelete != floorIsDelete)
                    {
                        clash = true;
                        if (refuseClashes) return current;
                        if (floorIsDelete) (floor, floorIsDelete) = (f, false); // a PUT above a DELETE
                    }
                    else if (string.CompareOrdinal(f.Site, floor.Value.Site) < 0) floor = f;
                }
            }
        }

        // The fields: both arrays are sorted by name, so one pass merges them.
        var a = current.Fields;
        var b = incoming.Fields;
        var merged = new List<FieldState>(a.Length + b.Length);
        int i = 0, j = 0;
        while (i < a.Length || j < b.Length)
        {
            int order = i == a.Length ? 1 : j == b.Length ? -1 : string.CompareOrdinal(a[i].Name, b[j].Name);
            if (order < 0) merged.Add(a[i++]);
            else if (order > 0) merged.Add(b[j++]);
            else
            {
                var winner = Winner(a[i], b[j], policy, ref clash);
                if (clash && refuseClashes) return current;
                merged.Add(winner);
                i++; j++;
            }
        }

        // Nothing older than the floor survives, including fields that only arrive now with an older clock.
        if (floor is { } fl) merged.RemoveAll(x => ClockOrder.Compare(x.Clock, fl, policy) < 0);
        return new RecordState(floor, floorIsDelete, [.. merged]);
    }

    private static FieldState Winner(in FieldState x, in FieldState y, MergePolicy policy, ref bool clash)
    {
        var c = ClockOrder.Compare(x.Clock, y.Clock, policy);
        if (c != 0) return c > 0 ? x : y;
        if (x.Value != y.Value)
        {
            clash = true;
            return CompareContent(x.Value, y.Value) > 0 ? x : y;
        }
        return string.CompareOrdinal(y.Clock.Site, x.Clock.Site) < 0 ? y : x;
    }

    // A removal (null) is below every value; values compare as text, ordinally.
    private static int CompareContent(string? x, string? y) =>
        x is null ? (y is null ? 0 : -1) : y is null ? 1 : string.CompareOrdinal(x, y);

    /// <summary>
    /// The state a single write stands for: a PUT sets the floor and the fields it names; a PATCH only its fields,
    /// a <c>null</c> becoming a removal marker; a DELETE only the floor. <paramref name="clock"/> is the write's
    /// clock with its timestamp resolved and the site where it entered.
    /// </summary>
    public static RecordState StateOf(RecordWrite write, Clock clock)
    {
        var fields = new FieldState[write.Fields.Count];
        for (var k = 0; k < fields.Length; k++)
        {
            var (name, json) = write.Fields[k];
            fields[k] = new FieldState(name, clock, write.Op == WriteOp.Patch && json == "null" ? null : json);
        }
        Array.Sort(fields, static (x, y) => string.CompareOrdinal(x.Name, y.Name));
        return write.Op == WriteOp.Patch
            ? new RecordState(null, false, fields)
            : new RecordState(clock, write.Op == WriteOp.Delete, fields);
    }

    /// <summary>
    /// Merges a client's write into <paramref name="current"/> and classifies it by the outcome table of §2.
    /// <paramref name="existed"/>: whether the record had ever been written (a tombstone counts).
    /// </summary>
    public static WriteMerge ApplyWrite(RecordState current, bool existed, RecordWrite write, Clock clock, MergePolicy policy)
    {
        var incoming = StateOf(write, clock);
        var after = Join(current, incoming, policy, refuseClashes: true, out var clash);
        if (clash) return new WriteMerge(WriteOutcome.Conflict, current, [], false);

        // A part of the write won when the merged state holds its clock (ties included: a retry wins again).
        var won = incoming.Floor is { } f && after.Floor is { } af && ClockOrder.Compare(af, f, policy) == 0;
        var stale = new List<string>();
        foreach (var field in incoming.Fields)
        {
            if (after.Field(field.Name) is { } kept && ClockOrder.Compare(kept.Clock, clock, policy) == 0) won = true;
            else stale.Add(field.Name);
        }
        if (!won) return new WriteMerge(WriteOutcome.Stale, current, stale, false);

        var applied = !existed || !after.SameDataAs(current);
        return new WriteMerge(applied ? WriteOutcome.Applied : WriteOutcome.Unchanged, after, stale,
            Created: applied && !after.Deleted && (!existed || current.Deleted));
    }

    /// <summary>Visible fields whose value differs between the two states, sorted by name.</summary>
    public static List<string> ChangedFields(RecordState before, RecordState after)
    {
        var changed = new List<string>();
        var a = before.Fields;
        var b = after.Fields;
        int i = 0, j = 0;
        while (i < a.Length || j < b.Length)
        {
            int order = i == a.Length ? 1 : j == b.Length ? -1 : string.CompareOrdinal(a[i].Name, b[j].Name);
            if (order < 0) { if (a[i].Visible) changed.Add(a[i].Name); i++; }
            else if (order > 0) { if (b[j].Visible) changed.Add(b[j].Name); j++; }
            else
            {
                if (a[i].Value != b[j].Value) changed.Add(a[i].Name);
                i++; j++;
            }
        }
        return changed;
    }
}

/// <summary>What a client's write did: its outcome, the record's state after it, and the named fields that lost.</summary>
public readonly record struct WriteMerge(WriteOutcome Outcome, RecordState After, List<string> StaleFields, bool Created);
