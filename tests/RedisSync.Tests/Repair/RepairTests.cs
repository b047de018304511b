using System.Net;
using System.Text;
using System.Text.Json;
using RedisSync.Tests.Api;
using RedisSync.Tests.Fixtures;
using RedisSync.Tests.MultiSite;
using RedisSync.Tests.Realtime;
using StackExchange.Redis;

namespace RedisSync.Tests.Repair;

/// <summary>Two replicating sites for the compare-and-repair tests.</summary>
public sealed class RepairingSites : SitesFixture;

/// <summary>
/// CONTRACT §10 between two real sites: faults injected behind the gateways' backs, in Redis itself, are each found
/// (by the scrub, by the repair's comparison, or by replication's 410) and repaired, after which both roots are equal;
/// a repair under concurrent writes loses nothing and reaches subscribers as ordinary changes; equal sites cost one
/// small request; the verify command tells equal from different.
/// </summary>
public sealed class RepairTests(RepairingSites fixture) : IClassFixture<RepairingSites>
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);
    private readonly Sites _sites = fixture.Sites;
    private Site East => _sites[0];
    private Site West => _sites[1];

    [Fact]
    public async Task ARecordDeletedInOneSitesRedisIsFoundByTheScrubAndReplacedFromThePeer()
    {
        var c = await SeedAsync("lost", 10);
        Assert.Equal(1, await RemoveRecordAsync(West, c, "r3"));
        Assert.Equal("absent", await West.MergedViewAsync(c, "r3"));
        // The digest index still lists r3 as written: only a scrub, which reads the stored records, can see the loss.
        Assert.Equal(await East.RootAsync(c), await West.RootAsync(c));

        // Found by west's scrub (its report, and log event 7001 with the id) …
        var scrub = await PostAsync(West, "/api/v1/digests/rebuild");
        var report = Collection(scrub, c);
        Assert.Equal(["r3"], report.GetProperty("lost").Strings());
        Assert.Empty(report.GetProperty("altered").EnumerateArray());
        await West.Gateway.LineAsync(l => l.Contains($"Scrub of {c}: 1 record(s) lost", StringComparison.Ordinal) && l.EndsWith(": r3", StringComparison.Ordinal),
            SiteChecks.Converge, "the scrub's log line (7001)");
        Assert.NotEqual(await East.RootAsync(c), await West.RootAsync(c));

        // … and repaired by west's repair from east's copy, as a change with a revision above any west handed out.
        var repair = PeerCollection(await PostAsync(West, "/api/v1/replication/repair"), "east", c);
        Assert.Equal(["r3"], repair.GetProperty("differing").Strings());
        Assert.Equal(["r3"], repair.GetProperty("repaired").Strings());
        await _sites.AssertSameEverywhereAsync(c, Ids(10));
        var change = (await West.ChangesAsync(c)).Last();
        Assert.Equal(("r3", "upsert"), (change.GetProperty("id").GetString(), change.GetProperty("kind").GetString()));
        Assert.True(change.GetProperty("revision").GetInt64() > 1, $"the repair's change has revision {change.GetProperty("revision")}");
    }

    [Fact]
    public async Task ARecordAlteredInOneSitesRedisIsReplacedByThePeersCopyNeverTheReverse()
    {
        var c = await SeedAsync("altered", 5);
        // The stored value of r2's field "v" becomes "z2": same clock, other content, which a join would keep ("z2" > "x2").
        await AlterAsync(West, c, "r2", "\"x2\"", "\"z2\"");
        Assert.Contains("\"v\":\"z2\"", await West.MergedViewAsync(c, "r2"));

        // East repairs: it has west scrub first, which finds r2 altered; the comparison finds r2 differing. West's
        // copy is damaged, so east's replaces it: west never hands it out, and a join would keep "z".
        var repair = PeerCollection(await PostAsync(East, "/api/v1/replication/repair"), "west", c);
        Assert.Equal(["r2"], repair.GetProperty("differing").Strings());
        Assert.Equal(["r2"], repair.GetProperty("repaired").Strings());
        await West.Gateway.LineAsync(l => l.Contains($"Scrub of {c}: 1 record(s) altered", StringComparison.Ordinal) && l.EndsWith(": r2", StringComparison.Ordinal),
            SiteChecks.Converge, "west's scrub log line (7002)");
        var views = await _sites.AssertSameEverywhereAsync(c, Ids(5));
        Assert.Contains("\"v\":\"x2\"", views["r2"]);

        // Repaired, r2 is an ordinary record at west again: handed out to peers, and nothing is left to repair.
        using var asPeer = West.Client(West.PeerKey);
        var lookup = await (await asPeer.PostRawAsync($"/api/v1/replication/collections/{c}/records/lookup", """{"ids":["r2"]}""")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(["r2"], lookup.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()));
        var again = await PostAsync(West, "/api/v1/replication/repair");
        Assert.DoesNotContain(again.GetProperty("peers")[0].GetProperty("collections").EnumerateArray(), x => x.GetProperty("collection").GetString() == c);
    }

    [Fact]
    public async Task AChangeLogEntryRemovedBeforeThePeerReadItIsFoundByReplicationAndCopied()
    {
        var c = await SeedAsync("xdel", 5);
        await West.WaitForPeerAsync(East, c, x => x.GetProperty("state").GetString() == "following", "following");
        _sites.Cut(East, West);
        try
        {
            await West.WaitForPeerAsync(East, c, x => x.GetProperty("state").GetString() == "failing", "failing");
            using var east = East.Client();
            var created = await east.PutAsync(c, "r5", 1, """{"v":"new"}""");
            await east.PutAsync(c, "r1", 2, """{"v":"y"}""");
            // The entry of r5 disappears before west could read it.
            Assert.Equal("1", (await East.Redis.CliCheckedAsync("XDEL", $"rs:{{{c}}}:log", created.GetProperty("seq").GetString()!)).Trim());
        }
        finally
        {
            _sites.Heal();
        }

        // Found by replication: west's next read is answered 410 (the log no longer continues from its cursor), so it
        // copies east's full state (event 6005), which has r5.
        await West.Gateway.LineAsync(l => l.Contains($"collection {c}: the peer no longer retains", StringComparison.Ordinal), SiteChecks.Converge, "a full copy (6005)");
        await _sites.WaitConvergedAsync(c);
        var views = await _sites.AssertSameEverywhereAsync(c, Ids(6));
        Assert.Contains("\"v\":\"new\"", views["r5"]);
        Assert.Contains("\"v\":\"y\"", views["r1"]);
    }

    [Fact]
    public async Task ARepairDuringConcurrentWritesLosesNoWriteAndSubscribersSeeTheRepairsAsChangesGapFree()
    {
        var c = await SeedAsync("busy", 20);
        for (var i = 0; i < 5; i++) Assert.Equal(1, await RemoveRecordAsync(West, c, $"r{i}"));
        await using var subscriber = await SyncClient.ConnectAsync(West.Url, TestKeys.Reader);
        var last = (await subscriber.SubscribeAsync(c)).Text("last");

        // Both sites keep writing (new records and newer versions of undamaged ones) while west repairs twice.
        var writers = _sites.All.Select(site => Task.Run(async () =>
        {
            using var client = site.Client();
            for (var v = 1; v <= 5; v++)
            {
                for (var i = 0; i < 8; i++) await client.PutAsync(c, $"{site.Name}{i}", v, $$"""{"v":{{v}}}""");
                await client.PutAsync(c, $"r{10 + v + (site == East ? 0 : 5) - 1}", 10 + v, $$"""{"by":"{{site.Name}}"}""");
            }
        })).ToList();
        var repairs = Task.Run(async () =>
        {
            var first = await PostAsync(West, "/api/v1/replication/repair");
            var second = await PostAsync(West, "/api/v1/replication/repair");
            return (first, second);
        });
        await Task.WhenAll(writers);
        var (firstRepair, secondRepair) = await repairs;
        Assert.Equal(JsonValueKind.Null, firstRepair.GetProperty("peers")[0].GetProperty("error").ValueKind);

        using (var west = West.Client()) await west.PutAsync(c, "sentinel", 1, "{}");
        await _sites.WaitConvergedAsync(c);
        var ids = Ids(20).Concat(_sites.All.SelectMany(s => Enumerable.Range(0, 8).Select(i => $"{s.Name}{i}"))).Append("sentinel").ToList();
        var views = await _sites.AssertSameEverywhereAsync(c, ids);

        // No write lost: the lost records are back as seeded, every written record holds its last version.
        foreach (var i in Enumerable.Range(0, 5)) Assert.Contains($"\"v\":\"x{i}\"", views[$"r{i}"]);
        foreach (var site in _sites.All)
            foreach (var i in Enumerable.Range(0, 8)) Assert.Contains("\"v\":5", views[$"{site.Name}{i}"]);
        foreach (var i in Enumerable.Range(10, 10)) Assert.Contains("\"by\":", views[$"r{i}"]);

        // The subscriber got exactly west's log after its subscription, the repaired records among it.
        var received = await subscriber.AssertReceivedExactlyTheLogAsync(West, c, last);
        foreach (var i in Enumerable.Range(0, 5))
            Assert.Contains(received, e => e.Text("id") == $"r{i}" && (long)e.At("revision")! > 1 && !(bool)e.At("record", "deleted")!);
        var repaired = new[] { firstRepair, secondRepair }.SelectMany(r => r.GetProperty("peers")[0].GetProperty("collections").EnumerateArray())
            .Where(x => x.GetProperty("collection").GetString() == c).SelectMany(x => x.GetProperty("repaired").Strings()).ToHashSet();
        Assert.Superset(Ids(5).ToHashSet(), repaired);
    }

    [Fact]
    public async Task ARepairWhileThePeerIsUnreachableSaysSoAndTheNextOneRepairs()
    {
        var c = await SeedAsync("unreachable", 10);
        Assert.Equal(1, await RemoveRecordAsync(West, c, "r2"));

        _sites.Cut(West, East);
        try
        {
            // The peer is a stopped site as far as west can tell: the answer names the failure, nothing is repaired.
            var failed = (await PostAsync(West, "/api/v1/replication/repair")).GetProperty("peers")[0];
            Assert.Equal(JsonValueKind.String, failed.GetProperty("error").ValueKind);
            Assert.Equal("absent", await West.MergedViewAsync(c, "r2"));
        }
        finally
        {
            _sites.Heal();
        }

        var repaired = (await PostAsync(West, "/api/v1/replication/repair")).GetProperty("peers")[0];
        Assert.Equal(JsonValueKind.Null, repaired.GetProperty("error").ValueKind);
        Assert.Equal(await East.MergedViewAsync(c, "r2"), await West.MergedViewAsync(c, "r2"));
        Assert.Equal(await East.RootAsync(c), await West.RootAsync(c));
    }

    [Fact]
    public async Task ARepairOfEqualSitesExchangesTheirRootsOnly()
    {
        var c = await SeedAsync("equal", 50);
        await SettleAsync();

        var repair = await PostAsync(East, "/api/v1/replication/repair");
        using var peer = West.Client(West.PeerKey);
        var roots = await (await peer.GetAsync("/api/v1/digests")).Content.ReadAsByteArrayAsync();
        var west = repair.GetProperty("peers")[0];
        Assert.Equal("west", west.GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.Null, west.GetProperty("error").ValueKind);
        Assert.Empty(west.GetProperty("collections").EnumerateArray());
        // One request, no body sent, and exactly west's roots received: nothing per record, nothing per bucket.
        Assert.Equal(1, west.GetProperty("requests").GetInt32());
        Assert.Equal(0, west.GetProperty("bytesSent").GetInt64());
        Assert.Equal(roots.Length, west.GetProperty("bytesReceived").GetInt64());
        Assert.Contains($"\"collection\":\"{c}\"", Encoding.UTF8.GetString(roots));
    }

    [Fact]
    public async Task TheVerifyCommandSaysEqualOrListsTheDifferingIds()
    {
        var c = await SeedAsync("verify", 5);
        await SettleAsync();
        string[] sites = [East.Url.ToString(), East.PeerKey, West.Url.ToString(), West.PeerKey];

        var (code, output) = await GatewayProcess.RunCommandAsync(CommandTimeout, ["verify", .. sites]);
        Assert.True(code == 0, $"exit {code}: {output}");
        Assert.Contains("equal", output);

        // Writes one side has not passed on yet.
        _sites.Partition();
        try
        {
            await West.WaitForPeerAsync(East, c, x => x.GetProperty("state").GetString() == "failing", "failing");
            using var east = East.Client();
            await east.PutAsync(c, "r1", 2, """{"v":"newer"}""");
            await east.PutAsync(c, "only-east", 1, "{}");
            (code, output) = await GatewayProcess.RunCommandAsync(CommandTimeout, ["verify", .. sites]);
            Assert.True(code == 1, $"exit {code}: {output}");
            Assert.Contains($"differ {c}: 2 record(s): only-east r1", output);
        }
        finally
        {
            _sites.Heal();
        }
        await _sites.WaitConvergedAsync(c);

        // A record lost in Redis: the digests still say equal until --rebuild has both sites scrub.
        Assert.Equal(1, await RemoveRecordAsync(West, c, "r4"));
        (code, output) = await GatewayProcess.RunCommandAsync(CommandTimeout, ["verify", .. sites]);
        Assert.True(code == 0, $"exit {code}: {output}");
        (code, output) = await GatewayProcess.RunCommandAsync(CommandTimeout, ["verify", "--rebuild", .. sites]);
        Assert.True(code == 1, $"exit {code}: {output}");
        Assert.Contains($"differ {c}: 1 record(s): r4", output);

        await PostAsync(West, "/api/v1/replication/repair");
        await _sites.AssertSameEverywhereAsync(c, Ids(5).Append("only-east"));
    }

    // ---------------------------------------------------------------- plumbing

    private static IEnumerable<string> Ids(int n) => Enumerable.Range(0, n).Select(i => $"r{i}");

    /// <summary>A collection with records r0… written at east (field v = "x{i}"), converged on both sites.</summary>
    private async Task<string> SeedAsync(string prefix, int records)
    {
        var c = Unique.Collection(prefix);
        using var east = East.Client();
        await east.BatchAsync(c, Enumerable.Range(0, records).Select(i => $$$"""{"id":"r{{{i}}}","op":"put","version":1,"data":{"v":"x{{{i}}}"}}"""));
        await _sites.WaitConvergedAsync(c);
        return c;
    }

    /// <summary>
    /// Waits until every collection's root is equal on both sites (the precondition of "equal sites"): every test of
    /// this class leaves the sites equal, so this only waits for replication to finish.
    /// </summary>
    private async Task SettleAsync()
    {
        await Poll.UntilAsync(async () =>
        {
            var roots = await Task.WhenAll(_sites.All.Select(async s =>
            {
                using var client = s.Client(s.PeerKey);
                return await (await client.GetAsync("/api/v1/digests")).Content.ReadAsStringAsync();
            }));
            return roots.Distinct().Count() == 1;
        }, SiteChecks.Converge, "every collection's root to be equal on both sites");
    }

    private static async Task<long> RemoveRecordAsync(Site site, string c, string id) =>
        long.Parse((await site.Redis.CliCheckedAsync("DEL", $"rs:{{{c}}}:r:{id}")).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    // Changes the stored bytes of a record directly (layout: Store/RecordCodec.cs), keeping its length and netstrings.
    private static async Task AlterAsync(Site site, string c, string id, string from, string to)
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(site.Redis.ConnectionString);
        var key = $"rs:{{{c}}}:r:{id}";
        var stored = Encoding.UTF8.GetString((byte[])(await redis.GetDatabase().StringGetAsync(key))!);
        Assert.Contains(from, stored);
        Assert.True(await redis.GetDatabase().StringSetAsync(key, stored.Replace(from, to, StringComparison.Ordinal)));
    }

    private static async Task<JsonElement> PostAsync(Site site, string path)
    {
        using var client = site.Client(site.PeerKey);
        return await (await client.PostAsync(path, null)).JsonAsync(HttpStatusCode.OK);
    }

    private static JsonElement Collection(JsonElement scrub, string c) =>
        scrub.GetProperty("collections").EnumerateArray().Single(x => x.GetProperty("collection").GetString() == c);

    private static JsonElement PeerCollection(JsonElement repair, string peer, string c)
    {
        var p = repair.GetProperty("peers").EnumerateArray().Single(x => x.GetProperty("name").GetString() == peer);
        Assert.Equal(JsonValueKind.Null, p.GetProperty("error").ValueKind);
        return p.GetProperty("collections").EnumerateArray().Single(x => x.GetProperty("collection").GetString() == c);
    }
}
