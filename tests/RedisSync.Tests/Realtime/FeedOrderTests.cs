using System.Globalization;
using RedisSync.Tests.Fixtures;
using RedisSync.Tests.Observability;
using Xunit.Abstractions;
using static RedisSync.Tests.Realtime.RealtimeHelpers;

namespace RedisSync.Tests.Realtime;

/// <summary>
/// A collection's feed gets its commits from pub/sub in the order Redis published them. A feed that saw them out of
/// order would still deliver exactly once and in order (it reads the gap from the change log), but each such read is
/// a Redis round trip in the delivery path. The test runs a gateway process of its own, so its <c>/metrics</c> counts
/// only this test's feed.
/// </summary>
public sealed class FeedOrderTests(ITestOutputHelper output)
{
    [Fact]
    public async Task ConcurrentCommitsReachTheFeedInPublishOrderWithoutAReadOfTheChangeLog()
    {
        const int writers = 32, each = 150;
        await using var redis = await RedisServer.StartAsync();
        var settings = new Dictionary<string, string>
        {
            ["Metrics:Enabled"] = "true",
            // The periodic check of the log would deliver whatever commit it finds before its message: a backfill
            // with nothing lost. An hour keeps it out of this test.
            ["Realtime:BackfillInterval"] = "01:00:00",
        };
        await using var gateway = await GatewayProcess.StartAsync(redis, settings);
        await using var other = await GatewayProcess.StartAsync(redis, settings);
        var c = Unique.Collection("order");
        await using var subscriber = await SyncClient.ConnectAsync(gateway.BaseUrl, TestKeys.Writer);
        await subscriber.SubscribeAsync(c);

        using var http = gateway.HttpClient();
        using var otherHttp = other.HttpClient();
        // Concurrent writers to one collection through two instances: each groups its writers into commits of
        // several records, and the two instances' commits reach Redis, and their messages the feed, back to back.
        await Task.WhenAll(Enumerable.Range(0, writers).Select(async w =>
        {
            for (var i = 0; i < each; i++) Assert.NotNull(await PutAsync(w % 2 == 0 ? http : otherHttp, c, $"w{w}-{i}", new { w, i }));
        }));

        var seqs = new List<string>();
        for (var i = 0; i < writers * each; i++) seqs.Add((await subscriber.Changes.NextAsync()).Text("seq")!);
        Assert.Equal(seqs.Order(new SeqComparer()), seqs);
        Assert.Equal(writers * each, seqs.Distinct().Count());

        var metrics = new PrometheusScrape(await http.GetStringAsync("/metrics"));
        var delivered = metrics.Value("redissync_changes_delivered_total");
        var backfills = metrics.Find("redissync_backfills_total");
        output.WriteLine($"delivered {delivered}, backfills {backfills?.ToString(CultureInfo.InvariantCulture) ?? "none"}");
        Assert.Equal(writers * each, delivered);
        Assert.True(backfills is null or 0, $"the feed read the change log {backfills} times to fill gaps that were only reorderings");
    }
}
