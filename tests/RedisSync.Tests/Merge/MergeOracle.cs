using RedisSync.Gateway.Merge;

namespace RedisSync.Tests.Merge;

/// <summary>The merged state of one record as CONTRACT §2 defines it.</summary>
/// <param name="Exists">False only for the empty set of writes.</param>
/// <param name="Data">Visible fields: name → canonical JSON text.</param>
/// <param name="FieldClocks">The clock of every visible field.</param>
internal sealed record OracleState(
    bool Exists,
    IReadOnlyDictionary<string, string> Data,
    bool Deleted,
    Clock? Clock,
    IReadOnlyDictionary<string, Clock> FieldClocks);

/// <summary>What one write does to a record that already received a set of writes (CONTRACT §2 outcome table).</summary>
internal sealed record OracleOutcome(string Outcome, bool Created, IReadOnlyList<string> StaleFields, OracleState After);

/// <summary>
/// A test oracle written straight from CONTRACT §2, "Precisely — the merged state as a function of the set of
/// writes". It looks at a SET of writes, never at an arrival order and never at stored state, so it shares no
/// structure with Merge/RecordMerge.cs (which folds writes one at a time into a state). It is not a second implementation
/// for the product: nothing in src/ may use it.
/// Writes in one set must carry distinct clocks: two different writes under one clock are a conflict, whose
/// result legitimately depends on which came first.
/// </summary>
internal static class MergeOracle
{
    /// <summary>The policy's total order on clocks: primary number, the other number, then source by bytes.</summary>
    public static int Compare(MergePolicy policy, Clock a, Clock b)
    {
        var (p1, p2, q1, q2) = policy == MergePolicy.Timestamp
            ? (a.TimestampMs, b.TimestampMs, a.Version, b.Version)
            : (a.Version, b.Version, a.TimestampMs, b.TimestampMs);
        if (p1 != p2) return p1.CompareTo(p2);
        if (q1 != q2) return q1.CompareTo(q2);
        return Math.Sign(string.CompareOrdinal(a.Source, b.Source));
    }

    public static Clock ClockOf(RecordWrite write) =>
        new(write.Version, write.TimestampMs ?? throw new ArgumentException("the oracle needs explicit timestamps"), write.Source);

    /// <summary>The merged state of a set of writes to one record.</summary>
    public static OracleState State(MergePolicy policy, IReadOnlyCollection<RecordWrite> writes)
    {
        if (writes.Count == 0)
            return new OracleState(false, new Dictionary<string, string>(), false, null, new Dictionary<string, Clock>());

        // The floor: the greatest clock among the PUTs and DELETEs.
        var floorWrite = Greatest(policy, writes.Where(w => w.Op != WriteOp.Patch));
        Clock? floor = floorWrite is null ? null : ClockOf(floorWrite);

        // A field's winner: the greatest-clock write that names it (a PUT, or a PATCH, its null included).
        var winners = new Dictionary<string, (Clock Clock, string Json, bool Removal)>(StringComparer.Ordinal);
        foreach (var write in writes)
        {
            var clock = ClockOf(write);
            foreach (var (name, json) in write.Fields)
            {
                if (winners.TryGetValue(name, out var held) && Compare(policy, held.Clock, clock) >= 0) continue;
                winners[name] = (clock, json, write.Op == WriteOp.Patch && json == "null");
            }
        }

        // Visible iff the winner's clock ≥ the floor and the winner is not a PATCH's null.
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        var fieldClocks = new Dictionary<string, Clock>(StringComparer.Ordinal);
        foreach (var (name, winner) in winners)
        {
            if (winner.Removal) continue;
            if (floor is { } f && Compare(policy, winner.Clock, f) < 0) continue;
            data[name] = winner.Json;
            fieldClocks[name] = winner.Clock;
        }

        // Deleted iff the floor was set by a DELETE and no field is visible.
        var deleted = floorWrite is { Op: WriteOp.Delete } && data.Count == 0;

        // The record clock: the greatest of the floor and the visible winners' clocks.
        var candidates = fieldClocks.Values.ToList();
        if (floor is { } fl) candidates.Add(fl);
        // The contract leaves one case open: no floor (only PATCHes) and no visible field (every winner is a
        // PATCH's null). RecordState.RecordClock documents its answer, which still depends only on the set: the clock of the
        // newest removal, i.e. the greatest winner.
        if (candidates.Count == 0) candidates.AddRange(winners.Values.Select(w => w.Clock));
        var recordClock = candidates.Aggregate((x, y) => Compare(policy, x, y) >= 0 ? x : y);

        return new OracleState(true, data, deleted, recordClock, fieldClocks);
    }

    /// <summary>
    /// The outcome of <paramref name="write"/> arriving at a record that holds <paramref name="before"/>, from the
    /// outcome table: applied when the merged data (or the deleted flag) changes or the record is new; otherwise
    /// unchanged when some part of the write won on clock, stale when every part lost. A part wins when its clock
    /// is greater than what it competes with: for a PUT or DELETE, the floor; for a named field, the field's winner
    /// and the floor (a write below the floor loses every field).
    /// </summary>
    public static OracleOutcome Outcome(MergePolicy policy, IReadOnlyCollection<RecordWrite> before, RecordWrite write)
    {
        var was = State(policy, before);
        var after = State(policy, [.. before, write]);
        var clock = ClockOf(write);

        var floorBefore = Greatest(policy, before.Where(w => w.Op != WriteOp.Patch)) is { } fw ? ClockOf(fw) : (Clock?)null;
        var floorAfter = write.Op != WriteOp.Patch && (floorBefore is null || Compare(policy, clock, floorBefore.Value) > 0)
            ? clock : floorBefore;
        var won = write.Op != WriteOp.Patch && (floorBefore is null || Compare(policy, clock, floorBefore.Value) > 0);

        var stale = new List<string>();
        foreach (var (name, _) in write.Fields)
        {
            var rivals = before.Where(w => w.Fields.Any(f => f.Key == name)).Select(ClockOf).ToList();
            var beatsRivals = rivals.All(r => Compare(policy, clock, r) > 0);
            var notBelowFloor = floorAfter is null || Compare(policy, clock, floorAfter.Value) >= 0;
            if (beatsRivals && notBelowFloor) won = true;
            else stale.Add(name);
        }

        // "applied: the merged data changed (created, updated or deleted)": data and the deleted flag, not clocks.
        var changed = !was.Exists || was.Deleted != after.Deleted || !SameData(was.Data, after.Data);
        if (changed && !won) throw new InvalidOperationException("oracle: a write that lost everywhere changed the state");
        var outcome = !won ? "stale" : changed ? "applied" : "unchanged";
        var created = outcome == "applied" && !after.Deleted && (!was.Exists || was.Deleted);
        return new OracleOutcome(outcome, created, stale, after);
    }

    private static RecordWrite? Greatest(MergePolicy policy, IEnumerable<RecordWrite> writes) =>
        writes.Aggregate((RecordWrite?)null, (best, w) => best is null || Compare(policy, ClockOf(w), ClockOf(best)) > 0 ? w : best);

    private static bool SameData(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value);
}
