using RedisSync.Gateway.Contracts;
using RedisSync.Gateway.Merge;
using StackExchange.Redis;

namespace RedisSync.Gateway.Store;

/// <summary>A client's writes to one collection, applied in order; a batch is answered whole or refused whole.</summary>
internal sealed class WriteCall(IReadOnlyList<RecordWrite> writes) : CommitCall<IReadOnlyList<WriteResult>>
{
    public IReadOnlyList<RecordWrite> Writes { get; } = writes;
    public override int Size => Writes.Count;
}

/// <summary>Record states from a peer site or a repair, joined in (or, for damaged records, put in place).</summary>
internal sealed class StateCall(IReadOnlyList<IncomingState> states, IReadOnlyList<KeyValuePair<string, string>> cursors)
    : CommitCall<IReadOnlyList<StateOutcome>>
{
    public IReadOnlyList<IncomingState> States { get; } = states;

    /// <summary>Replication cursors (peer site → its seq) advanced in the same commit as these states.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Cursors { get; } = cursors;

    public override int Size => Math.Max(1, States.Count);
}

/// <summary>A record state to bring into the store.</summary>
/// <param name="Replace">Put <see cref="State"/> in place instead of joining it: for a record whose stored value is
/// known to be damaged (CONTRACT §10), with a revision above any this site handed out (<see cref="MinRevision"/>).</param>
public sealed record IncomingState(string Id, RecordState State, bool Replace = false, long MinRevision = 0);

/// <summary>What an incoming state did.</summary>
public enum StateOutcome
{
    /// <summary>The data changed: a change event went out.</summary>
    Applied,
    /// <summary>Only clocks, removal markers or sites moved: logged for peers, no event.</summary>
    StateOnly,
    /// <summary>Nothing changed at all (an echo): nothing was written.</summary>
    Unchanged,
}

