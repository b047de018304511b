using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using RedisSync.Gateway.Contracts;
using RedisSync.Gateway.Merge;
using RedisSync.Tests.Api;
using RedisSync.Tests.Fixtures;
using RedisSync.Tests.Merge;
using RedisSync.Tests.Realtime;

namespace RedisSync.Tests.MultiSite;

/// <summary>
/// One client write sent to one site, with an explicit clock: the source comes from the API key (writer or other),
/// the version and timestamp from the generator. Clocks are distinct per record, so the set of writes defines the
/// merged state (<see cref="MergeOracle"/>) and each winning clock names the one site it entered at.
/// </summary>
internal sealed record SiteWrite(int Site, string Key, RecordWrite Write)
{
    private static readonly string[] Keys = [TestKeys.Writer, TestKeys.Other];
    private static readonly string[] SourceOfKey = ["writer", "other"];

    public string Id => Write.Id;

    /// <summary>The clock as the contract orders it (no site).</summary>
    public Clock Clock => new(Write.Version, Write.TimestampMs!.Value, Write.Source);

    private string TimestampText => Http.Rfc3339(DateTimeOffset.FromUnixTimeMilliseconds(Write.TimestampMs!.Value));
    private string DataJson() => "{" + string.Join(",", Write.Fields.Select(f => $"{JsonSerializer.Serialize(f.Key)}:{f.Value}")) + "}";

    /// <summary>The write as a batch item.</summary>
    public string BatchItem() =>
        $"{{\"id\":\"{Id}\",\"op\":\"{Write.Op.ToString().ToLowerInvariant()}\",\"version\":{Write.Version},\"timestamp\":\"{TimestampText}\"" +
        (Write.Op == WriteOp.Delete ? "" : $",\"data\":{DataJson()}") + "}";

    /// <summary>Sends the write as a single PUT, PATCH or DELETE; fails unless it is answered 200 or 201.</summary>
    public async Task SendAsync(HttpClient client, string c)
    {
        var url = Http.Record(c, Id);
        var body = $"{{\"version\":{Write.Version},\"timestamp\":\"{TimestampText}\",\"data\":{DataJson()}}}";
        using var response = Write.Op switch
        {
            WriteOp.Put => await client.PutRawAsync(url, body),
            WriteOp.Patch => await client.PatchRawAsync(url, body),
            _ => await client.DeleteAsync($"{url}?version={Write.Version}&timestamp={Uri.EscapeDataString(TimestampText)}"),
        };
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created, $"{this} answered {(int)response.StatusCode}: {text}");
    }

    public override string ToString() =>
        $"{Write.Op.ToString().ToLowerInvariant()} {Id} ({Write.Version}, {TimestampText}, {Write.Source}) at site {Site}" +
        (Write.Op == WriteOp.Delete ? "" : " " + DataJson());

    /// <summary>
    /// <paramref name="count"/> writes to <paramref name="ids"/>, each to a random one of <paramref name="sites"/> sites,
    /// all naming the same few fields, with random clocks (distinct per record) from both sources.
    /// </summary>
    public static List<SiteWrite> Conflicting(Random rng, IReadOnlyList<string> ids, int count, int sites)
    {
        string[] fields = ["a", "b", "c"];
        string[] values = ["1", "2", "\"x\"", "null", "{}", "[]", "3.141592653589793", "{\"n\":[1,2.50]}", "\"ünï 😀\""];
        var start = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeMilliseconds();
        var unused = ids.ToDictionary(id => id, _ =>
            (from v in new long[] { 0, 1, 2, 3 } from t in new long[] { 0, 7, 1000 } from k in new[] { 0, 1 } select (v, start + t, k))
            .OrderBy(_ => rng.Next()).ToList());
        var writes = new List<SiteWrite>();
        for (var i = 0; i < count; i++)
        {
            var id = ids[rng.Next(ids.Count)];
            if (unused[id].Count == 0) continue;
            var (version, ts, key) = unused[id][^1];
            unused[id].RemoveAt(unused[id].Count - 1);
            var roll = rng.NextDouble();
            var op = roll < 0.35 ? WriteOp.Put : roll < 0.8 ? WriteOp.Patch : WriteOp.Delete;
            var n = op switch { WriteOp.Put => rng.Next(0, 4), WriteOp.Patch => rng.Next(1, 4), _ => 0 };
            var data = fields.OrderBy(_ => rng.Next()).Take(n)
                .Select(f => KeyValuePair.Create(f, op == WriteOp.Patch && rng.NextDouble() < 0.3 ? "null" : Canonical(values[rng.Next(values.Length)])))
                .ToList();
            writes.Add(new SiteWrite(rng.Next(sites), Keys[key], new RecordWrite(op, id, version, ts, SourceOfKey[key], data)));
        }
        return writes;
    }

    private static string Canonical(string json) => JsonText.Canonical(JsonDocument.Parse(json).RootElement);
}

