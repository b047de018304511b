using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using RedisSync.Gateway.Contracts;
using RedisSync.Gateway.Merge;
using RedisSync.Tests.Fixtures;
using RedisSync.Tests.Merge;

namespace RedisSync.Tests.Convergence;

/// <summary>
/// The central property of CONTRACT §2 through the real HTTP pipeline: the merged state depends only on the set
/// of writes. Random scenarios of puts, patches and deletes from three sources with clashing clocks are applied
/// in several random orders, each order to its own collection, through the batch endpoint (one or several calls)
/// and through single PUT/PATCH/DELETE requests; the records read back must be byte-identical in data, deleted,
/// clock and field clocks, and equal to the contract's set-based definition (<see cref="MergeOracle"/>).
/// Set CONVERGENCE_SEED to replay a failing run; the seed is in every failure message.
/// </summary>
public sealed class ConvergenceTests(OpenGatewayFactory versionGateway, OpenTimestampGatewayFactory timestampGateway)
    : IClassFixture<OpenGatewayFactory>, IClassFixture<OpenTimestampGatewayFactory>
{
    private const int Orders = 3;
    private const int MaxReported = 5;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    private static readonly string[] Sources = ["a-b", "a.b", "ab"];
    private static readonly string[] FieldNames = ["a", "b", "c"];
    private static readonly string[] Values =
        ["1", "2", "\"x\"", "null", "{}", "[]", "3.141592653589793", "{\"n\":[1,2.50]}", "\"ünï 😀 %s\""];
    private static readonly long Base = DateTimeOffset.Parse("2025-03-01T10:00:00Z", CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();

    [Fact]
    public Task VersionPolicyScenariosGiveIdenticalRecordsInEveryArrivalOrder() =>
        ConvergeAsync(versionGateway, MergePolicy.Version, scenarios: 200);

    [Fact]
    public Task TimestampPolicyScenariosGiveIdenticalRecordsInEveryArrivalOrder() =>
        ConvergeAsync(timestampGateway, MergePolicy.Timestamp, scenarios: 100);

    // The record clock is left out on purpose: a write that only moves clocks is `unchanged`, which the
    // contract gives no change event (README, "Choices"), so the log's last clock may be older than GET's.
    [Fact]
    public async Task ReplayingTheChangeLogGivesEveryRecordsDataDeletedFlagRevisionAndSeq()
    {
        await ReplayAsync(versionGateway, MergePolicy.Version, scenarios: 60);
        await ReplayAsync(timestampGateway, MergePolicy.Timestamp, scenarios: 40);
    }

    private static async Task ConvergeAsync(GatewayFactory gateway, MergePolicy policy, int scenarios)
    {
        var seed = Seed();
        var rng = new Random(seed);
        var plans = Enumerable.Range(0, scenarios).Select(n => Scenario.Generate(rng, n, policy)).ToList();
        var orders = plans.Select(s => Enumerable.Range(0, Orders).Select(k => Arrival.Random(rng, s, mode: k)).ToList()).ToList();
        var failures = new List<string>();
        using var client = Client(gateway);

        await Parallel.ForEachAsync(Enumerable.Range(0, scenarios), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (n, _) =>
        {
            var scenario = plans[n];
            var states = new List<Dictionary<string, string>>();
            var problems = new List<string>();
            foreach (var arrival in orders[n])
            {
                var c = Unique.Collection("conv");
                problems.AddRange(await ApplyAsync(client, c, arrival));
                var state = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var id in scenario.Ids)
                {
                    var (status, root) = await GetAsync(client, c, id);
                    state[id] = MergedState(status, root);
                    if (OracleMismatch(policy, scenario, id, status, root) is { } mismatch)
                        problems.Add($"{arrival.Describe()}: {id} {mismatch}");
                }
                states.Add(state);
            }
            foreach (var id in scenario.Ids)
                for (var k = 1; k < states.Count; k++)
                    if (states[k][id] != states[0][id])
                        problems.Add($"{id} differs between arrival orders 1 and {k + 1}:\n      {states[0][id]}\n      {states[k][id]}");
            if (problems.Count > 0)
                lock (failures) if (failures.Count < MaxReported) failures.Add(Describe(scenario, orders[n], problems));
        });

        Assert.True(failures.Count == 0, $"CONVERGENCE_SEED={seed} ({policy} policy):\n\n" + string.Join("\n\n", failures));
    }

    private static async Task ReplayAsync(GatewayFactory gateway, MergePolicy policy, int scenarios)
    {
        var seed = Seed();
        var rng = new Random(seed);
        var plans = Enumerable.Range(0, scenarios).Select(n => Scenario.Generate(rng, n, policy, maxRecords: 4)).ToList();
        var arrivals = plans.Select(s => Arrival.Random(rng, s, mode: rng.Next(Orders))).ToList();
        var failures = new List<string>();
        using var client = Client(gateway);

        await Parallel.ForEachAsync(Enumerable.Range(0, scenarios), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (n, _) =>
        {
            var scenario = plans[n];
            var c = Unique.Collection("replay");
            var problems = await ApplyAsync(client, c, arrivals[n]);

            // Replay from the oldest entry, a few per page so `next`/`hasMore` paging is exercised.
            var lastEvent = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            string? after = null;
            for (var page = 0; ; page++)
            {
                Assert.True(page < 1000, "the change log never ended");
                var response = await client.GetAsync($"/api/v1/collections/{c}/changes?limit=3" + (after is null ? "" : $"&after={after}"));
                var body = await JsonAsync(response, HttpStatusCode.OK);
                foreach (var e in body.GetProperty("items").EnumerateArray()) lastEvent[e.GetProperty("id").GetString()!] = e;
                after = body.GetProperty("next").GetString();
                if (!body.GetProperty("hasMore").GetBoolean()) break;
            }

            foreach (var id in scenario.Ids)
            {
                var (status, root) = await GetAsync(client, c, id);
                if (!lastEvent.TryGetValue(id, out var e)) { problems.Add($"{id}: no change-log entry"); continue; }
                var record = e.GetProperty("record");
                var replayed = $"deleted={record.GetProperty("deleted").GetRawText()} data={record.GetProperty("data").GetRawText()}";
                var expected = status == HttpStatusCode.OK
                    ? $"deleted={root.GetProperty("deleted").GetRawText()} data={root.GetProperty("data").GetRawText()}"
                    : "deleted=true data={}"; // a deleted record is a 404 carrying deleted: true
                if (replayed != expected)
                    problems.Add($"{id}: replaying the change log gives\n      {replayed}\n    but the record is\n      {expected}");
                if (e.GetProperty("kind").GetString() != (status == HttpStatusCode.OK ? "upsert" : "delete"))
                    problems.Add($"{id}: last change is a {e.GetProperty("kind").GetString()} but GET answers {(int)status}");
                if (e.GetProperty("seq").GetString() != root.GetProperty("seq").GetString()
                    || e.GetProperty("revision").GetInt64() != root.GetProperty("revision").GetInt64())
                    problems.Add($"{id}: last change {e.GetProperty("seq")} rev {e.GetProperty("revision")} but the record is at {root.GetProperty("seq")} rev {root.GetProperty("revision")}");
            }
            if (problems.Count > 0)
                lock (failures) if (failures.Count < MaxReported) failures.Add(Describe(scenario, [arrivals[n]], problems));
        });

        Assert.True(failures.Count == 0, $"CONVERGENCE_SEED={seed} ({policy} policy), change-log replay:\n\n" + string.Join("\n\n", failures));
    }

    // ---------------------------------------------------------------- applying an arrival order

    /// <summary>Sends the writes in the arrival's order, as the arrival says (batches or single requests).</summary>
    private static async Task<List<string>> ApplyAsync(HttpClient client, string c, Arrival arrival)
    {
        var problems = new List<string>();
        if (arrival.Mode == Arrival.Single)
        {
            foreach (var w in arrival.Writes)
            {
                var response = w.Op switch
                {
                    WriteOp.Put => await client.PutAsync($"/api/v1/collections/{c}/records/{w.Id}", Json(w.Body())),
                    WriteOp.Patch => await client.PatchAsync($"/api/v1/collections/{c}/records/{w.Id}", Json(w.Body())),
                    _ => await client.DeleteAsync($"/api/v1/collections/{c}/records/{w.Id}?{w.Query()}"),
                };
                var text = await response.Content.ReadAsStringAsync();
                if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.Created))
                    problems.Add($"{w} answered {(int)response.StatusCode}: {text}");
            }
            return problems;
        }

        foreach (var chunk in arrival.Chunks())
        {
            var body = "{\"records\":[" + string.Join(",", chunk.Select(w => w.BatchItem())) + "]}";
            var results = (await JsonAsync(await client.PostAsync($"/api/v1/collections/{c}/records", Json(body)), HttpStatusCode.OK))
                .GetProperty("results").EnumerateArray().ToList();
            Assert.Equal(chunk.Count, results.Count);
            for (var i = 0; i < chunk.Count; i++)
                if (results[i].GetProperty("outcome").GetString() == "conflict") problems.Add($"{chunk[i]} was a conflict");
        }
        return problems;
    }

    // ---------------------------------------------------------------- reading and comparing

    private static async Task<(HttpStatusCode Status, JsonElement Root)> GetAsync(HttpClient client, string c, string id)
    {
        var response = await client.GetAsync($"/api/v1/collections/{c}/records/{id}?include=clocks");
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.NotFound, $"GET {c}/{id} answered {(int)response.StatusCode}");
        return (response.StatusCode, await JsonAsync(response, response.StatusCode));
    }

    /// <summary>The merged state as the API shows it, byte for byte; never revision, seq or updatedAt (history).</summary>
    private static string MergedState(HttpStatusCode status, JsonElement root) => status == HttpStatusCode.OK
        ? $"200 deleted={root.GetProperty("deleted").GetRawText()} data={root.GetProperty("data").GetRawText()} " +
          $"clock={root.GetProperty("clock").GetRawText()} fields={root.GetProperty("fields").GetRawText()}"
        : $"404 deleted={(root.TryGetProperty("deleted", out var d) ? d.GetRawText() : "absent")}";

    /// <summary>Null when the record read back is what CONTRACT §2 defines for the scenario's writes to it.</summary>
    private static string? OracleMismatch(MergePolicy policy, Scenario scenario, string id, HttpStatusCode status, JsonElement root)
    {
        var expected = MergeOracle.State(policy, scenario.OracleWrites(id));
        if (expected.Deleted)
            return status == HttpStatusCode.NotFound && root.TryGetProperty("deleted", out var d) && d.ValueKind == JsonValueKind.True
                ? null : $"should be deleted (404 with deleted: true) but GET answered {(int)status}";
        if (status != HttpStatusCode.OK) return $"should be live but GET answered {(int)status}";

        static string ShowClock(Clock c) => $"{c.Version}|{(c.TimestampMs == 0 ? "none" : Timestamps.Format(c.TimestampMs))}|{c.Source}";
        static string ShowView(JsonElement c) =>
            $"{c.GetProperty("version").GetInt64()}|{(c.TryGetProperty("timestamp", out var t) ? t.GetString() : "none")}|{c.GetProperty("source").GetString()}";
        var want = $"data={{{string.Join(",", expected.Data.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key}={f.Value}"))}}} " +
                   $"clock={ShowClock(expected.Clock!.Value)} fields={{{string.Join(",", expected.FieldClocks.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key}@{ShowClock(f.Value)}"))}}}";
        var got = $"data={{{string.Join(",", root.GetProperty("data").EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => $"{p.Name}={p.Value.GetRawText()}"))}}} " +
                  $"clock={ShowView(root.GetProperty("clock"))} fields={{{string.Join(",", root.GetProperty("fields").EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => $"{p.Name}@{ShowView(p.Value)}"))}}}";
        return want == got ? null : $"differs from the contract's definition:\n      expected {want}\n      got      {got}";
    }

    // ---------------------------------------------------------------- scenarios

    /// <summary>One write as a client sends it; the timestamp text is one of several equivalent RFC 3339 forms.</summary>
    private sealed record HttpWrite(string Id, WriteOp Op, long Version, bool SendVersion, long TimestampMs, string? TimestampText,
        string Source, IReadOnlyList<(string Name, string Json)> Fields)
    {
        private string DataJson() => "{" + string.Join(",", Fields.Select(f => $"{JsonSerializer.Serialize(f.Name)}:{f.Json}")) + "}";

        private IEnumerable<string> ClockMembers()
        {
            if (SendVersion) yield return $"\"version\":{Version}";
            if (TimestampText is not null) yield return $"\"timestamp\":\"{TimestampText}\"";
            yield return $"\"source\":\"{Source}\"";
        }

        public string Body() => "{" + string.Join(",", ClockMembers()) + $",\"data\":{DataJson()}}}";

        public string BatchItem() =>
            $"{{\"id\":\"{Id}\",\"op\":\"{Op.ToString().ToLowerInvariant()}\"," + string.Join(",", ClockMembers()) +
            (Op == WriteOp.Delete ? "" : $",\"data\":{DataJson()}") + "}";

        public string Query() =>
            string.Join("&", new[]
            {
                SendVersion ? $"version={Version}" : null,
                TimestampText is null ? null : $"timestamp={Uri.EscapeDataString(TimestampText)}",
                $"source={Source}",
            }.Where(p => p is not null));

        /// <summary>The write as the store receives it: values in the gateway's canonical JSON text.</summary>
        public RecordWrite ToRecordWrite() => new(Op, Id, Version, TimestampMs, Source,
            Fields.Select(f => KeyValuePair.Create(f.Name, JsonText.Canonical(JsonDocument.Parse(f.Json).RootElement))).ToList());

        public override string ToString() =>
            $"{Op.ToString().ToLowerInvariant()} {Id} ({Version}{(SendVersion ? "" : " omitted")}, {TimestampText ?? "no timestamp"} = {TimestampMs} ms, {Source})" +
            (Op == WriteOp.Delete ? "" : $" {DataJson()}");
    }

    private sealed record Scenario(int Number, IReadOnlyList<string> Ids, IReadOnlyList<HttpWrite> Writes)
    {
        public List<RecordWrite> OracleWrites(string id) => Writes.Where(w => w.Id == id).Select(w => w.ToRecordWrite()).ToList();

        /// <summary>1–maxRecords records, 2–10 writes; clocks distinct per record (a reused clock is a conflict).</summary>
        public static Scenario Generate(Random rng, int number, MergePolicy policy, int maxRecords = 3)
        {
            var ids = Enumerable.Range(1, rng.Next(1, maxRecords + 1)).Select(i => $"r{i}").ToList();
            long[] timestamps = policy == MergePolicy.Version ? [0, Base, Base + 7] : [Base, Base + 1, Base + 1000];
            var unused = ids.ToDictionary(id => id, _ =>
                (from v in new long[] { 0, 1, 2 } from t in timestamps from s in Sources select new Clock(v, t, s)).OrderBy(_ => rng.Next()).ToList());
            var writes = new List<HttpWrite>();
            var count = rng.Next(2, 11);
            for (var i = 0; i < count; i++)
            {
                var id = ids[rng.Next(ids.Count)];
                var clock = unused[id][^1];
                unused[id].RemoveAt(unused[id].Count - 1);
                var roll = rng.NextDouble();
                var op = roll < 0.35 ? WriteOp.Put : roll < 0.8 ? WriteOp.Patch : WriteOp.Delete;
                var fieldCount = op switch { WriteOp.Put => rng.Next(0, 4), WriteOp.Patch => rng.Next(1, 4), _ => 0 };
                var fields = FieldNames.OrderBy(_ => rng.Next()).Take(fieldCount)
                    .Select(f => (f, op == WriteOp.Patch && rng.NextDouble() < 0.3 ? "null" : Values[rng.Next(Values.Length)])).ToList();
                // A version the policy does not require may be left out (it is then 0); so may a version-policy timestamp.
                var sendVersion = clock.Version != 0 || policy == MergePolicy.Version || rng.Next(2) == 0;
                var text = clock.TimestampMs == 0 && rng.Next(2) == 0 ? null : RenderTimestamp(rng, clock.TimestampMs);
                writes.Add(new HttpWrite(id, op, clock.Version, sendVersion, clock.TimestampMs, text, clock.Source, fields));
            }
            return new Scenario(number, writes.Select(w => w.Id).Distinct().Order(StringComparer.Ordinal).ToList(), writes);
        }

        /// <summary>The same instant as UTC with milliseconds, without fraction, with seven digits, or at an offset.</summary>
        private static string RenderTimestamp(Random rng, long ms)
        {
            var t = DateTimeOffset.FromUnixTimeMilliseconds(ms);
            return rng.Next(4) switch
            {
                0 => t.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
                1 when ms % 1000 == 0 => t.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                2 => t.ToOffset(TimeSpan.FromHours(2)).ToString("yyyy-MM-dd'T'HH:mm:ss.fffffffzzz", CultureInfo.InvariantCulture),
                _ => t.ToOffset(TimeSpan.FromMinutes(-330)).ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture),
            };
        }
    }

    /// <summary>One arrival order of a scenario's writes and how it is sent.</summary>
    private sealed record Arrival(IReadOnlyList<HttpWrite> Writes, int Mode, IReadOnlyList<int> Cuts)
    {
        public const int OneBatch = 0, SeveralBatches = 1, Single = 2;

        public static Arrival Random(Random rng, Scenario s, int mode)
        {
            var order = s.Writes.OrderBy(_ => rng.Next()).ToList();
            var cuts = mode == SeveralBatches ? Enumerable.Range(1, order.Count - 1).Where(_ => rng.Next(3) == 0).ToList() : [];
            return new Arrival(order, mode, cuts);
        }

        public IEnumerable<List<HttpWrite>> Chunks()
        {
            var bounds = Cuts.Prepend(0).Append(Writes.Count).ToList();
            for (var i = 0; i + 1 < bounds.Count; i++) yield return Writes.Skip(bounds[i]).Take(bounds[i + 1] - bounds[i]).ToList();
        }

        public string Describe() => Mode switch
        {
            OneBatch => "one batch",
            SeveralBatches => $"batches of {string.Join("+", Chunks().Select(c => c.Count))}",
            _ => "single requests",
        };
    }

    private static string Describe(Scenario scenario, IReadOnlyList<Arrival> arrivals, List<string> problems)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"scenario {scenario.Number}; arrival orders:\n");
        for (var k = 0; k < arrivals.Count; k++)
        {
            text.Append(CultureInfo.InvariantCulture, $"  order {k + 1} ({arrivals[k].Describe()}):\n");
            foreach (var w in arrivals[k].Writes) text.Append("    ").Append(w).Append('\n');
        }
        foreach (var p in problems) text.Append("  ").Append(p).Append('\n');
        return text.ToString();
    }

    // ---------------------------------------------------------------- plumbing

    private static int Seed() => Environment.GetEnvironmentVariable("CONVERGENCE_SEED") is { Length: > 0 } s
        ? int.Parse(s, CultureInfo.InvariantCulture)
        : System.Random.Shared.Next();

    private static HttpClient Client(GatewayFactory gateway)
    {
        var client = gateway.ClientWithKey(null);
        client.Timeout = RequestTimeout;
        return client;
    }

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
