using RedisSync.Tests.Fixtures;
using RedisSync.Tests.Realtime;

namespace RedisSync.Tests.MultiSite;

/// <summary>Three sites in full mesh: each pulls from both others.</summary>
public sealed class ThreeSites : SitesFixture
{
    protected override string[] Names => ["east", "north", "west"];
}

/// <summary>
/// Three sites (PITFALLS 13): a write reaches every site exactly once as a change, whichever peer brings it first,
/// and what comes back (the same state from the third site, or an echo from the second) writes nothing.
/// </summary>
public sealed class ThreeSiteMeshTests(ThreeSites fixture) : IClassFixture<ThreeSites>
{
    private const int PerSite = 20;
    private readonly Sites _sites = fixture.Sites;

    [Fact]
    public async Task EveryWriteReachesEverySiteOnceAsAChangeAndNothingEchoes()
    {
        var c = Unique.Collection("mesh");
        var feeds = new List<SyncClient>();
        try
        {
            foreach (var site in _sites.All)
            {
                var feed = await SyncClient.ConnectAsync(site.Url, TestKeys.Reader);
                feeds.Add(feed);
                await feed.SubscribeAsync(c);
            }

            // Every site writes records of its own at the same time, then a sentinel.
            await Task.WhenAll(_sites.All.Select(site => Task.Run(async () =>
            {
                using var client = site.Client();
                await client.BatchAsync(c, Enumerable.Range(0, PerSite / 2).Select(i => $$$"""{"id":"{{{site.Name}}}-{{{i}}}","op":"put","version":1,"data":{"i":{{{i}}}}}"""));
                for (var i = PerSite / 2; i < PerSite; i++) await client.PutAsync(c, $"{site.Name}-{i}", 1, $$"""{"i":{{i}}}""");
                await client.PutAsync(c, $"{site.Name}-sentinel", 1, "{}");
            })));
            await Task.WhenAll(feeds.Select(f => SentinelsAsync(f, "sentinel")));
            await _sites.WaitConvergedAsync(c);

            var writes = _sites.All.Count * (PerSite + 1);
            await AssertEntriesAsync(c, writes);

            // Nothing keeps going round: after another round of sentinels has reached everyone, exactly those were added.
            foreach (var site in _sites.All)
            {
                using var client = site.Client();
                await client.PutAsync(c, $"{site.Name}-again", 1, "{}");
            }
            await Task.WhenAll(feeds.Select(f => SentinelsAsync(f, "again")));
            await _sites.WaitConvergedAsync(c);
            await AssertEntriesAsync(c, writes + _sites.All.Count);
        }
        finally
        {
            foreach (var feed in feeds) await feed.DisposeAsync();
        }
    }

    // Each site's log holds one change per write, revision 1 each, and no state-only entry; meta n agrees.
    private async Task AssertEntriesAsync(string c, int writes)
    {
        foreach (var site in _sites.All)
        {
            var changes = await site.ChangesAsync(c);
            Assert.Equal(writes, changes.Count);
            Assert.Equal(writes, changes.Select(e => e.GetProperty("id").GetString()).Distinct().Count());
            Assert.All(changes, e => Assert.Equal(1, e.GetProperty("revision").GetInt64()));
            Assert.Equal(writes, (await site.ReplicationLogAsync(c)).Count);
            Assert.Equal(writes.ToString(System.Globalization.CultureInfo.InvariantCulture), (await site.Redis.CliCheckedAsync("HGET", $"rs:{{{c}}}:meta", "n")).Trim());
        }
    }

    // Waits for the change of every site's record "{site}-{suffix}" at this subscriber.
    private async Task SentinelsAsync(SyncClient feed, string suffix)
    {
        var waiting = _sites.All.Select(s => $"{s.Name}-{suffix}").ToHashSet(StringComparer.Ordinal);
        while (waiting.Count > 0) waiting.Remove((await feed.Changes.NextAsync(SiteChecks.Converge)).Text("id")!);
    }
}
