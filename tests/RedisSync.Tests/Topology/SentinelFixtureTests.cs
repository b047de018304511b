using System.Diagnostics;
using System.Globalization;
using RedisSync.Tests.Fixtures;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace RedisSync.Tests.Topology;

/// <summary>The sentinel fixture: a master, an in-sync replica, three sentinels that agree, and a failover after SIGKILL.</summary>
public sealed class SentinelFixtureTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task AKilledMasterIsReplacedByTheReplicaAndFollowsItWhenRestarted()
    {
        await using var sentinel = await RedisSentinel.StartAsync("fixture-primary");
        var master = await sentinel.MasterAsync();
        Assert.Equal(sentinel.DataNodes[0], master);
        Assert.Equal("master", (await master.InfoAsync("replication"))["role"]);
        // WAIT counts replicas that have the writes of the connection it runs on: SET and WAIT share one.
        await using (var mux = await ConnectionMultiplexer.ConnectAsync(master.ConnectionString))
        {
            await mux.GetDatabase().StringSetAsync("k", "kept");
            Assert.Equal(1, (long)await mux.GetServer(mux.GetEndPoints()[0]).ExecuteAsync("WAIT", 1, 5000));
        }

        var clock = Stopwatch.StartNew();
        var killed = await sentinel.KillMasterAsync();
        var promoted = await sentinel.WaitForFailoverAsync(killed, Wait);
        output.WriteLine($"sentinel failover: {clock.ElapsedMilliseconds} ms from SIGKILL until all sentinels named {promoted.EndPoint} and it said role:master (down-after {RedisSentinel.DownAfterMs} ms)");
        Assert.Equal(sentinel.DataNodes[1], promoted);
        Assert.Equal("kept", (await promoted.CliCheckedAsync("GET", "k")).Trim());

        clock.Restart();
        // Longer than the failover's wait: a sentinel converts a returning master only after it has seen it up for 8 s
        // (about 15 s in all here), and not at all while in TILT mode (30 s), which a loaded CI machine can trigger.
        await sentinel.RestartAsync(killed, 2 * Wait);
        output.WriteLine($"old master rejoined as a replica after {clock.ElapsedMilliseconds} ms");
        var info = await killed.InfoAsync("replication");
        Assert.Equal("slave", info["role"]);
        Assert.Equal(promoted.Port.ToString(CultureInfo.InvariantCulture), info["master_port"]);
        Assert.Equal(promoted, await sentinel.MasterAsync());
    }
}
