using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using RedisSync.Tests.Api;
using RedisSync.Tests.Fixtures;

namespace RedisSync.Tests.MultiSite;

/// <summary>Two sites whose change logs keep about 10 entries (Redis trims whole stream nodes of ~100), with /metrics.</summary>
public sealed class TrimmingSites : SitesFixture
{
    protected override void Configure(SiteSetup site)
    {
        site.Settings["Sync:ChangeLogMaxLength"] = "10";
        site.Settings["Metrics:Enabled"] = "true";
    }
}

/// <summary>
/// CONTRACT §9 "When a cursor is older than what the peer retains, the site copies the peer's full state of that
/// collection, deleted records included, then follows on": a partition outlasts the peer's change log.
/// </summary>
public sealed partial class FullCopyTests(TrimmingSites fixture) : IClassFixture<TrimmingSites>
{
    private readonly Sites _sites = fixture.Sites;
    private Site East => _sites[0];
    private Site West => _sites[1];

    [Fact]
    public async Task APartitionThatOutlastsThePeersChangeLogEndsInAFullCopyThatCarriesDeletes()
    {
        var c = Unique.Collection("copy");
        using var east = East.Client();
        using var west = West.Client(TestKeys.Other);
        await east.BatchAsync(c, Enumerable.Range(0, 30).Select(i => $$$"""{"id":"r{{{i}}}","op":"put","version":1,"data":{"n":{{{i}}}}}"""));
        await _sites.WaitConvergedAsync(c);
        var cursor = (await West.WaitForPeerAsync(East, c, x => x.GetProperty("state").GetString() == "following", "following"))
            .GetProperty("cursor").GetString()!;

        _sites.Partition();
        try
        {
            await West.WaitForPeerAsync(East, c, x => x.GetProperty("state").GetString() == "failing", "failing");
            // Deletes and updates, then several hundred more changes: enough for Redis to drop whole stream nodes.
            await east.BatchAsync(c, Enumerable.Range(0, 10).Select(i => $$$"""{"id":"r{{{i}}}","op":"delete","version":2}"""));
            await east.BatchAsync(c, Enumerable.Range(10, 10).Select(i => $$$"""{"id":"r{{{i}}}","op":"put","version":2,"data":{"n":{{{i * 100}}}}}"""));
            for (var round = 0; round < 3; round++)
                await east.BatchAsync(c, Enumerable.Range(0, 100).Select(i => $$$"""{"id":"bulk{{{i}}}","op":"put","version":{{{round + 1}}},"data":{"round":{{{round}}}}}"""));
            await west.PutAsync(c, "r25", 5, """{"n":"west"}""");
            await west.PutAsync(c, "only-west", 1, "{}");

            // The position west holds is gone from east's log.
            using var asPeer = East.Client(East.PeerKey);
            await (await asPeer.GetAsync($"/api/v1/replication/collections/{c}/changes?after={cursor}")).ProblemAsync(HttpStatusCode.Gone, "resync-required");
        }
        finally
        {
            _sites.Heal();
        }

        // Found by replication: east answers 410, west copies (event 6005), then follows on.
        await West.Gateway.LineAsync(l => l.Contains($"collection {c}: the peer no longer retains", StringComparison.Ordinal), SiteChecks.Converge, $"a full copy of {c} from east (6005)");
        await _sites.WaitConvergedAsync(c);
        var ids = Enumerable.Range(0, 30).Select(i => $"r{i}").Concat(Enumerable.Range(0, 100).Select(i => $"bulk{i}")).Append("only-west").ToList();
        var views = await _sites.AssertSameEverywhereAsync(c, ids);
        Assert.All(Enumerable.Range(0, 10), i => Assert.StartsWith("deleted=true", views[$"r{i}"]));
        Assert.Contains("\"n\":1000", views["r10"]);
        Assert.Contains("\"n\":\"west\"", views["r25"]);
        var copies = await CopiesAsync(West, "east");
        Assert.True(copies >= 1, $"west's redissync_replication_copies_total{{peer=\"east\"}} is {copies?.ToString(CultureInfo.InvariantCulture) ?? "absent"}");

        // Following resumes from where the copy began: the next change arrives without another copy.
        await east.PutAsync(c, "after-copy", 1, "{}");
        await _sites.WaitConvergedAsync(c);
        Assert.Equal(copies, await CopiesAsync(West, "east"));
        // Caught up: the lag gauges say so, in changes and in time.
        await Poll.UntilAsync(async () => await SampleAsync(West, "redissync_replication_lag_changes", "east") == 0
            && await SampleAsync(West, "redissync_replication_lag_age_milliseconds", "east") == 0, SiteChecks.Converge, "west's lag gauges to read 0");
    }

    private static Task<long?> CopiesAsync(Site site, string peer) => SampleAsync(site, "redissync_replication_copies_total", peer);

    // The value of one metric's sample for a peer in the site's /metrics, or null when it has none yet.
    private static async Task<long?> SampleAsync(Site site, string metric, string peer)
    {
        using var client = site.Client();
        var text = await (await client.GetAsync("/metrics")).Content.ReadAsStringAsync();
        var sample = Sample().Matches(text).FirstOrDefault(m => m.Groups["name"].Value == metric
            && m.Groups["labels"].Value.Contains($"peer=\"{peer}\"", StringComparison.Ordinal));
        return sample is null ? null : long.Parse(sample.Groups["value"].Value, CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"^(?<name>redissync_[a-z_]+)\{(?<labels>[^}]*)\} (?<value>\d+)", RegexOptions.Multiline)]
    private static partial Regex Sample();
}