/// <summary>Reading sites and comparing them: merged views, digest roots, change logs, replication status.</summary>
internal static class SiteChecks
{
    public static readonly TimeSpan Converge = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The merged state of a record as <c>GET …?include=clocks</c> shows it: data, deleted, clock and every field's
    /// clock (sites included); for a deleted record the 404's clock. Never revision, seq or updatedAt (site-local).
    /// </summary>
    public static async Task<string> MergedViewAsync(this Site site, string c, string id)
    {
        using var client = site.Client();
        using var response = await client.GetAsync($"{Http.Record(c, id)}?include=clocks");
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode == HttpStatusCode.OK)
        {
            var view = JsonDocument.Parse(text).RootElement;
            return $"deleted={view.GetProperty("deleted").GetRawText()} data={view.GetProperty("data").GetRawText()} " +
                   $"clock={view.GetProperty("clock").GetRawText()} fields={view.GetProperty("fields").GetRawText()}";
        }
        Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"GET {c}/{id} at {site.Name} answered {(int)response.StatusCode}: {text}");
        var problem = JsonDocument.Parse(text).RootElement;
        return problem.TryGetProperty("deleted", out var deleted)
            ? $"deleted={deleted.GetRawText()} clock={problem.GetProperty("clock").GetRawText()}"
            : "absent";
    }

    /// <summary>The collection's digest root at a site.</summary>
    public static async Task<string> RootAsync(this Site site, string c)
    {
        using var client = site.Client();
        var digest = await (await client.GetAsync($"/api/v1/collections/{c}/digest")).JsonAsync(HttpStatusCode.OK);
        return digest.GetProperty("root").GetString()!;
    }

    /// <summary>
    /// Waits until every site holds the same state of <paramref name="c"/> (equal digest roots). Called after every
    /// write was answered: each site then holds at least the writes it took, so equal roots mean all of them.
    /// </summary>
    public static async Task WaitConvergedAsync(this Sites sites, string c, TimeSpan? timeout = null) =>
        await Poll.UntilAsync(async () => (await Task.WhenAll(sites.All.Select(s => s.RootAsync(c)))).Distinct().Count() == 1,
            timeout ?? Converge, $"the sites to converge on {c}");

    /// <summary>Asserts that every record's merged view is identical on every site; returns the views of the first.</summary>
    public static async Task<Dictionary<string, string>> AssertSameEverywhereAsync(this Sites sites, string c, IEnumerable<string> ids)
    {
        var first = new Dictionary<string, string>(StringComparer.Ordinal);
        var differences = new List<string>();
        foreach (var id in ids.Distinct().Order(StringComparer.Ordinal))
        {
            var views = await Task.WhenAll(sites.All.Select(s => s.MergedViewAsync(c, id)));
            first[id] = views[0];
            if (views.Distinct().Count() != 1)
                differences.Add($"{id}:\n" + string.Join("\n", views.Select((v, i) => $"    {sites[i].Name}: {v}")));
        }
        Assert.True(differences.Count == 0, $"records of {c} differ between sites:\n" + string.Join("\n", differences));
        var roots = await Task.WhenAll(sites.All.Select(s => s.RootAsync(c)));
        Assert.True(roots.Distinct().Count() == 1, $"digest roots of {c} differ: {string.Join(", ", roots)}");
        return first;
    }

    /// <summary>
    /// Null when the record's view is what the set of writes defines (CONTRACT §2), with every visible field's clock
    /// naming the site its write entered at; otherwise what differs.
    /// </summary>
    public static async Task<string?> OracleMismatchAsync(this Site site, string c, string id, IReadOnlyList<SiteWrite> writes, IReadOnlyList<string> siteNames)
    {
        var mine = writes.Where(w => w.Id == id).ToList();
        var expected = MergeOracle.State(MergePolicy.Version, [.. mine.Select(w => w.Write)]);
        var siteOf = mine.ToDictionary(w => w.Clock, w => siteNames[w.Site]);
        string Show(Clock clock) =>
            $"{clock.Version}|{Http.Rfc3339(DateTimeOffset.FromUnixTimeMilliseconds(clock.TimestampMs))}|{clock.Source}|{siteOf[clock with { Site = "" }]}";

        using var client = site.Client();
        using var response = await client.GetAsync($"{Http.Record(c, id)}?include=clocks");
        var root = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        static string ShowView(JsonElement v) =>
            $"{v.GetProperty("version").GetInt64()}|{v.GetProperty("timestamp").GetString()}|{v.GetProperty("source").GetString()}|{(v.TryGetProperty("site", out var s) ? s.GetString() : "none")}";

        if (expected.Deleted)
        {
            if (response.StatusCode != HttpStatusCode.NotFound || !root.TryGetProperty("deleted", out _)) return $"{id} should be deleted, GET answered {(int)response.StatusCode}";
            var want = Show(expected.Clock!.Value);
            var got = ShowView(root.GetProperty("clock"));
            return want == got ? null : $"{id} deleted at {got}, expected {want}";
        }
        if (response.StatusCode != HttpStatusCode.OK) return $"{id} should be live, GET answered {(int)response.StatusCode}";
        var wantLive = $"data={{{string.Join(",", expected.Data.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key}={f.Value}"))}}} " +
                       $"clock={Show(expected.Clock!.Value)} fields={{{string.Join(",", expected.FieldClocks.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key}@{Show(f.Value)}"))}}}";
        var gotLive = $"data={{{string.Join(",", root.GetProperty("data").EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => $"{p.Name}={p.Value.GetRawText()}"))}}} " +
                      $"clock={ShowView(root.GetProperty("clock"))} fields={{{string.Join(",", root.GetProperty("fields").EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => $"{p.Name}@{ShowView(p.Value)}"))}}}";
        return wantLive == gotLive ? null : $"{id}:\n      expected {wantLive}\n      got      {gotLive}";
    }

    /// <summary>Every retained entry of a site's change log as peers read it (state-only entries included), in order.</summary>
    public static async Task<List<JsonElement>> ReplicationLogAsync(this Site site, string c)
    {
        using var client = site.Client(site.PeerKey);
        var all = new List<JsonElement>();
        var after = "0-0";
        for (var page = 0; page < 10_000; page++)
        {
            var body = await (await client.GetAsync($"/api/v1/replication/collections/{c}/changes?after={after}&limit=1000")).JsonAsync(HttpStatusCode.OK);
            all.AddRange(body.GetProperty("items").EnumerateArray());
            after = body.GetProperty("next").GetString()!;
            if (!body.GetProperty("hasMore").GetBoolean()) return all;
        }
        throw new InvalidOperationException("the change log never ended");
    }

    /// <summary>Every visible change of a collection at a site (<c>/changes</c>), after <paramref name="after"/> when given.</summary>
    public static async Task<List<JsonElement>> ChangesAsync(this Site site, string c, string? after = null)
    {
        using var client = site.Client();
        var all = new List<JsonElement>();
        for (var page = 0; page < 10_000; page++)
        {
            var url = $"{Http.Changes(c)}?limit=1000" + (after is null ? "" : $"&after={after}");
            var body = await (await client.GetAsync(url)).JsonAsync(HttpStatusCode.OK);
            all.AddRange(body.GetProperty("items").EnumerateArray());
            after = body.GetProperty("next").GetString();
            if (!body.GetProperty("hasMore").GetBoolean()) return all;
        }
        throw new InvalidOperationException("the change log never ended");
    }

    /// <summary>
    /// Reads <paramref name="subscriber"/>'s changes up to the one for record <c>sentinel</c> and asserts they are
    /// exactly <paramref name="site"/>'s change log after <paramref name="after"/>: same entries, same order, none
    /// missing, none twice. Returns what it received.
    /// </summary>
    public static async Task<List<object?>> AssertReceivedExactlyTheLogAsync(this SyncClient subscriber, Site site, string c, string? after)
    {
        var received = new List<object?>();
        while (true)
        {
            var change = await subscriber.Changes.NextAsync(Converge);
            received.Add(change);
            if (change.Text("id") == "sentinel") break;
        }
        var logged = await site.ChangesAsync(c, after);
        Assert.Equal(logged.Select(e => $"{e.GetProperty("seq").GetString()} {e.GetProperty("id").GetString()} {e.GetProperty("revision").GetInt64()}"),
            received.Select(e => $"{e.Text("seq")} {e.Text("id")} {(long)e.At("revision")!}"));
        return received;
    }

    /// <summary><c>GET /api/v1/replication</c> at a site, read with its peers' key.</summary>
    public static async Task<JsonElement> StatusAsync(this Site site)
    {
        using var client = site.Client(site.PeerKey);
        return await (await client.GetAsync("/api/v1/replication")).JsonAsync(HttpStatusCode.OK);
    }

    /// <summary>Where <paramref name="site"/> stands with collection <paramref name="c"/> of <paramref name="peer"/>, or null.</summary>
    public static JsonElement? PeerCollection(JsonElement status, string peer, string c) =>
        status.GetProperty("peers").EnumerateArray().Where(p => p.GetProperty("name").GetString() == peer)
            .SelectMany(p => p.GetProperty("collections").EnumerateArray())
            .Where(x => x.GetProperty("collection").GetString() == c).Select(x => (JsonElement?)x).FirstOrDefault();

    /// <summary>Waits until <paramref name="site"/>'s status for <paramref name="peer"/>'s <paramref name="c"/> satisfies <paramref name="done"/>.</summary>
    public static Task<JsonElement> WaitForPeerAsync(this Site site, Site peer, string c, Func<JsonElement, bool> done, string what) =>
        Poll.UntilAsync(async () => PeerCollection(await site.StatusAsync(), peer.Name, c) ?? default,
            x => x.ValueKind == JsonValueKind.Object && done(x), Converge, $"{site.Name}'s view of {peer.Name}/{c}: {what}",
            x => x.ValueKind == JsonValueKind.Object ? x.GetRawText() : "not listed");

    /// <summary>Sends a batch; asserts that no item was a conflict.</summary>
    public static async Task BatchAsync(this HttpClient client, string c, IEnumerable<string> items)
    {
        var body = "{\"records\":[" + string.Join(",", items) + "]}";
        var results = (await (await client.PostRawAsync(Http.Records(c), body)).JsonAsync(HttpStatusCode.OK)).GetProperty("results");
        foreach (var r in results.EnumerateArray())
            Assert.NotEqual("conflict", r.GetProperty("outcome").GetString());
    }

    /// <summary>A PUT with an explicit version; the answer's JSON.</summary>
    public static async Task<JsonElement> PutAsync(this HttpClient client, string c, string id, long version, string data)
    {
        using var response = await client.PutRawAsync(Http.Record(c, id), $"{{\"version\":{version},\"data\":{data}}}");
        return await response.JsonAsync(response.StatusCode == HttpStatusCode.Created ? HttpStatusCode.Created : HttpStatusCode.OK);
    }

    public static string Text(this long n) => n.ToString(CultureInfo.InvariantCulture);

    public static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");
}