/// <summary>
/// One group commit of one collection: read the records the calls touch (one round trip), merge every call in
/// order in memory (<see cref="RecordMerge"/>), then write everything with commit.lua (one round trip) if nobody
/// committed those records meanwhile; otherwise merge again from what the script returned.
/// </summary>
internal sealed class CommitGroup(IDatabase db, string collection, CommitSettings settings, RecordCache cache, UnseenRecordGuess unseen,
    List<CommitCall> calls)
{
    private readonly string _collection = collection;
    private readonly MergePolicy _policy = settings.Policy;
    private readonly string _site = settings.Site;
    private readonly int _maxFields = settings.MaxFields;
    private readonly int _changeLogMaxLength = settings.ChangeLogMaxLength;
    private readonly List<CommitCall> _calls = calls;
    private readonly RecordCache _cache = cache;

    internal static readonly StoredScript CommitScript = StoredScript.FromResource("commit.lua");
    internal static readonly StoredScript ReadScript = StoredScript.FromResource("read.lua");

    /// <summary>Attempts before a group gives up under contention from other instances (then: 503, retry).</summary>
    private const int MaxAttempts = 100;

    private readonly Dictionary<string, StoredRecord> _stored = new(StringComparer.Ordinal);
    // Records read from Redis by this group (not from the cache): the merge saw them as they are, no check needed.
    private readonly HashSet<string> _fresh = new(StringComparer.Ordinal);
    // Records neither cached nor read, taken as absent (UnseenRecordGuess); the commit checks that they are.
    private HashSet<string>? _assumed; // most commits have none: created on first use
    private long _nowMs;

    /// <summary>Records created by this commit (for the collections set) and entries published.</summary>
    public int Created { get; private set; }

    public async Task RunAsync()
    {
        await ReadAsync();
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var plan = new Plan(this);
            foreach (var call in _calls) plan.Apply(call);
            if (!plan.HasWrites)
            {
                await AwaitReplicasAsync();
                plan.Complete([]);
                return;
            }
            var raw = (RedisResult[])(await CommitScript.RunAsync(db, plan.Keys(), plan.Args()))!;
            if ((string)raw[0]! == "ok")
            {
                var seqs = new string[raw.Length - 1];
                for (var i = 1; i < raw.Length; i++) seqs[i - 1] = (string)raw[i]!;
                Created = plan.CreatedCount;
                if (_assumed is { Count: > 0 }) unseen.Absent(_assumed.Count);
                await AwaitReplicasAsync();
                plan.Complete(seqs);
                return;
            }
            for (var i = 1; i + 1 < raw.Length; i += 2)
            {
                var id = plan.Checked[(int)raw[i] - 1].Id;
                var stored = raw[i + 1].IsNull ? StoredRecord.Absent : RecordCodec.DecodeStored((byte[])raw[i + 1]!);
                if (_assumed?.Remove(id) == true) unseen.Present();
                _stored[id] = stored;
                _fresh.Add(id);
                _cache.Set(_collection, id, stored);
            }
        }
        throw new CommitContentionException(_collection);
    }

    /// <summary>
    /// With Redis:AckReplicas, waits until that many replicas have everything this instance wrote to the collection's
    /// shard (WAIT on the same connection as the writes: StackExchange.Redis keeps one per node). Also when this group
    /// wrote nothing: its answer may report a state an earlier, unconfirmed write of this instance produced (a retry
    /// after a 503), and that must not be answered 2xx before the replicas have it either.
    /// </summary>
    private async Task AwaitReplicasAsync()
    {
        if (settings.AckReplicas == 0) return;
        var server = db.Multiplexer.GetServer(RedisKeys.Meta(_collection));
        var acknowledged = (long)await server.ExecuteAsync("WAIT", settings.AckReplicas, (long)settings.AckTimeout.TotalMilliseconds);
        if (acknowledged < settings.AckReplicas) throw new ReplicaAckException(acknowledged, settings.AckReplicas, settings.AckTimeout);
    }

    // What the calls touch: from the cache when this instance holds it (the commit checks it is still current), else
    // read, in one round trip (with the shard's clock when Redis must stamp a write), or, while unseen records of this
    // collection are usually new ones and no clock is needed, taken as absent without a read (the commit checks that).
    private async Task ReadAsync()
    {
        var ids = new List<string>();
        var needTime = false;
        void Want(string id)
        {
            if (_stored.ContainsKey(id)) return;
            if (_cache.TryGet(_collection, id, out var cached)) _stored[id] = cached;
            else
            {
                _stored[id] = StoredRecord.Absent;
                ids.Add(id);
            }
        }
        foreach (var call in _calls)
        {
            switch (call)
            {
                case WriteCall w:
                    foreach (var write in w.Writes)
                    {
                        Want(write.Id);
                        needTime |= write.TimestampMs is null;
                    }
                    break;
                case StateCall s:
                    foreach (var state in s.States) Want(state.Id);
                    break;
            }
        }
        if (ids.Count == 0 && !needTime) return;
        if (!needTime && unseen.AssumeAbsent)
        {
            _assumed = new HashSet<string>(ids, StringComparer.Ordinal);
            return;
        }
        var keys = ids.Select(id => RedisKeys.Record(_collection, id)).ToArray();
        RedisValue[] values;
        if (needTime)
        {
            // The meta key only routes the script to the collection's shard, whose clock stamps the writes.
            var raw = (RedisResult[])(await ReadScript.RunAsync(db, [RedisKeys.Meta(_collection), .. keys], []))!;
            _nowMs = (long)raw[0] * 1000 + (long)raw[1] / 1000;
            values = raw.Skip(2).Select(r => (RedisValue)r).ToArray();
        }
        else values = await db.StringGetAsync(keys);
        for (var i = 0; i < ids.Count; i++)
        {
            if (values[i].IsNull) unseen.Absent(); else unseen.Present();
            var stored = values[i].IsNull ? StoredRecord.Absent : RecordCodec.DecodeStored((byte[])values[i]!);
            _stored[ids[i]] = stored;
            _fresh.Add(ids[i]);
            _cache.Set(_collection, ids[i], stored);
        }
    }

    /// <summary>A record while the group is merged: what was read, and where the calls so far left it.</summary>
    private sealed class Work(string id, StoredRecord stored)
    {
        public string Id { get; } = id;
        public StoredRecord Stored { get; } = stored;
        public RecordState State = stored.State;
        public long Revision = stored.Revision;
        public long Stamp = stored.LastStamp;
        public bool Existed = stored.Exists;
        public int SeqEntry = -1;     // index of its latest applied entry in this group
        public bool Dirty;
        private (RecordState State, byte[] Bytes)? _encoded;

        /// <summary>
        /// <paramref name="state"/>'s bytes, encoded once: the change-log entry and the record's value carry the same
        /// state, and states are immutable, so the last encoding is reused while it is of the same instance.
        /// </summary>
        public byte[] Encode(RecordState state)
        {
            if (_encoded is not { } e || !ReferenceEquals(e.State, state)) _encoded = e = (state, RecordCodec.EncodeState(state));
            return e.Bytes;
        }

        public (RecordState, long, long, bool, int, bool) Save() => (State, Revision, Stamp, Existed, SeqEntry, Dirty);
        public void Restore((RecordState, long, long, bool, int, bool) s) => (State, Revision, Stamp, Existed, SeqEntry, Dirty) = s;
    }

    /// <summary>What one write answers, with its seq resolved once the commit has run.</summary>
    private readonly record struct PendingResult(string Id, WriteOutcome Outcome, bool Created, long Revision, int SeqEntry,
        string StoredSeq, IReadOnlyList<string> Stale, RecordState State);

    private sealed class Plan(CommitGroup group)
    {
        private readonly Dictionary<string, Work> _work = new(StringComparer.Ordinal);
        private readonly List<(Work Work, byte[] Blob, EntryKind Kind)> _entries = [];
        private readonly List<object> _answers = []; // per call: PendingResult[] or StateOutcome[] or an exception

        /// <summary>The records the commit checks, in the script's order: those it writes first, then those it only checks.</summary>
        public List<Work> Checked { get; } = [];

        /// <summary>
        /// Whether the commit script must run: a record changed, a replication cursor moves, or an answer rests on a
        /// cached record that must be confirmed current.
        /// </summary>
        public bool HasWrites => Cursors.Count > 0 || _work.Values.Any(w => w.Dirty || !group._fresh.Contains(w.Id));
        public List<KeyValuePair<string, string>> Cursors { get; } = [];
        public int CreatedCount { get; private set; }

        private Work WorkOf(string id)
        {
            if (!_work.TryGetValue(id, out var w)) _work[id] = w = new Work(id, group._stored[id]);
            return w;
        }

        public void Apply(CommitCall call)
        {
            switch (call)
            {
                case WriteCall w: _answers.Add(ApplyWrites(w.Writes)); break;
                case StateCall s:
                    _answers.Add(ApplyStates(s.States));
                    Cursors.AddRange(s.Cursors);
                    break;
            }
        }

        private object ApplyWrites(IReadOnlyList<RecordWrite> writes)
        {
            // A batch that fails half way (a record would hold too many fields) must leave no trace in the group.
            var undo = new List<(Work, (RecordState, long, long, bool, int, bool))>();
            var entryCount = _entries.Count;
            var results = new PendingResult[writes.Count];
            for (var i = 0; i < writes.Count; i++)
            {
                var write = writes[i];
                var w = WorkOf(write.Id);
                undo.Add((w, w.Save()));
                var stamped = write.TimestampMs is null;
                // Server stamps strictly increase per record, so two quick writes from one source never share a clock.
                var ts = write.TimestampMs ?? Math.Max(group._nowMs, w.Stamp + 1);
                var merge = RecordMerge.ApplyWrite(w.State, w.Existed, write, new Clock(write.Version, ts, write.Source, group._site), group._policy);
                if (merge.Outcome is WriteOutcome.Applied or WriteOutcome.Unchanged)
                {
                    var count = merge.After.VisibleCount;
                    if (count > group._maxFields)
                    {
                        foreach (var (work, saved) in Enumerable.Reverse(undo)) work.Restore(saved);
                        _entries.RemoveRange(entryCount, _entries.Count - entryCount);
                        return new RecordTooLargeException(i, count, group._maxFields);
                    }
                    // An exact retry (nothing at all moves, not even a clock) writes nothing.
                    if (merge.Outcome == WriteOutcome.Applied || !merge.After.SameAs(w.State) || stamped)
                    {
                        if (merge.Outcome == WriteOutcome.Applied)
                        {
                            w.Revision++;
                            AddEntry(w, merge.After.Deleted ? EntryKind.Delete : EntryKind.Upsert, write.Source,
                                RecordMerge.ChangedFields(w.State, merge.After), merge.After);
                        }
                        else if (!merge.After.SameAs(w.State)) AddEntry(w, EntryKind.State, write.Source, [], merge.After);
                        if (stamped) w.Stamp = ts;
                        w.State = merge.After;
                        w.Existed = true;
                        w.Dirty = true;
                    }
                }
                results[i] = new PendingResult(write.Id, merge.Outcome, merge.Created, w.Revision, w.SeqEntry, w.Stored.Seq,
                    merge.Outcome == WriteOutcome.Conflict ? [] : merge.StaleFields, w.State);
            }
            return results;
        }

        private StateOutcome[] ApplyStates(IReadOnlyList<IncomingState> states)
        {
            var outcomes = new StateOutcome[states.Count];
            for (var i = 0; i < states.Count; i++)
            {
                var incoming = states[i];
                var w = WorkOf(incoming.Id);
                var after = incoming.Replace
                    ? incoming.State
                    : RecordMerge.Join(w.State, incoming.State, group._policy, refuseClashes: false, out _);
                if (w.Existed && after.SameAs(w.State) && !incoming.Replace)
                {
                    outcomes[i] = StateOutcome.Unchanged;
                    continue;
                }
                var source = after.RecordClock(group._policy)?.Source ?? "";
                if (!w.Existed || !after.SameDataAs(w.State) || incoming.Replace)
                {
                    var changed = RecordMerge.ChangedFields(w.State, after);
                    w.Revision = Math.Max(w.Revision, incoming.MinRevision - 1) + 1;
                    AddEntry(w, after.Deleted ? EntryKind.Delete : EntryKind.Upsert, source, changed, after);
                    outcomes[i] = StateOutcome.Applied;
                }
                else
                {
                    AddEntry(w, EntryKind.State, source, [], after);
                    outcomes[i] = StateOutcome.StateOnly;
                }
                w.State = after;
                w.Existed = true;
                w.Dirty = true;
            }
            return outcomes;
        }

        private void AddEntry(Work w, EntryKind kind, string source, IReadOnlyList<string> changed, RecordState state)
        {
            _entries.Add((w, RecordCodec.EncodeEntry(w.Id, kind, w.Revision, source, changed, w.Encode(state)), kind));
            if (kind != EntryKind.State) w.SeqEntry = _entries.Count - 1;
        }

        private List<RedisKey>? _keys;
        private List<RedisValue>? _args;

        public RedisKey[] Keys()
        {
            Build();
            return [.. _keys!];
        }

        public RedisValue[] Args()
        {
            Build();
            return [.. _args!];
        }

        private void Build()
        {
            if (_keys is not null) return;
            var c = group._collection;
            _keys = [RedisKeys.Meta(c), RedisKeys.Log(c), RedisKeys.Ids(c), RedisKeys.Cursors(c), RedisKeys.DigestIndex(c)];
            Checked.AddRange(_work.Values.Where(w => w.Dirty));
            var written = Checked.Count;
            Checked.AddRange(_work.Values.Where(w => !w.Dirty && !group._fresh.Contains(w.Id)));
            _args = [group._changeLogMaxLength, RedisKeys.Changes(c).ToString(), Checked.Count, written, _entries.Count, Cursors.Count];
            foreach (var (peer, seq) in Cursors) { _args.Add(peer); _args.Add(seq); }
            foreach (var w in Checked)
            {
                _keys.Add(RedisKeys.Record(c, w.Id));
                _args.Add(w.Stored.Commit);
            }
            foreach (var w in Checked.Take(written))
            {
                var state = w.Encode(w.State);
                bool liveBefore = w.Stored.Exists && !w.Stored.State.Deleted, liveAfter = !w.State.Deleted;
                if (!w.Stored.Exists) CreatedCount++;
                _args.Add(RecordCodec.Head(w.Stored.Commit + 1, w.Revision, w.Stamp));
                _args.Add(w.SeqEntry + 1);
                _args.Add(w.Stored.Seq);
                _args.Add(state);
                _args.Add(RecordCodec.StateHash(state));
                _args.Add(liveBefore == liveAfter ? 0 : liveAfter ? 1 : -1);
                _args.Add(w.Id);
            }
            foreach (var (_, blob, _) in _entries) _args.Add(blob);
        }

        /// <summary>Answers every call; <paramref name="seqs"/> are the commit's entry seqs in order.</summary>
        public void Complete(string[] seqs)
        {
            var c = group._collection;
            // What was written is what this instance now knows of those records: its next writes need no read.
            foreach (var w in _work.Values.Where(w => w.Dirty))
                group._cache.Set(c, w.Id, new StoredRecord(w.Stored.Commit + 1, w.Revision, w.Stamp, w.SeqEntry >= 0 ? seqs[w.SeqEntry] : w.Stored.Seq, w.State));
            for (var k = 0; k < group._calls.Count; k++)
            {
                switch (group._calls[k], _answers[k])
                {
                    case (WriteCall call, Exception e):
                        call.Fail(e);
                        break;
                    case (WriteCall call, PendingResult[] pending):
                        var results = new WriteResult[pending.Length];
                        for (var i = 0; i < pending.Length; i++)
                        {
                            var p = pending[i];
                            var seq = p.SeqEntry >= 0 ? seqs[p.SeqEntry] : p.StoredSeq;
                            results[i] = new WriteResult(c, p.Id, Outcome(p.Outcome), p.Created, p.Revision, seq.Length == 0 ? null : seq,
                                p.Stale, RecordViews.Record(c, p.Id, p.Revision, seq, p.State, group._policy));
                        }
                        call.Succeed(results);
                        break;
                    case (StateCall call, StateOutcome[] outcomes):
                        call.Succeed(outcomes);
                        break;
                }
            }
        }

        private static string Outcome(WriteOutcome o) => o switch
        {
            WriteOutcome.Applied => "applied",
            WriteOutcome.Unchanged => "unchanged",
            WriteOutcome.Stale => "stale",
            _ => "conflict",
        };
    }
}

/// <summary>How one collection's group commits are made.</summary>
internal sealed record CommitSettings(MergePolicy Policy, string Site, int MaxFields, int ChangeLogMaxLength, int AckReplicas, TimeSpan AckTimeout);

/// <summary>
/// Fewer replicas than Redis:AckReplicas confirmed within Redis:AckTimeout: the write is on the primary, and may or may
/// not survive a failover. Answered 503; retrying the same write is safe.
/// </summary>
public sealed class ReplicaAckException(long acknowledged, int required, TimeSpan timeout)
    : Exception($"{acknowledged} of {required} required replica(s) confirmed the write within {timeout.TotalMilliseconds:0} ms.");

/// <summary>Other instances kept committing the same records; nothing was written by this call. Retry.</summary>
public sealed class CommitContentionException(string collection)
    : Exception($"Records of '{collection}' kept changing under concurrent commits; nothing was written.");
