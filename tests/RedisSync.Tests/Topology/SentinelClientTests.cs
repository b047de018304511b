using System.Collections.Concurrent;
using System.Diagnostics;
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
