using System.Diagnostics;
using System.Globalization;
using RedisSync.Tests.Fixtures;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace RedisSync.Tests.Topology;

/// <summary>
/// The cluster fixture does what the chaos tests will lean on: a healthy 3+3 cluster, a master's SIGKILL
/// followed by its replica's promotion, the old master's return as a replica, and a slot migration under
/// writes. Checked through StackExchange.Redis 3.4, the client the gateway uses.
/// </summary>
public sealed class ClusterFixtureTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task TheSharedClusterHasThreeMastersEachWithAReplicaAndTakesWritesOnEveryShard()
    {
        var cluster = await RedisCluster.SharedAsync();
        await using var mux = await ConnectionMultiplexer.ConnectAsync(cluster.ConnectionString);
        var servers = mux.GetServers();
        Assert.Equal(6, servers.Length);
        Assert.Equal(3, servers.Count(s => s.IsConnected && !s.IsReplica));
        Assert.Equal(3, servers.Count(s => s.IsConnected && s.IsReplica));

        // Three tags whose slots lie on three different masters: each write lands where the fixture says.
        var db = mux.GetDatabase();
        var owners = new HashSet<string>();
        for (var i = 0; owners.Count < 3 && i < 100; i++)
        {
            var key = $"fixture:{{t{i}}}:{Guid.NewGuid():N}";
            var master = await cluster.MasterOfAsync(key);
            if (!owners.Add(master.Id)) continue;
            await db.StringSetAsync(key, "v");
            Assert.Equal("v", (await cluster.CliAsync(master, "GET", key)).Trim());
            // A string argument would pick GetServer(string hostAndPort): the key must be typed as RedisKey.
            Assert.Equal(master.EndPoint, Format(mux.GetServer((RedisKey)key).EndPoint));
        }
        Assert.Equal(3, owners.Count);
    }

    [Fact]
    public async Task AKilledMasterIsReplacedByItsReplicaAndRejoinsAsItsReplicaWhenRestarted()
    {
        await using var cluster = await RedisCluster.StartAsync();
        const string Key = "fixture:{failover}:k";
        var before = await cluster.MasterOfAsync(Key);
        var replica = Assert.Single(await cluster.ReplicasOfAsync(before));
        // WAIT counts replicas that have the writes of the connection it runs on: SET and WAIT share one. (Two
        // redis-cli runs did not: the WAIT answered 1 at once, and once under load the replica was promoted empty.)
        await using (var mux = await ConnectionMultiplexer.ConnectAsync(cluster.ConnectionString))
        {
            await mux.GetDatabase().StringSetAsync(Key, "kept");
            Assert.Equal(1, (long)await mux.GetServer((RedisKey)Key).ExecuteAsync("WAIT", 1, 5000));
        }

        var clock = Stopwatch.StartNew();
        var killed = await cluster.KillMasterOfAsync(Key);
        Assert.Equal(before, killed);
        var promoted = await cluster.WaitForFailoverAsync(killed, Wait);
        output.WriteLine($"failover: {clock.ElapsedMilliseconds} ms from SIGKILL until every node agreed on {promoted} (node timeout {RedisCluster.NodeTimeoutMs} ms)");
        Assert.Equal(replica, promoted);
        Assert.Equal(promoted, await cluster.MasterOfAsync(Key));
        var kept = (await cluster.CliAsync(promoted, "GET", Key)).Trim();
        if (kept != "kept")
        {
            // Say what the promoted node held (DBSIZE 0 and offset 0 showed that the write had never reached it).
            output.WriteLine($"GET on {promoted} gave '{kept}'; DBSIZE {(await cluster.CliAsync(promoted, "DBSIZE")).Trim()}");
            output.WriteLine(await cluster.CliAsync(promoted, "INFO", "replication"));
            output.WriteLine(await cluster.CliAsync(promoted, "CLUSTER", "NODES"));
        }
        Assert.Equal("kept", kept);
        Assert.Equal("master", (await cluster.InfoAsync(promoted, "replication"))["role"]);

        clock.Restart();
        await cluster.RestartAsync(killed, Wait);
        output.WriteLine($"rejoin: {clock.ElapsedMilliseconds} ms from restart until it replicated from {promoted}");
        var info = await cluster.InfoAsync(killed, "replication");
        Assert.Equal("slave", info["role"]);
        Assert.Equal(promoted.Port.ToString(CultureInfo.InvariantCulture), info["master_port"]);
        Assert.Equal("up", info["master_link_status"]);
        Assert.Equal([killed], await cluster.ReplicasOfAsync(promoted));
    }

    [Fact]
    public async Task ASlotMigratedWhileWritesGoOnEndsOnTheTargetWithEveryAcknowledgedWrite()
    {
        await using var cluster = await RedisCluster.StartAsync();
        await using var mux = await ConnectionMultiplexer.ConnectAsync(cluster.ConnectionString);
        var db = mux.GetDatabase();
        const string Tag = "{moving}";
        var slot = await cluster.KeySlotAsync(Tag);
        var source = await cluster.MasterOfSlotAsync(slot);
        var target = (await cluster.MastersAsync()).First(n => n != source);

        // Enough keys for several MIGRATE batches; writers keep incrementing them (and adding new ones) meanwhile.
        const int Keys = 250;
        for (var i = 0; i < Keys; i++) await db.StringSetAsync($"fixture:{Tag}:{i}", 0);
        var acknowledged = new long[Keys + 50];
        using var stop = new CancellationTokenSource(Wait);
        var migrated = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            var errors = 0;
            for (var n = 0; n < 20_000 && !stop.IsCancellationRequested && (!migrated.Task.IsCompleted || n < 200); n++)
            {
                var i = (n * 7 + w) % acknowledged.Length;
                try
                {
                    await db.StringIncrementAsync($"fixture:{Tag}:{i}");
                    Interlocked.Increment(ref acknowledged[i]);
                }
                catch (RedisServerException e) when (e.Message.StartsWith("TRYAGAIN", StringComparison.Ordinal))
                {
                    errors++; // single-key commands should not see it, but an answer of no is still not a lost write
                }
            }
            return errors;
        })).ToArray();

        var clock = Stopwatch.StartNew();
        var moved = await cluster.MigrateSlotAsync(slot, target, batchSize: 40, Wait);
        migrated.TrySetResult();
        output.WriteLine($"migration of slot {slot} ({moved} keys) from {source} to {target}: {clock.ElapsedMilliseconds} ms");
        var tryAgains = (await Task.WhenAll(writers).WaitAsync(Wait)).Sum();
        output.WriteLine($"TRYAGAIN answers seen by single-key writers: {tryAgains}");

        Assert.True(moved >= Keys, $"moved {moved} keys");
        Assert.Equal(target, await cluster.MasterOfSlotAsync(slot));
        Assert.Equal("0", (await cluster.CliAsync(source, "CLUSTER", "COUNTKEYSINSLOT", slot.ToString(CultureInfo.InvariantCulture))).Trim());
        for (var i = 0; i < acknowledged.Length; i++)
        {
            var value = await db.StringGetAsync($"fixture:{Tag}:{i}");
            Assert.Equal(acknowledged[i], value.IsNull ? 0 : (long)value);
        }
    }

    private static string Format(System.Net.EndPoint? endPoint) =>
        endPoint is System.Net.IPEndPoint ip ? $"{ip.Address}:{ip.Port}" : endPoint?.ToString() ?? "";
}

