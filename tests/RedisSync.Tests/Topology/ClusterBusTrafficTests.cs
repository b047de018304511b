using System.Globalization;
using RedisSync.Tests.Fixtures;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace RedisSync.Tests.Topology;

/// <summary>
/// Where to read the cluster-bus cost of a change notification: CLUSTER INFO's per-type message counters
/// (<c>cluster_stats_messages_publish_sent</c>, <c>cluster_stats_messages_publishshard_sent</c>, and their
/// <c>_received</c> twins) summed over the nodes. Classic PUBLISH is forwarded to every other node; SPUBLISH
/// only to the replicas of the shard that owns the channel.
/// </summary>
public sealed class ClusterBusTrafficTests(ITestOutputHelper output)
{
    private const int Messages = 200;

    [Fact]
    public async Task PublishCrossesTheBusToEveryOtherNodeAndSpublishOnlyToItsShardsReplica()
    {
        // Its own cluster: the counters are node-wide, and other tests publish on the shared one.
        await using var cluster = await RedisCluster.StartAsync();
        await using var mux = await ConnectionMultiplexer.ConnectAsync(cluster.ConnectionString);
        var others = cluster.Nodes.Count - 1;

        var classic = await MeasureAsync(cluster, new ClusterPubSubTests.ChangePublisher(mux.GetDatabase(), ClusterPubSubTests.Kind.Literal, "{bus}"));
        var sharded = await MeasureAsync(cluster, new ClusterPubSubTests.ChangePublisher(mux.GetDatabase(), ClusterPubSubTests.Kind.Sharded, "{bus}"));
        output.WriteLine($"{Messages} changes through the script, summed over {cluster.Nodes.Count} nodes:");
        output.WriteLine($"  PUBLISH:  {classic}");
        output.WriteLine($"  SPUBLISH: {sharded}");

        Assert.Equal(Messages * others, classic.PublishSent);
        Assert.Equal(Messages * others, classic.PublishReceived);
        Assert.Equal(0, classic.ShardSent);
        Assert.Equal(Messages, sharded.ShardSent); // one replica per master
        Assert.Equal(Messages, sharded.ShardReceived);
        Assert.Equal(0, sharded.PublishSent);
    }

    private static async Task<BusCounters> MeasureAsync(RedisCluster cluster, ClusterPubSubTests.ChangePublisher publisher)
    {
        var before = await BusCounters.ReadAsync(cluster);
        for (var n = 1; n <= Messages; n++) await publisher.PublishAsync(n);
        // The bus is asynchronous: a node counts a message as sent before its peer has read it. Wait until every
        // message counted as sent was counted as received too.
        return await Poll.UntilAsync(async () => (await BusCounters.ReadAsync(cluster)) - before,
            d => d.PublishReceived >= d.PublishSent && d.ShardReceived >= d.ShardSent,
            TimeSpan.FromSeconds(15), "the cluster bus to deliver what it counted as sent");
    }

    /// <summary>Publish-related cluster-bus message counters and CPU seconds, summed over the nodes.</summary>
    private sealed record BusCounters(long PublishSent, long PublishReceived, long ShardSent, long ShardReceived, long AllSent, double CpuSeconds)
    {
        public static async Task<BusCounters> ReadAsync(RedisCluster cluster)
        {
            long publishSent = 0, publishReceived = 0, shardSent = 0, shardReceived = 0, allSent = 0;
            double cpu = 0;
            foreach (var node in cluster.Nodes)
            {
                var info = await cluster.ClusterInfoAsync(node);
                long Counter(string name) => long.Parse(info.GetValueOrDefault(name, "0"), CultureInfo.InvariantCulture);
                publishSent += Counter("cluster_stats_messages_publish_sent");
                publishReceived += Counter("cluster_stats_messages_publish_received");
                shardSent += Counter("cluster_stats_messages_publishshard_sent");
                shardReceived += Counter("cluster_stats_messages_publishshard_received");
                allSent += Counter("cluster_stats_messages_sent");
                var usage = await cluster.InfoAsync(node, "cpu");
                cpu += double.Parse(usage["used_cpu_sys"], CultureInfo.InvariantCulture) + double.Parse(usage["used_cpu_user"], CultureInfo.InvariantCulture);
            }
            return new BusCounters(publishSent, publishReceived, shardSent, shardReceived, allSent, cpu);
        }

        public static BusCounters operator -(BusCounters a, BusCounters b) =>
            new(a.PublishSent - b.PublishSent, a.PublishReceived - b.PublishReceived, a.ShardSent - b.ShardSent,
                a.ShardReceived - b.ShardReceived, a.AllSent - b.AllSent, a.CpuSeconds - b.CpuSeconds);

        public override string ToString() =>
            $"publish sent {PublishSent} / received {PublishReceived}, publishshard sent {ShardSent} / received {ShardReceived}, " +
            $"all bus messages sent {AllSent} (pings included), Redis CPU {CpuSeconds * 1000:0} ms";
    }
}
