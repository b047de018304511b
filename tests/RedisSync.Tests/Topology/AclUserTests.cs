using System.Net;
using RedisSync.Tests.Fixtures;
using StackExchange.Redis;
using Xunit.Abstractions;
using static RedisSync.Tests.Api.Http;
using static RedisSync.Tests.Realtime.RealtimeHelpers;

namespace RedisSync.Tests.Topology;

/// <summary>
/// The smallest ACL a gateway's Redis user needs: the commands RedisSync sends, the commands StackExchange.Redis
/// 3.4 sends when it connects (found in ACL LOG after denied connects), keys and channels under <c>rs:</c> only.
/// </summary>
public sealed class AclUserTests(ITestOutputHelper output)
{
    /// <summary>The ACL rules after <c>ACL SETUSER gw on &gt;password</c>.</summary>
    public static readonly string[] GatewayRules =
    [
        "resetkeys", "~rs:*", "%R~__Booksleeve_TieBreak", "resetchannels", "&rs:*", "&__Booksleeve_MasterChanged",
        // The SignalR backplane's channels (signals, presence events, connection and group messages).
        "&RedisSync.Gateway.Realtime.SyncHub:*", "-@all",
        // Connecting: what StackExchange.Redis sends (HELLO and AUTH need no permission). Without ECHO, CONFIG GET
        // or CLIENT ID the multiplexer never reports itself connected; TIME is for merge.lua.
        "+client|setname", "+client|id", "+echo", "+info", "+ping", "+subscribe", "+unsubscribe",
        "+cluster|nodes", "+cluster|shards", "+cluster|slots", "+config|get", "+time",
        // Cluster: READONLY on connections to replicas, ASKING before a command redirected by -ASK.
        "+readonly", "+asking",
        // RedisSync: scripts, reads, the change log, pub/sub, replica acknowledgements.
        "+evalsha", "+eval", "+script|load", "+get", "+set", "+mget", "+hget", "+hset", "+hdel", "+hgetall",
        "+xadd", "+xrange", "+xrevrange", "+zadd", "+zrem", "+zcard", "+zrange", "+zrangebylex", "+sadd", "+smembers",
        "+publish", "+spublish", "+ssubscribe", "+sunsubscribe", "+wait",
        // Presence (its scripts and reads: members, leases, reaping).
        "+hmget", "+zscore", "+zrangebyscore", "+del",
    ];