/// <summary>The switch between a server per fixture and the shared cluster (REDISSYNC_TEST_REDIS).</summary>
public sealed class TestRedisModeTests
{
    [Fact]
    public async Task AGatewayFixtureStoresItsCollectionsWhereTheModeSays()
    {
        await using var gateway = new GatewayFactory();
        await ((IAsyncLifetime)gateway).InitializeAsync();
        var c = Unique.Collection("mode");
        var http = gateway.ClientWithKey();
        (await http.PutAsync($"/api/v1/collections/{c}/records/r1",
            new StringContent("""{"version":1,"data":{"a":1}}""", System.Text.Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        var key = $"rs:{{{c}}}:r:r1";

        Assert.Equal(TestRedis.OnCluster, gateway.Cluster is not null);
        if (gateway.Cluster is { } cluster)
        {
            Assert.Same(await RedisCluster.SharedAsync(), cluster);
            Assert.Throws<InvalidOperationException>(() => gateway.Redis);
            // The record lives on the master that owns its collection's hash tag, and only there.
            var slot = (await cluster.KeySlotAsync(key)).ToString(CultureInfo.InvariantCulture);
            var owner = await cluster.MasterOfAsync(key);
            Assert.Equal("1", (await cluster.CliAsync(owner, "EXISTS", key)).Trim());
            foreach (var master in (await cluster.MastersAsync()).Where(m => m != owner))
                Assert.Equal("0", (await cluster.CliAsync(master, "CLUSTER", "COUNTKEYSINSLOT", slot)).Trim());
        }
        else
        {
            Assert.Equal("1", (await gateway.Redis.CliAsync("EXISTS", key)).Trim());
        }
    }

    [Fact]
    public async Task AFixtureThatOptsOutHasAServerOfItsOwnInEitherMode()
    {
        await using var gateway = new GatewayFactory { OwnRedisServer = true };
        await ((IAsyncLifetime)gateway).InitializeAsync();
        Assert.Null(gateway.Cluster);
        Assert.Equal(gateway.Redis.ConnectionString, gateway.RedisConnectionString);
        Assert.Equal("PONG", (await gateway.Redis.CliAsync("PING")).Trim());
    }
}
