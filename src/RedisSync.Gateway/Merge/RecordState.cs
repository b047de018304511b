namespace RedisSync.Gateway.Merge;

/// <summary>
/// One top-level field of a record's merged state: the clock of the write that set it, and its value as
/// canonical JSON text, or null for a removal marker (a PATCH's <c>null</c> that won).
/// </summary>
public readonly record struct FieldState(string Name, Clock Clock, string? Value)
{
    public bool Visible => Value is not null;
}

/// <summary>
/// The merged state of one record (CONTRACT §2): what equal sets of writes make equal on every instance and
/// every site. Immutable; <see cref="RecordMerge"/> makes new states from old ones.
/// <list type="bullet">
/// <item><see cref="Floor"/>: the clock of the greatest PUT or DELETE, and <see cref="FloorIsDelete"/> which of
/// the two set it. Fields older than the floor are gone for good.</item>
/// <item><see cref="Fields"/>: sorted by name (ordinal), every field whose winning clock is at or above the floor,
/// visible or a removal marker.</item>
/// </list>
/// Revision, seq and the server's last stamp are this site's history, not state: see <c>StoredRecord</c>.
/// </summary>
public sealed class RecordState
{
    public static readonly RecordState Empty = new(null, false, []);

    public RecordState(Clock? floor, bool floorIsDelete, FieldState[] fields)
    {
        Floor = floor;
        FloorIsDelete = floor is not null && floorIsDelete;
        Fields = fields;
    }

    public Clock? Floor { get; }
    public bool FloorIsDelete { get; }

    /// <summary>Sorted by <see cref="FieldState.Name"/>, ordinal; never shared with another state.</summary>
    public FieldState[] Fields { get; }

    /// <summary>True for the state of a record that never received anything.</summary>
    public bool IsEmpty => Floor is null && Fields.Length == 0;

    public int VisibleCount
    {
        get
        {
            var n = 0;
            foreach (var f in Fields) if (f.Visible) n++;
            return n;
        }
    }

    /// <summary>Deleted iff a DELETE set the floor and no field is visible. A PUT of <c>{}</c> is live and empty.</summary>
    public bool Deleted => FloorIsDelete && VisibleCount == 0;

    /// <summary>
    /// The record's clock: the greatest of the floor and the visible fields' clocks; for a record that only ever
    /// saw a PATCH's nulls (no floor, nothing visible), its newest removal. Null for the empty state.
    /// Ties keep the first candidate (the floor, then fields in name order), so the site shown is deterministic.
    /// </summary>
    public Clock? RecordClock(MergePolicy policy)
    {
        Clock? best = Floor;
        foreach (var f in Fields)
            if (f.Visible && (best is null || ClockOrder.Compare(f.Clock, best.Value, policy) > 0)) best = f.Clock;
        if (best is not null) return best;
        foreach (var f in Fields)
            if (best is null || ClockOrder.Compare(f.Clock, best.Value, policy) > 0) best = f.Clock;
        return best;
    }

    /// <summary>The field named <paramref name="name"/>, or null.</summary>
    public FieldState? Field(string name)
    {
        var i = IndexOf(name);
        return i >= 0 ? Fields[i] : null;
    }

    internal int IndexOf(string name)
    {
        int lo = 0, hi = Fields.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var c = string.CompareOrdinal(Fields[mid].Name, name);
            if (c == 0) return mid;
            if (c < 0) lo = mid + 1; else hi = mid - 1;
        }
        return ~lo;
    }

    /// <summary>Equal parts, clocks and sites included.</summary>
    public bool SameAs(RecordState other)
    {
        if (ReferenceEquals(this, other)) return true;
        if (Floor != other.Floor || FloorIsDelete != other.FloorIsDelete || Fields.Length != other.Fields.Length) return false;
        for (var i = 0; i < Fields.Length; i++)
            if (Fields[i] != other.Fields[i]) return false;
        return true;
    }

    /// <summary>Equal visible data and deletion: what subscribers see.</summary>
    public bool SameDataAs(RecordState other)
    {
        if (Deleted != other.Deleted) return false;
        int i = 0, j = 0;
        while (true)
        {
            while (i < Fields.Length && !Fields[i].Visible) i++;
            while (j < other.Fields.Length && !other.Fields[j].Visible) j++;
            if (i == Fields.Length || j == other.Fields.Length) return i == Fields.Length && j == other.Fields.Length;
            if (Fields[i].Name != other.Fields[j].Name || Fields[i].Value != other.Fields[j].Value) return false;
            i++; j++;
        }
    }
}
