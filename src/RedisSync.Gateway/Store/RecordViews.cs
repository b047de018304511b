using RedisSync.Gateway.Contracts;
using RedisSync.Gateway.Merge;

namespace RedisSync.Gateway.Store;

/// <summary>The contract's JSON shapes (CONTRACT §3) made from what the store holds.</summary>
public static class RecordViews
{
    public static RecordView Record(string collection, string id, long revision, string seq, RecordState state, MergePolicy policy, bool includeClocks = false)
    {
        var data = new KeyValuePair<string, string>[state.VisibleCount];
        Dictionary<string, ClockView>? clocks = includeClocks ? new(StringComparer.Ordinal) : null;
        var n = 0;
        foreach (var f in state.Fields)
        {
            if (!f.Visible) continue;
            data[n++] = KeyValuePair.Create(f.Name, f.Value!);
            clocks?.Add(f.Name, ClockView.From(f.Clock));
        }
        var clock = state.RecordClock(policy);
        // A state's fields are sorted by name already.
        return new RecordView(collection, id, revision, seq.Length == 0 ? null : seq, state.Deleted, RecordData.FromSorted(data),
            clock is { } c ? ClockView.From(c) : null,
            seq.Length == 0 ? null : Timestamps.Format(Seq.Milliseconds(seq))) { Fields = clocks };
    }

    public static RecordView Record(string collection, string id, StoredRecord stored, MergePolicy policy, bool includeClocks = false) =>
        Record(collection, id, stored.Revision, stored.Seq, stored.State, policy, includeClocks);

    /// <summary>A change event; for <see cref="EntryKind.State"/> entries too (replication reads them).</summary>
    public static ChangeEvent Change(string collection, ChangeEntry entry, MergePolicy policy)
    {
        var record = Record(collection, entry.Id, entry.Revision, entry.Seq, entry.State, policy);
        var site = entry.State.RecordClock(policy)?.Site;
        return new ChangeEvent(collection, entry.Seq, entry.Id,
            entry.Kind switch { EntryKind.Upsert => "upsert", EntryKind.Delete => "delete", _ => "state" },
            entry.Revision, entry.Source, string.IsNullOrEmpty(site) ? null : site, entry.ChangedFields, record);
    }
}
