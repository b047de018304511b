using System.Diagnostics;
using System.Net;
using System.Text.Json;
using RedisSync.Tests.Api;
using RedisSync.Tests.Fixtures;

namespace RedisSync.Tests.MultiSite;

/// <summary>
/// Two sites; west's redis-server is append-only with <c>appendfsync always</c>, so it can be killed and lose nothing;
/// east's keeps nothing on disk, so a restart empties it.
/// </summary>
public sealed class CrashingSites : SitesFixture
{
    protected override void Configure(SiteSetup site) => site.AppendFsyncAlways = site.Name == "west";
}

/// <summary>
/// A site's redis-server SIGKILLed and restarted while the site applies a peer's changes (PITFALLS 15): the cursor
/// moves in the same commit as what it covers, so the site resumes where its Redis stands, applies nothing twice
/// as a new change, skips nothing, and converges.
/// </summary>
public sealed class RedisCrashTests(CrashingSites fixture) : IClassFixture<CrashingSites>
{
    private const int Records = 30;
    private const int MaxWrites = 3000;
    private static readonly TimeSpan MaxWriting = TimeSpan.FromSeconds(60);

    private readonly Sites _sites = fixture.Sites;
    private Site East => _sites[0];
    private Site West => _sites[1];

    [Fact]
    public async Task ASiteWhoseRedisIsKilledMidReplicationConvergesAndLogsEveryChangeOnce()
    {
        var c = Unique.Collection("crash");
        using var east = East.Client();
        var restarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var written = 0;

        // East writes before, during and after west's outage: newer versions of a few records, one at a time, until
        // 100 writes after west's Redis is back (bounded in count and time whatever happens).
        var writer = Task.Run(async () =>
        {
            var clock = Stopwatch.StartNew();
            var after = -1;
            for (var i = 0; i < MaxWrites && clock.Elapsed < MaxWriting; i++)
            {
                if (after < 0 && restarted.Task.IsCompleted) after = i;
                if (after >= 0 && i - after >= 100) break;
                var result = await east.PutAsync(c, $"r{i % Records}", i / Records + 1, $$"""{"i":{{i}}}""");
                Assert.Equal("applied", result.GetProperty("outcome").GetString());
                written = i + 1;
            }
        });

        // Mid-replication: west has applied some of east's changes, east keeps writing.
        await Poll.UntilAsync(async () => (await West.MergedViewAsync(c, $"r{Records - 1}")) != "absent" || writer.IsCompleted,
            SiteChecks.Converge, "west to apply east's first changes");
        Assert.False(writer.IsCompleted, "east stopped writing before west's Redis could be killed");
        West.Redis.Kill();
        try
        {
            // West's follower runs into the dead Redis (its status lives in the gateway, which still answers).
            await West.WaitForPeerAsync(East, c, x => x.GetProperty("state").GetString() == "failing", "failing on its dead Redis");
        }
        finally
        {
            await West.Redis.RestartAsync();
            restarted.SetResult();
        }
        await writer;
        Assert.True(written >= 100, $"east wrote only {written} changes");

        await _sites.WaitConvergedAsync(c);
        await _sites.AssertSameEverywhereAsync(c, Enumerable.Range(0, Records).Select(i => $"r{i}"));

        // West's log: per record, every entry a new state (nothing replayed as a change twice), revisions 1, 2, 3…
        // with one change entry per revision, and the record's revision the number of its change entries.
        var log = await West.ReplicationLogAsync(c);
        var problems = new List<string>();
        foreach (var entries in log.GroupBy(e => e.GetProperty("id").GetString()!))
        {
            var states = entries.Select(e => e.GetProperty("state").GetRawText()).ToList();
            for (var k = 1; k < states.Count; k++)
                if (states[k] == states[k - 1]) problems.Add($"{entries.Key}: entries {k} and {k + 1} hold the same state");
            var revisions = entries.Where(e => e.GetProperty("kind").GetString() != "state").Select(e => e.GetProperty("revision").GetInt64()).ToList();
            if (!revisions.SequenceEqual(Enumerable.Range(1, revisions.Count).Select(r => (long)r)))
                problems.Add($"{entries.Key}: change revisions {string.Join(",", revisions)}");
            using var client = West.Client();
            var view = await (await client.GetAsync(Http.Record(c, entries.Key))).JsonAsync(HttpStatusCode.OK);
            if (view.GetProperty("revision").GetInt64() != revisions.Count)
                problems.Add($"{entries.Key}: revision {view.GetProperty("revision").GetInt64()} but {revisions.Count} change entries");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        // Every entry the log ever had is still there (nothing trimmed), so the checks above saw all of them.
        Assert.Equal(log.Count, log.Select(e => e.GetProperty("ordinal").GetInt64()).Max());

        // East never took anything back from west (echoes write nothing): one entry per write it answered.
        Assert.Equal(written, (await East.ReplicationLogAsync(c)).Count);
    }

    [Fact]
    public async Task ASiteWhoseRedisLostEverythingGetsItBackFromItsPeer()
    {
        var c = Unique.Collection("wiped");
        using (var east = East.Client())
            await east.BatchAsync(c, Enumerable.Range(0, 10).Select(i => $$$"""{"id":"r{{{i}}}","op":"put","version":1,"data":{"i":{{{i}}}}}"""));
        using (var west = West.Client())
            await west.BatchAsync(c, Enumerable.Range(0, 5).Select(i => $$$"""{"id":"w{{{i}}}","op":"put","version":1,"data":{"i":{{{i}}}}}"""));
        await _sites.WaitConvergedAsync(c);
        await East.WaitForPeerAsync(West, c, x => x.GetProperty("state").GetString() == "following" && x.GetProperty("lagChanges").GetInt64() == 0, "caught up");

        // East's Redis comes back empty (no persistence): its records and its cursors in west's log are gone, while
        // its gateway still runs and still remembers where it was.
        East.Redis.Kill();
        await East.Redis.RestartAsync();
        await Poll.UntilAsync(async () => (await East.MergedViewAsync(c, "r0")) == "absent", SiteChecks.Converge, "east to answer from its empty Redis");

        // East follows west from what its Redis says (nothing), so it reads west's log again from the start.
        await _sites.WaitConvergedAsync(c);
        await _sites.AssertSameEverywhereAsync(c, Enumerable.Range(0, 10).Select(i => $"r{i}").Concat(Enumerable.Range(0, 5).Select(i => $"w{i}")));
    }
}
