using System.Globalization;
using System.Text;
using RedisSync.Gateway.Contracts;
using RedisSync.Gateway.Merge;
using RedisSync.Gateway.Store;
using RedisSync.Tests.Fixtures;

namespace RedisSync.Tests.Merge;

/// <summary>
/// The central property of CONTRACT §2 against the merge and store on a real Redis: for thousands of random sets of writes
/// to one record, applied in random orders, the stored merged state (data, deleted, record clock, field clocks)
/// equals <see cref="MergeOracle"/>'s set-based definition, and every write's outcome, created flag, stale fields
/// and revision follow the outcome table. Domains are tiny so clocks tie on version and timestamp all the time.
/// Set MERGE_SEED to replay a failing run; the seed is in every failure message.
/// </summary>
public sealed class MergePropertyTests(MergeStoreFixture fixture) : IClassFixture<MergeStoreFixture>
{
    private const int Cases = 2000;
    private const int CasesPerCollection = 250;
    private const int MaxReported = 5;

    private static readonly string[] Sources = ["a-b", "a.b", "ab"]; // ordinal '-' < '.' < 'b'; culture order differs
    private static readonly string[] FieldNames = ["a", "b", "c"];
    private static readonly string[] Values = ["1", "2", "\"x\"", "null", "{}", "[]", "3.141592653589793"];
    private static readonly long[] Versions = [0, 1, 2];

    [Fact]
    public Task VersionPolicyMergedStateOfRandomWriteSetsEqualsTheOracleInEveryArrivalOrder() =>
        RunAsync(MergePolicy.Version, timestamps: [0, 1000, 2000]);

    [Fact]
    public Task TimestampPolicyMergedStateOfRandomWriteSetsEqualsTheOracleInEveryArrivalOrder() =>
        RunAsync(MergePolicy.Timestamp, timestamps: [1000, 2000, 3000]);

    /// <summary>
    /// Each case is applied three times, each to its own record, in its own random order and split into script
    /// runs three ways: one write per run (state always re-read from the hash), all writes in one run (state kept
    /// in the script), and random segments.
    /// </summary>
    private async Task RunAsync(MergePolicy policy, long[] timestamps)
    {
        var seed = Environment.GetEnvironmentVariable("MERGE_SEED") is { Length: > 0 } s
            ? int.Parse(s, CultureInfo.InvariantCulture)
            : Random.Shared.Next();
        var rng = new Random(seed);
        var failures = new List<string>();
        var checkedWrites = 0;

        for (var first = 0; first < Cases; first += CasesPerCollection)
        {
            var collection = Unique.Collection("prop");
            var runs = new List<RecordRun>();
            for (var n = first; n < Math.Min(Cases, first + CasesPerCollection); n++)
            {
                var set = Generate(rng, policy, timestamps);
                for (var mode = 0; mode < 3; mode++)
                {
                    var id = $"p{n}-{mode}";
                    var order = set.OrderBy(_ => rng.Next()).Select(w => w with { Id = id }).ToList();
                    runs.Add(new RecordRun(n, mode, id, order, Segments(rng, order.Count, mode)));
                }
            }

            // Round r sends segment r of every record in one WriteAsync call (one script run).
            var rounds = runs.Max(r => r.Segments.Count);
            for (var round = 0; round < rounds; round++)
            {
                var batch = new List<(RecordRun Run, int Index)>();
                foreach (var run in runs.Where(r => round < r.Segments.Count))
                    for (var i = run.Segments[round].Start; i < run.Segments[round].End; i++)
                        batch.Add((run, i));
                var results = await fixture.Store(policy).WriteAsync(collection, batch.Select(b => b.Run.Order[b.Index]).ToList());
                Assert.Equal(batch.Count, results.Count);
                for (var i = 0; i < batch.Count; i++) batch[i].Run.Results[batch[i].Index] = results[i];
            }

            var views = await Task.WhenAll(runs.Select(r => fixture.Store(policy).GetAsync(collection, r.Id, includeClocks: true)));
            var log = await fixture.Store(policy).ReadChangesAsync(collection, after: null, 1_000_000);
            var eventsById = Writes.Events(collection, log, policy).GroupBy(e => e.Id).ToDictionary(g => g.Key, g => g.ToList());

            for (var i = 0; i < runs.Count; i++)
            {
                var problems = Check(policy, runs[i], views[i], eventsById.GetValueOrDefault(runs[i].Id) ?? []);
                checkedWrites += runs[i].Order.Count;
                if (problems.Count > 0 && failures.Count < MaxReported)
                    failures.Add(Describe(runs[i], problems));
            }
        }

        Assert.True(failures.Count == 0,
            $"MERGE_SEED={seed} ({policy} policy): merged state differs from the CONTRACT §2 oracle:\n\n" + string.Join("\n\n", failures));
        Assert.True(checkedWrites > Cases * 3, $"MERGE_SEED={seed}: only {checkedWrites} writes checked");
    }