    [Theory]
    [InlineData(RedisProtocol.Resp3)]
    [InlineData(RedisProtocol.Resp2)]
    public async Task AUserWithOnlyTheGatewaysCommandsConnectsAndDoesItsWork(RedisProtocol protocol)
    {
        await using var redis = await RedisServer.StartAsync();
        await redis.CliCheckedAsync(["ACL", "SETUSER", "gw", "on", ">gw-password-1", .. GatewayRules]);
        var config = ConfigurationOptions.Parse(redis.ConnectionString + ",user=gw,password=gw-password-1");
        config.Protocol = protocol;
        await using var mux = await ConnectionMultiplexer.ConnectAsync(config);
        await ReportDenialsAsync(redis, $"connect over {protocol}");
        Assert.True(mux.IsConnected);

        var db = mux.GetDatabase();
        await db.PingAsync();
        await db.StringSetAsync("rs:{c}:k", "v");
        Assert.Equal("v", (string?)await db.StringGetAsync("rs:{c}:k"));
        await db.HashSetAsync("rs:{c}:meta", "last", "1-0");
        Assert.Single(await db.HashGetAllAsync("rs:{c}:meta"));
        await db.SortedSetAddAsync("rs:{c}:ids", "a", 0);
        Assert.Single(await db.SortedSetRangeByValueAsync("rs:{c}:ids", default, default, Exclude.None, Order.Ascending, 0, 10));
        await db.StreamAddAsync("rs:{c}:log", "f", "v");
        Assert.Single(await db.StreamRangeAsync("rs:{c}:log", "-", "+"));
        Assert.Single(await db.StreamRangeAsync("rs:{c}:log", "-", "+", messageOrder: Order.Descending));
        await db.SetAddAsync("rs:collections", "c");
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await mux.GetSubscriber().SubscribeAsync(RedisChannel.Literal("rs:{c}:changes"), (_, m) => received.TrySetResult(m!));
        await db.ScriptEvaluateAsync("redis.call('XADD', KEYS[1], '*', 'f', 'v') return redis.call('PUBLISH', ARGV[1], 'hello')",
            ["rs:{c}:log"], ["rs:{c}:changes"]);
        Assert.Equal("hello", await received.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, (long)await mux.GetServer(mux.GetEndPoints()[0]).ExecuteAsync("WAIT", 0, 0));
        await ReportDenialsAsync(redis, $"work over {protocol}");
        Assert.Equal("0", (await redis.CliCheckedAsync("ACL", "LOG")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length.ToString());

        // And nothing outside rs: or outside the list.
        await Assert.ThrowsAsync<RedisServerException>(() => db.StringSetAsync("other:k", "v"));
        await Assert.ThrowsAsync<RedisServerException>(() => db.KeyDeleteAsync("rs:{c}:k"));
        await Assert.ThrowsAsync<RedisServerException>(() => db.ExecuteAsync("OBJECT", "ENCODING", "rs:{c}:k"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TheGatewayServesAsTheAclUserOnOneServerAndOnTheCluster(bool onCluster)
    {
        await using var own = onCluster ? null : await RedisServer.StartAsync();
        var cluster = onCluster ? await RedisCluster.SharedAsync() : null;
        IReadOnlyList<RedisServer> nodes = own is not null ? [own] : cluster!.Nodes.Select(n => n.Server).ToArray();
        // ACLs are per node: a cluster needs the user on every node.
        foreach (var node in nodes) await node.CliCheckedAsync(["ACL", "SETUSER", "gw", "on", ">gw-password-1", .. GatewayRules]);
        var connection = (own?.ConnectionString ?? cluster!.ConnectionString) + ",user=gw,password=gw-password-1";

        await using var gateway = await LiveGateway.StartAsync(new AclGateway(own, cluster, connection));
        var http = gateway.HttpClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/ready")).StatusCode);
        var c = Unique.Collection("acl");
        await using var hub = await gateway.ConnectHubAsync();
        await hub.SubscribeAsync(c);
        var seq = await PutAsync(http, c, "r1", new { a = 1 });
        Assert.Equal(seq, (await hub.NextChangesAsync(1, TimeSpan.FromSeconds(30)))[0].Seq());
        await (await http.PatchRawAsync(Record(c, "r1"), """{"version":1000000000,"data":{"b":2}}""")).JsonAsync(HttpStatusCode.OK);
        await (await http.PostRawAsync(Records(c), """{"records":[{"id":"r2","op":"put","version":1,"data":{"x":1}},{"id":"r1","op":"delete","version":2000000000}]}"""))
            .JsonAsync(HttpStatusCode.OK);
        await (await http.GetAsync(Record(c, "r2") + "?include=clocks")).JsonAsync(HttpStatusCode.OK);
        Assert.Single((await (await http.GetAsync(Records(c))).JsonAsync(HttpStatusCode.OK)).GetProperty("items").EnumerateArray());
        Assert.Equal(4, (await http.AllChangesAsync(c)).Count); // put, patch, batch put and delete
        var collections = await (await http.GetAsync("/api/v1/collections")).JsonAsync(HttpStatusCode.OK);
        Assert.Contains(c, collections.GetRawText(), StringComparison.Ordinal);

        foreach (var node in nodes)
        {
            var denied = DeniedForUser(await node.CliCheckedAsync("ACL", "LOG"), "gw");
            Assert.True(denied.Count == 0, $"{node.EndPoint} denied gw: {string.Join("; ", denied)}");
        }
    }

    // redis-cli prints ACL LOG entries flattened, one field name or value per line.
    private static List<string> DeniedForUser(string aclLog, string user)
    {
        var lines = aclLog.Split('\n', StringSplitOptions.TrimEntries);
        var denied = new List<string>();
        for (var i = 0; i + 1 < lines.Length; i++)
            if (lines[i] == "username" && lines[i + 1] == user)
            {
                var entryStart = Array.LastIndexOf(lines, "reason", i);
                denied.Add(string.Join(' ', lines[entryStart..i]));
            }
        return denied;
    }

    /// <summary>A gateway on a given Redis (a server or the cluster) with a connection string naming the ACL user.</summary>
    private sealed class AclGateway : LiveGateway
    {
        public AclGateway(RedisServer? server, RedisCluster? cluster, string connectionString)
        {
            if (server is not null) UseRedis(server);
            else UseCluster(cluster!);
            Settings["Redis:ConnectionString"] = connectionString;
        }
    }

    private async Task ReportDenialsAsync(RedisServer redis, string when)
    {
        var log = await redis.CliCheckedAsync("ACL", "LOG");
        output.WriteLine($"ACL LOG after {when}:\n{(log.Trim().Length == 0 ? "(empty)" : log)}");
    }
}
