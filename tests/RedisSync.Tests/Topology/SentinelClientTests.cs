using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using RedisSync.Tests.Fixtures;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace RedisSync.Tests.Topology;

/// <summary>
/// What StackExchange.Redis 3.4 does with a <c>serviceName=</c> configuration string: connect through the
/// sentinels to the master, and follow a failover.
/// </summary>
public sealed class SentinelClientTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(RedisProtocol.Resp3)]
    [InlineData(RedisProtocol.Resp2)]
    public async Task AServiceNameConnectionWritesToTheMasterAndFollowsAFailover(RedisProtocol protocol)
    {
        await using var sentinel = await RedisSentinel.StartAsync();
        var config = ConfigurationOptions.Parse(sentinel.ConnectionString);
        config.Protocol = protocol;
        var clock = Stopwatch.StartNew();
        await using var mux = await ConnectionMultiplexer.ConnectAsync(config);
        output.WriteLine($"ConnectAsync returned after {clock.ElapsedMilliseconds} ms: IsConnected={mux.IsConnected}; " +
            string.Join(", ", mux.GetServers().Select(s => $"{s.EndPoint} {(s.IsConnected ? "up" : "down")} {(s.IsReplica ? "replica" : "master")} {s.ServerType} {s.Protocol}")));
        var events = new MultiplexerEvents(mux, clock);

        var db = mux.GetDatabase();
        await db.StringSetAsync("k", "before");
        Assert.Equal("before", (await db.StringGetAsync("k")).ToString());
        var first = await sentinel.MasterAsync();
        Assert.Equal("before", (await first.CliCheckedAsync("GET", "k")).Trim());

        var killedAt = clock.Elapsed;
        var killed = await sentinel.KillMasterAsync();
        var failover = sentinel.WaitForFailoverAsync(killed, Wait);
        // New writes every 50 ms until the sentinels agree, and a little beyond, so the first success is seen.
        var settled = failover.ContinueWith(_ => Task.Delay(1000)).Unwrap();
        var probe = await OutageProbe.RunAsync(clock, n => db.StringSetAsync("probe", n), settled, TimeSpan.FromMilliseconds(50), 1200);
        var promoted = await failover;

        var firstStarted = probe.FirstSuccessStartedAfter(killedAt);
        var firstEnded = probe.FirstSuccessEndedAfter(killedAt);
        output.WriteLine($"{probe.Succeeded} writes succeeded, {probe.Failed} failed; first success: started {(firstStarted - killedAt)?.TotalMilliseconds:0} ms after the kill, answered at {(firstEnded - killedAt)?.TotalMilliseconds:0} ms");
        foreach (var line in probe.ErrorSummary()) output.WriteLine("  " + line);
        foreach (var line in events.Lines(killedAt)) output.WriteLine("  " + line);

        Assert.NotNull(firstEnded);
        // The multiplexer writes to the promoted replica by itself: nothing in the configuration names it.
        await db.StringSetAsync("k", "after");
        Assert.Equal("after", (await promoted.CliCheckedAsync("GET", "k")).Trim());
        Assert.Contains(events.Of("ConnectionRestored"), e => e.EndPoint == promoted.EndPoint);
    }
}

/// <summary>The gateway as it is, given a <c>serviceName=</c> configuration string.</summary>
public sealed class GatewayOnSentinelTests(ITestOutputHelper output)
{
    [Fact]
    public async Task TheGatewayWritesAndDeliversThroughSentinelAndAgainAfterAFailover()
    {
        await using var sentinel = await RedisSentinel.StartAsync();
        var clock = Stopwatch.StartNew();
        await using var gateway = await LiveGateway.StartAsync(new SentinelGateway(sentinel));
        var http = gateway.HttpClient();
        await Poll.UntilAsync(async () => (await http.GetAsync("/health/ready")).IsSuccessStatusCode, TimeSpan.FromSeconds(30), "/health/ready");
        output.WriteLine($"ready {clock.ElapsedMilliseconds} ms after start");
        var c = Unique.Collection("sentinel");
        await using var hub = await gateway.ConnectHubAsync();
        await hub.SubscribeAsync(c);
        var before = await Realtime.RealtimeHelpers.PutAsync(http, c, "before", new { x = 1 });
        Assert.Equal(before, Realtime.RealtimeHelpers.Seq((await hub.NextChangesAsync(1, TimeSpan.FromSeconds(30)))[0]));

        var killedAt = clock.Elapsed;
        var killed = await sentinel.KillMasterAsync();
        var promoted = await sentinel.WaitForFailoverAsync(killed);
        output.WriteLine($"sentinels agreed on {promoted.EndPoint} after {(clock.Elapsed - killedAt).TotalMilliseconds:0} ms");
        string? after = null;
        var statuses = new Dictionary<int, int>();
        await Poll.UntilAsync(async () =>
        {
            var response = await http.PutAsync($"/api/v1/collections/{c}/records/after",
                new StringContent("""{"version":1,"data":{"y":2}}""", System.Text.Encoding.UTF8, "application/json"));
            statuses[(int)response.StatusCode] = statuses.GetValueOrDefault((int)response.StatusCode) + 1;
            if (!response.IsSuccessStatusCode) return false;
            after = (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("seq").GetString();
            return true;
        }, TimeSpan.FromSeconds(60), "a write to succeed after the failover");
        output.WriteLine($"first 2xx write {(clock.Elapsed - killedAt).TotalMilliseconds:0} ms after the kill; answers meanwhile: {string.Join(", ", statuses.Select(s => $"{s.Value} x {s.Key}"))}");
        Assert.Equal(after, Realtime.RealtimeHelpers.Seq((await hub.NextChangesAsync(1, TimeSpan.FromSeconds(30)))[0]));
        Assert.Contains("after", await promoted.CliCheckedAsync("ZRANGE", $"rs:{{{c}}}:ids", "0", "-1"));
    }

    private sealed class SentinelGateway : LiveGateway
    {
        public SentinelGateway(RedisSentinel sentinel)
        {
            UseRedis(sentinel.DataNodes[0]); // not stopped by the gateway; the fixture owns it
            Settings["Redis:ConnectionString"] = sentinel.ConnectionString;
        }
    }
}
