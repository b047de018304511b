using System.Globalization;
using System.Text.RegularExpressions;
using RedisSync.Tests.Fixtures;
using Xunit.Abstractions;
using static RedisSync.Tests.Realtime.RealtimeHelpers;

namespace RedisSync.Tests.Realtime;

/// <summary>
/// A collection's feed gets its commits from pub/sub in the order Redis published them. A feed that saw them out of
/// order would still deliver exactly once and in order (it reads the gap from the change log), but each such read is
/// a Redis round trip in the delivery path. The test runs a gateway process of its own, so its <c>/metrics</c> counts
/// only this test's feed.
/// </summary>
public sealed partial class FeedOrderTests(ITestOutputHelper output)
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

        using var http = Client(gateway);
        using var otherHttp = Client(other);
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

        var metrics = await http.GetStringAsync("/metrics");
        var delivered = Sample(metrics, "redissync_changes_delivered_total");
        var backfills = Sample(metrics, "redissync_backfills_total");
        output.WriteLine($"delivered {delivered}, backfills {backfills?.ToString(CultureInfo.InvariantCulture) ?? "none"}");
        Assert.Equal(writers * each, delivered);
        Assert.True(backfills is null or 0, $"the feed read the change log {backfills} times to fill gaps that were only reorderings");
    }

    private static HttpClient Client(GatewayProcess gateway)
    {
        var http = new HttpClient { BaseAddress = gateway.BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Add("X-Api-Key", TestKeys.Writer);
        return http;
    }

    // The value of a metric without labels (or the sum over its label sets) in Prometheus text, or null when absent.
    private static long? Sample(string metrics, string name)
    {
        var values = SampleLine().Matches(metrics).Where(m => m.Groups["name"].Value == name)
            .Select(m => long.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture)).ToList();
        return values.Count == 0 ? null : values.Sum();
    }

    [GeneratedRegex(@"^(?<name>redissync_[a-z_]+)(\{[^}]*\})? (?<value>\d+)", RegexOptions.Multiline)]
    private static partial Regex SampleLine();
}
