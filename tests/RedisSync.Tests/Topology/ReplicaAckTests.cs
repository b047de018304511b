using System.Diagnostics;
using RedisSync.Tests.Fixtures;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace RedisSync.Tests.Topology;

/// <summary>
/// <c>WAIT numreplicas timeout</c> on a cluster through StackExchange.Redis 3.4. WAIT counts the replicas that
/// have every write made by the connection it is sent on, so it must reach the master that took the write, on
/// the multiplexer's connection to that master: <c>GetServer((RedisKey)key).ExecuteAsync("WAIT", …)</c>.
/// </summary>
public sealed class ReplicaAckTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task WaitOnTheKeysServerCountsTheReplicasThatHaveTheWriteAndZeroWhenItsReplicaIsGone()
    {
        await using var cluster = await RedisCluster.StartAsync();
        await using var mux = await ConnectionMultiplexer.ConnectAsync(cluster.ConnectionString);
        var db = mux.GetDatabase();
        const string Key = "rs:{ack}:meta";
        var master = await cluster.MasterOfAsync(Key);
        var replica = Assert.Single(await cluster.ReplicasOfAsync(master));

        // GetServer(RedisKey) is the key's master; a string argument would bind to GetServer(hostAndPort).
        var server = mux.GetServer((RedisKey)Key);
        Assert.Equal(master.EndPoint, server.EndPoint.ToString());

        await db.HashSetAsync(Key, "last", "1");
        Assert.Equal(1, (long)await server.ExecuteAsync("WAIT", 1, 2000));

        // A replica that is alive to the master but applies nothing: WAIT on the writer's connection times out
        // with 0, while on another connection (no writes of its own) it answers 1 at once. So the answer is
        // about this connection's writes: the command went where the write went.
        replica.Server.Suspend();
        try
        {
            await db.HashSetAsync(Key, "last", "2");
            var clock = Stopwatch.StartNew();
            Assert.Equal(0, (long)await server.ExecuteAsync("WAIT", 1, 500));
            output.WriteLine($"WAIT 1 500 with the replica stopped (SIGSTOP): 0 after {clock.ElapsedMilliseconds} ms");
            Assert.InRange(clock.ElapsedMilliseconds, 450, 5000);
            Assert.Equal("1", (await cluster.CliAsync(master, "WAIT", "1", "500")).Trim());
        }
        finally
        {
            replica.Server.Resume();
        }
        var caughtUp = Stopwatch.StartNew();
        Assert.Equal(1, (long)await server.ExecuteAsync("WAIT", 1, 5000));
        output.WriteLine($"after SIGCONT, WAIT 1 answered 1 in {caughtUp.ElapsedMilliseconds} ms");

        // With the replica dead the master has none connected: WAIT answers 0 at its timeout.
        await cluster.KillAsync(replica);
        await Poll.UntilAsync(async () => (await cluster.InfoAsync(master, "replication"))["connected_slaves"] == "0", Wait, "the master to notice its replica is gone");
        await db.HashSetAsync(Key, "last", "3");
        var timed = Stopwatch.StartNew();
        Assert.Equal(0, (long)await server.ExecuteAsync("WAIT", 1, 300));
        output.WriteLine($"WAIT 1 300 with the replica killed: 0 after {timed.ElapsedMilliseconds} ms; WAIT 0 300 answers {(long)await server.ExecuteAsync("WAIT", 0, 300)}");
        // The write itself was applied on the master: a timeout says "not confirmed", not "not written".
        Assert.Equal("3", (string?)await db.HashGetAsync(Key, "last"));
    }

    [Fact]
    public async Task WaitCannotRunInsideAScript()
    {
        var cluster = await RedisCluster.SharedAsync();
        await using var mux = await ConnectionMultiplexer.ConnectAsync(cluster.ConnectionString);
        var error = await Assert.ThrowsAsync<RedisServerException>(() =>
            mux.GetDatabase().ScriptEvaluateAsync("return redis.call('WAIT', 1, 10)", ["rs:{ack-script}:k"]));
        output.WriteLine(error.Message);
        Assert.Contains("not allowed from script", error.Message, StringComparison.OrdinalIgnoreCase);
    }
}