    private static List<string> Check(MergePolicy policy, RecordRun run, RecordView? view, List<ChangeEvent> events)
    {
        var problems = new List<string>();
        var prefix = new List<RecordWrite>();
        var applied = 0;
        for (var i = 0; i < run.Order.Count; i++)
        {
            var write = run.Order[i];
            var result = run.Results[i]!;
            var expected = MergeOracle.Outcome(policy, prefix, write);
            prefix.Add(write);
            if (expected.Outcome == "applied") applied++;

            var want = $"{expected.Outcome} created={expected.Created} rev={applied} stale=[{string.Join(",", expected.StaleFields.Order(StringComparer.Ordinal))}] {ShowWithoutFieldClocks(expected.After)}";
            var got = $"{result.Outcome} created={result.Created} rev={result.Revision} stale=[{string.Join(",", result.StaleFields.Order(StringComparer.Ordinal))}] {Show(result.Record, withFieldClocks: false)}";
            if (want != got) problems.Add($"write #{i + 1} result: expected {want}\n      got      {got}");
        }

        var final = MergeOracle.State(policy, run.Order);
        if (view is null) problems.Add("record missing from Redis");
        else
        {
            if (Show(final) != Show(view, withFieldClocks: true))
                problems.Add($"stored state: expected {Show(final)}\n      got          {Show(view, withFieldClocks: true)}");
            if (view.Revision != applied) problems.Add($"revision {view.Revision}, expected {applied} applied writes");
            // The change log holds one entry per applied write; the newest carries the record's seq and merged data.
            if (events.Count != applied) problems.Add($"{events.Count} change-log entries, expected {applied}");
            else if (events.Count > 0)
            {
                var last = events[^1];
                if (last.Seq != view.Seq || last.Revision != view.Revision || last.Record.Deleted != view.Deleted
                    || ShowData(last.Record.Data) != ShowData(view.Data))
                    problems.Add($"last change-log entry {last.Seq} rev {last.Revision} {Show(last.Record, false)} does not match the record {view.Seq} rev {view.Revision}");
            }
        }
        return problems;
    }

    private static List<RecordWrite> Generate(Random rng, MergePolicy policy, long[] timestamps)
    {
        var clocks = (from v in Versions from t in timestamps from s in Sources select new Clock(v, t, s))
            .OrderBy(_ => rng.Next()).Take(rng.Next(1, 9)).ToList(); // distinct clocks within a set
        var writes = new List<RecordWrite>();
        foreach (var clock in clocks)
        {
            var roll = rng.NextDouble();
            var op = roll < 0.35 ? WriteOp.Put : roll < 0.8 ? WriteOp.Patch : WriteOp.Delete;
            var count = op switch { WriteOp.Put => rng.Next(0, 4), WriteOp.Patch => rng.Next(1, 4), _ => 0 };
            var fields = FieldNames.OrderBy(_ => rng.Next()).Take(count)
                .Select(name => KeyValuePair.Create(name, op == WriteOp.Patch && rng.NextDouble() < 0.3 ? "null" : Values[rng.Next(Values.Length)]))
                .ToList();
            writes.Add(new RecordWrite(op, "", clock.Version, clock.TimestampMs, clock.Source, fields));
        }
        return writes;
    }

    /// <summary>How a record's ordered writes are cut into script runs: 0 one each, 1 all at once, 2 at random.</summary>
    private static List<(int Start, int End)> Segments(Random rng, int count, int mode)
    {
        var cuts = mode switch
        {
            0 => Enumerable.Range(1, count - 1).ToList(),
            1 => [],
            _ => Enumerable.Range(1, count - 1).Where(_ => rng.Next(2) == 0).ToList(),
        };
        var bounds = cuts.Prepend(0).Append(count).ToList();
        return bounds.Zip(bounds.Skip(1), (a, b) => (a, b)).ToList();
    }

    private sealed class RecordRun(int caseNumber, int mode, string id, List<RecordWrite> order, List<(int Start, int End)> segments)
    {
        public int Case { get; } = caseNumber;
        public int Mode { get; } = mode;
        public string Id { get; } = id;
        public List<RecordWrite> Order { get; } = order;
        public List<(int Start, int End)> Segments { get; } = segments;
        public WriteResult?[] Results { get; } = new WriteResult?[order.Count];
    }

    // ---------------------------------------------------------------- one text form for expected and actual

    private static string Show(OracleState s) =>
        $"deleted={s.Deleted} clock={ShowClock(s.Clock)} data={{{string.Join(", ", s.Data.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key}={f.Value}"))}}} " +
        $"fields={{{string.Join(", ", s.FieldClocks.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key}@{ShowClock(f.Value)}"))}}}";

    private static string ShowWithoutFieldClocks(OracleState s) => Show(s with { FieldClocks = new Dictionary<string, Clock>() });

    private static string Show(RecordView v, bool withFieldClocks) =>
        $"deleted={v.Deleted} clock={ShowClock(v.Clock)} data={ShowData(v.Data)} " +
        $"fields={{{(withFieldClocks ? string.Join(", ", (v.Fields ?? new Dictionary<string, ClockView>()).OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key}@{ShowClock(f.Value)}")) : "")}}}";

    private static string ShowData(RecordData data) =>
        $"{{{string.Join(", ", data.Fields.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key}={f.Value}"))}}}";

    private static string ShowClock(Clock? c) => c is { } x ? ShowClock(ClockView.From(x)) : "none";

    private static string ShowClock(ClockView? c) => c is null ? "none" : $"({c.Version},{c.Timestamp},{c.Source})";

    private static string ShowWrite(RecordWrite w) =>
        $"{w.Op.ToString().ToLowerInvariant()} ({w.Version},{w.TimestampMs},{w.Source})" +
        (w.Op == WriteOp.Delete ? "" : $" {{{string.Join(", ", w.Fields.Select(f => $"{f.Key}={f.Value}"))}}}");

    private static string Describe(RecordRun run, List<string> problems)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"case {run.Case}, record {run.Id}, runs {string.Join("|", run.Segments.Select(s => s.End - s.Start))}, arrival order:\n");
        for (var i = 0; i < run.Order.Count; i++)
            text.Append(CultureInfo.InvariantCulture, $"  #{i + 1} {ShowWrite(run.Order[i])} -> {run.Results[i]?.Outcome}\n");
        foreach (var p in problems) text.Append("  ").Append(p).Append('\n');
        return text.ToString();
    }
}
