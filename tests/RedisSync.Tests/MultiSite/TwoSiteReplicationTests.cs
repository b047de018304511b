using System.Globalization;
using System.Net;
using System.Text.Json;
using RedisSync.Tests.Api;
using RedisSync.Tests.Fixtures;
using RedisSync.Tests.Realtime;

namespace RedisSync.Tests.MultiSite;

/// <summary>Two sites, east and west, each its own redis-server and gateway process, pulling from each other.</summary>
public sealed class TwoSites : SitesFixture;

/// <summary>
/// CONTRACT §9 between two real sites: concurrent conflicting writes converge to the state the set of writes defines,
/// on both sites, byte for byte, clocks and sites included; a partition (relays cut) and a stopped gateway heal by
/// themselves; subscribers at one site see the other's writes gap-free; provenance is carried. Set MULTISITE_SEED to
/// replay a failing run.
/// </summary>
public sealed class TwoSiteReplicationTests(TwoSites fixture) : IClassFixture<TwoSites>
{
    private readonly Sites _sites = fixture.Sites;
    private Site East => _sites[0];
    private Site West => _sites[1];
    private string[] Names => [.. _sites.All.Select(s => s.Name)];

    [Fact]
    public async Task ConcurrentConflictingWritesOnBothSitesConvergeToTheStateOfAllWrites()
    {
        var seed = Seed();
        var rng = new Random(seed);
        // Several collections at once, each with a few records whose same fields both sites write at the same time.
        var scenarios = Enumerable.Range(0, 10).Select(_ =>
            (Collection: Unique.Collection("conflict"), Writes: SiteWrite.Conflicting(rng, ["r1", "r2", "r3"], count: 40, sites: 2))).ToList();

        await Task.WhenAll(scenarios.SelectMany(s => SendConcurrentlyAsync(rng.Next(), s.Collection, s.Writes)));

        var problems = new List<string>();
        foreach (var (c, writes) in scenarios)
        {
            await _sites.WaitConvergedAsync(c);
            var ids = writes.Select(w => w.Id).Distinct().ToList();
            await _sites.AssertSameEverywhereAsync(c, ids);
            foreach (var id in ids)
                if (await East.OracleMismatchAsync(c, id, writes, Names) is { } mismatch)
                    problems.Add($"{c} {mismatch}\n    writes: {string.Join("\n            ", writes.Where(w => w.Id == id))}");
        }
        Assert.True(problems.Count == 0, $"MULTISITE_SEED={seed}:\n" + string.Join("\n", problems));
    }

    [Fact]
    public async Task PartitionedSitesTakeWritesOnBothSidesAndConvergeWhenHealed()
    {
        var seed = Seed();
        var rng = new Random(seed);
        var c = Unique.Collection("partition");
        var before = SiteWrite.Conflicting(rng, ["r1", "r2", "r3", "r4"], count: 20, sites: 2);
        await Task.WhenAll(SendConcurrentlyAsync(rng.Next(), c, before));
        await _sites.WaitConvergedAsync(c);

        _sites.Partition();
        try
        {
            // The cut is real: each site's follower of the other fails and says why.
            await East.WaitForPeerAsync(West, c, x => x.GetProperty("state").GetString() == "failing" && x.GetProperty("lastError").GetString() is { Length: > 0 }, "failing");
            await West.WaitForPeerAsync(East, c, x => x.GetProperty("state").GetString() == "failing", "failing");

            var during = SiteWrite.Conflicting(rng, ["r1", "r2", "r3", "r4", "r5"], count: 30, sites: 2)
                .Where(w => !before.Any(b => b.Id == w.Id && b.Clock == w.Clock)).ToList();
            using (var east = East.Client()) await east.PutAsync(c, "only-east", 1, """{"side":"east"}""");
            using (var west = West.Client()) await west.PutAsync(c, "only-west", 1, """{"side":"west"}""");
            await Task.WhenAll(SendConcurrentlyAsync(rng.Next(), c, during));

            // Nothing crossed: what one side wrote alone is unknown to the other.
            Assert.Equal("absent", await West.MergedViewAsync(c, "only-east"));
            Assert.Equal("absent", await East.MergedViewAsync(c, "only-west"));
            before.AddRange(during);
        }
        finally
        {
            _sites.Heal();
        }

        await _sites.WaitConvergedAsync(c);
        var ids = before.Select(w => w.Id).Append("only-east").Append("only-west").Distinct().ToList();
        await _sites.AssertSameEverywhereAsync(c, ids);
        var problems = new List<string>();
        foreach (var id in before.Select(w => w.Id).Distinct())
            if (await West.OracleMismatchAsync(c, id, before, Names) is { } mismatch) problems.Add(mismatch);
        Assert.True(problems.Count == 0, $"MULTISITE_SEED={seed}:\n" + string.Join("\n", problems));
        await East.WaitForPeerAsync(West, c, x => x.GetProperty("state").GetString() == "following" && x.GetProperty("lastError").ValueKind == JsonValueKind.Null, "following again");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // SIGKILL: no shutdown code runs, whatever it was applying is cut off
    public async Task AStoppedPeerGatewayCatchesUpWhenItStartsAgain(bool kill)
    {
        var c = Unique.Collection("stopped");
        using (var east = East.Client())
            for (var i = 0; i < 10; i++) await east.PutAsync(c, $"r{i}", 1, $$"""{"n":{{i}}}""");
        await _sites.WaitConvergedAsync(c);
        Assert.Equal(10, (await West.ReplicationLogAsync(c)).Count);
        // East lists a collection of west's once it has seen it there (a peer's collections are found by polling).
        await East.WaitForPeerAsync(West, c, x => x.GetProperty("state").GetString() == "following", "following");

        await West.StopGatewayAsync(kill);
        try
        {
            await East.WaitForPeerAsync(West, c, x => x.GetProperty("state").GetString() == "failing", "failing while west is down");
            using var east = East.Client();
            for (var i = 0; i < 10; i++) await east.PutAsync(c, $"r{i}", 2, $$"""{"n":{{i * 10}}}""");
            for (var i = 10; i < 15; i++) await east.PutAsync(c, $"r{i}", 1, $$"""{"n":{{i}}}""");
            for (var i = 0; i < 3; i++) (await east.DeleteAsync($"{Http.Record(c, $"r{i}")}?version=3")).EnsureSuccessStatusCode();
        }
        finally
        {
            await West.StartGatewayAsync();
        }

        await _sites.WaitConvergedAsync(c);
        var views = await _sites.AssertSameEverywhereAsync(c, Enumerable.Range(0, 15).Select(i => $"r{i}"));
        Assert.StartsWith("deleted=true", views["r0"]);
        Assert.Contains("\"n\":90", views["r9"]);
        // West resumed from the cursor its Redis kept: what it had applied is not applied again, and everything east
        // wrote meanwhile arrives in one page (its last state per record), so one new entry per record.
        var westLog = await West.ReplicationLogAsync(c);
        Assert.Equal(Enumerable.Range(0, 15).Select(i => $"r{i}").Order(StringComparer.Ordinal),
            westLog.Skip(10).Select(e => e.GetProperty("id").GetString()!).Order(StringComparer.Ordinal));
        await East.WaitForPeerAsync(West, c, x => x.GetProperty("state").GetString() == "following" && x.GetProperty("lastError").ValueKind == JsonValueKind.Null, "following again");
    }

    [Fact]
    public async Task SubscribersOnOneSiteReceiveWhatTheOtherSiteWroteGapFree()
    {
        var c = Unique.Collection("feed");
        await using var subscriber = await SyncClient.ConnectAsync(West.Url, TestKeys.Reader);
        var last = (await subscriber.SubscribeAsync(c)).Text("last");

        using (var east = East.Client())
        {
            for (var round = 1; round <= 4; round++)
            {
                await east.BatchAsync(c, Enumerable.Range(0, 10).Select(i => $$$"""{"id":"r{{{i}}}","op":"put","version":{{{round}}},"data":{"round":{{{round}}},"i":{{{i}}}}}"""));
                await east.PatchRawAsync(Http.Record(c, $"r{round}"), $$$"""{"version":{{{round + 10}}},"data":{"patched":true}}""");
                (await east.DeleteAsync($"{Http.Record(c, $"r{round + 5}")}?version={round + 20}")).EnsureSuccessStatusCode();
            }
            // Same data under a newer clock: unchanged at east, a state-only entry for west, no event for anyone. (West
            // must hold r0 first: a follower reading both at once would only see the newer state.)
            await Poll.UntilAsync(async () => (await West.MergedViewAsync(c, "r0")).Contains("\"round\":4", StringComparison.Ordinal), SiteChecks.Converge, "r0 to reach west");
            await east.PutAsync(c, "r0", 40, """{"round":4,"i":0}""");
            await east.PutAsync(c, "sentinel", 1, "{}");
        }

        // Exactly west's change log after the subscription point.
        var received = await subscriber.AssertReceivedExactlyTheLogAsync(West, c, last);
        Assert.All(received, e => Assert.Equal("east", e.Text("site")));
        Assert.All(received, e => Assert.Equal("writer", e.Text("source")));
        // A client that applies what it received holds what west holds.
        foreach (var id in Enumerable.Range(0, 10).Select(i => $"r{i}"))
        {
            var latest = received.Last(e => e.Text("id") == id);
            using var west = West.Client();
            using var response = await west.GetAsync(Http.Record(c, id));
            if ((bool)latest.At("record", "deleted")!) Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            else Assert.Equal(Wire.Canonical(latest.At("record", "data")), Wire.Canonical((await response.JsonAsync(HttpStatusCode.OK)).GetProperty("data")));
        }
        // The clock-only put is in the log for peers, not a change for subscribers.
        Assert.Contains(await West.ReplicationLogAsync(c), e => e.GetProperty("kind").GetString() == "state" && e.GetProperty("id").GetString() == "r0");
    }

    [Fact]
    public async Task ChangesAndClocksNameTheSiteWhereTheWinningWriteEnteredAndKeepTheWritersSource()
    {
        var c = Unique.Collection("provenance");
        await using var eastFeed = await SyncClient.ConnectAsync(East.Url, TestKeys.Reader);
        await eastFeed.SubscribeAsync(c);

        using var east = East.Client(TestKeys.Writer);
        using var west = West.Client(TestKeys.Other);
        await east.PutAsync(c, "r", 1, """{"a":1,"b":1}""");
        await Poll.UntilAsync(async () => (await West.MergedViewAsync(c, "r")) != "absent", SiteChecks.Converge, "r to reach west");
        (await west.PatchRawAsync(Http.Record(c, "r"), """{"version":2,"data":{"b":2}}""")).EnsureSuccessStatusCode();
        await _sites.WaitConvergedAsync(c);

        foreach (var site in _sites.All)
        {
            using var client = site.Client();
            var view = await (await client.GetAsync($"{Http.Record(c, "r")}?include=clocks")).JsonAsync(HttpStatusCode.OK);
            Assert.Equal(("east", "writer"), Clock(view.GetProperty("fields").GetProperty("a")));
            Assert.Equal(("west", "other"), Clock(view.GetProperty("fields").GetProperty("b")));
            Assert.Equal(("west", "other"), Clock(view.GetProperty("clock")));
        }
        // Each site's change events carry the writer's source and the site its write entered at.
        var atWest = await West.ChangesAsync(c);
        Assert.Equal(["east writer", "west other"], atWest.Select(e => $"{e.GetProperty("site").GetString()} {e.GetProperty("source").GetString()}"));
        var atEast = await East.ChangesAsync(c);
        Assert.Equal(["east writer", "west other"], atEast.Select(e => $"{e.GetProperty("site").GetString()} {e.GetProperty("source").GetString()}"));
        await eastFeed.Changes.NextAsync();
        var pushed = await eastFeed.Changes.NextAsync(SiteChecks.Converge);
        Assert.Equal(("west", "other", "r"), (pushed.Text("site"), pushed.Text("source"), pushed.Text("id")));

        // One clock entering at both sites: the smaller site name, everywhere.
        var t = Http.Rfc3339(DateTimeOffset.UtcNow.AddMinutes(-1));
        using var eastAgain = East.Client(TestKeys.Writer);
        using var westAsWriter = West.Client(TestKeys.Writer);
        var body = $$$"""{"version":5,"timestamp":"{{{t}}}","data":{"x":1}}""";
        foreach (var response in await Task.WhenAll(eastAgain.PutRawAsync(Http.Record(c, "twice"), body), westAsWriter.PutRawAsync(Http.Record(c, "twice"), body)))
            Assert.True(response.IsSuccessStatusCode, $"PUT twice answered {(int)response.StatusCode}");
        await _sites.WaitConvergedAsync(c);
        var twice = await _sites.AssertSameEverywhereAsync(c, ["twice"]);
        Assert.Contains("\"site\":\"east\"", twice["twice"]);
        Assert.DoesNotContain("\"site\":\"west\"", twice["twice"]);

        // A deleted record's 404 carries its clock, with the site of the delete.
        (await west.DeleteAsync($"{Http.Record(c, "r")}?version=9")).EnsureSuccessStatusCode();
        await _sites.WaitConvergedAsync(c);
        var deleted = await _sites.AssertSameEverywhereAsync(c, ["r"]);
        Assert.StartsWith("deleted=true clock=", deleted["r"]);
        Assert.Contains("\"source\":\"other\",\"site\":\"west\"", deleted["r"]);
    }

    private static (string?, string?) Clock(JsonElement clock) => (clock.GetProperty("site").GetString(), clock.GetProperty("source").GetString());

    // Each site's writes go out from two workers at once, while the other site's do the same: single requests and
    // small batches, in random order.
    private IEnumerable<Task> SendConcurrentlyAsync(int seed, string c, IReadOnlyList<SiteWrite> writes)
    {
        var rng = new Random(seed);
        foreach (var (site, mine) in _sites.All.Select((s, i) => (s, writes.Where(w => w.Site == i).OrderBy(_ => rng.Next()).ToList())))
        {
            for (var worker = 0; worker < 2; worker++)
            {
                var share = mine.Where((_, i) => i % 2 == worker).ToList();
                var batched = rng.Next(2) == 0;
                yield return Task.Run(async () =>
                {
                    var clients = new Dictionary<string, HttpClient>();
                    try
                    {
                        HttpClient ClientFor(string key) => clients.TryGetValue(key, out var h) ? h : clients[key] = site.Client(key);
                        if (!batched)
                        {
                            foreach (var w in share) await w.SendAsync(ClientFor(w.Key), c);
                            return;
                        }
                        // A batch has one key, hence one source: consecutive writes of one key go together.
                        foreach (var run in Runs(share)) await ClientFor(run[0].Key).BatchAsync(c, run.Select(w => w.BatchItem()));
                    }
                    finally
                    {
                        foreach (var h in clients.Values) h.Dispose();
                    }
                });
            }
        }
    }

    private static IEnumerable<List<SiteWrite>> Runs(List<SiteWrite> writes)
    {
        var run = new List<SiteWrite>();
        foreach (var w in writes)
        {
            if (run.Count > 0 && (run[0].Key != w.Key || run.Count == 5)) { yield return run; run = []; }
            run.Add(w);
        }
        if (run.Count > 0) yield return run;
    }

    private static int Seed() => Environment.GetEnvironmentVariable("MULTISITE_SEED") is { Length: > 0 } s
        ? int.Parse(s, CultureInfo.InvariantCulture) : Random.Shared.Next();
}
