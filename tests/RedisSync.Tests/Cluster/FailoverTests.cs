using System.Diagnostics;
using System.Net;
using RedisSync.Tests.Fixtures;
using Xunit.Abstractions;

namespace RedisSync.Tests.Cluster;

/// <summary>
/// A master SIGKILLed under load: two gateway processes on a 3+3 cluster, writers over HTTP and subscribers with the
/// official SignalR client on both. Counted at the end against the final change log (<see cref="Verdict"/>).
/// </summary>
[Collection(ClusterFaults.Name)]
public sealed class FailoverTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task WhenABusyCollectionsMasterIsKilledTheGatewaysFollowTheNewMasterAndSubscribersContinueWithoutAGap()
    {
        await using var rig = await ClusterRig.StartAsync(gateways: 2);
        var collections = await rig.CollectionsOnEveryMasterAsync("failover");
        var busy = collections[0];
        await using var traffic = await SyncTraffic.StartAsync(rig.Pool, rig.Http, collections);
        await traffic.WaitForWritesAsync(busy, 50, Wait, "load before the kill");

        var clock = Stopwatch.StartNew();
        var killed = await rig.Cluster.KillMasterOfAsync(busy);
        var promoted = await rig.Cluster.WaitForFailoverAsync(killed, Wait);
        var failedOver = clock.Elapsed;
        // Nothing tells the gateways about the new master: they find it themselves.
        await traffic.WaitForWritesAsync(busy, 30, Wait, "writes through the new master");
        await traffic.WaitForDeliveriesAsync(busy, 30, Wait, "deliveries after the failover");
        output.WriteLine($"{killed} killed; {promoted} promoted after {failedOver.TotalMilliseconds:0} ms; 30 more writes to {busy} acknowledged {clock.ElapsedMilliseconds} ms after the kill");

        var verdict = await traffic.FinishAsync(Wait);
        output.WriteLine(verdict.Summary());
        Assert.Empty(verdict.Violations());
        // Redis:AckReplicas=0: a write the master answered and had not yet sent to its replica may be lost (counted
        // above); what subscribers saw of such a write was followed by a resync (checked in Violations).
    }

    [Fact]
    public async Task WithAckReplicasOneNoAcknowledgedWriteIsLostAcrossRepeatedKillsOfTheSameShardsMaster()
    {
        await using var rig = await ClusterRig.StartAsync(gateways: 2, settings: new Dictionary<string, string>
        {
            ["Redis:AckReplicas"] = "1",
            ["Redis:AckTimeout"] = "00:00:00.500",
        });
        var collections = await rig.CollectionsOnEveryMasterAsync("ack");
        var busy = collections[0];
        await using var traffic = await SyncTraffic.StartAsync(rig.Pool, rig.Http, collections);
        await traffic.WaitForWritesAsync(busy, 50, Wait, "load before the first kill");

        for (var round = 1; round <= 2; round++)
        {
            var clock = Stopwatch.StartNew();
            var killed = await rig.Cluster.KillMasterOfAsync(busy);
            var promoted = await rig.Cluster.WaitForFailoverAsync(killed, Wait);
            var failedOver = clock.Elapsed;
            // The promoted master has no replica until the killed one returns as its replica: the shard's writes are 503
            // meanwhile, while the other shards go on.
            await traffic.WaitForWritesAsync(collections[1], 10, Wait, "another shard while the busy one has no replica");
            await rig.Cluster.RestartAsync(killed, Wait);
            var rejoined = clock.Elapsed;
            await traffic.WaitForWritesAsync(busy, 30, Wait, "writes once the shard has a replica again");
            output.WriteLine($"round {round}: {killed} killed, {promoted} promoted after {failedOver.TotalMilliseconds:0} ms, {killed} back as its replica " +
                             $"after {rejoined.TotalMilliseconds:0} ms; 30 more writes acknowledged after {clock.ElapsedMilliseconds} ms");
        }

        var verdict = await traffic.FinishAsync(Wait);
        output.WriteLine(verdict.Summary());
        Assert.Empty(verdict.Lost);
        Assert.Empty(verdict.Violations());
        Assert.True(verdict.Load.Answers.GetValueOrDefault("503") > 0, "the busy shard's writes were never refused while it had no replica");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task ChangesAFailoverTookBackAreFollowedByAResyncAndEveryClientEndsOnTheLog(int ackReplicas)
    {
        await using var rig = await ClusterRig.StartAsync(gateways: 2, settings: new Dictionary<string, string>
        {
            ["Redis:AckReplicas"] = ackReplicas.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Redis:AckTimeout"] = "00:00:00.200",
        });
        var collections = await rig.CollectionsOnEveryMasterAsync("takeback");
        var busy = collections[0];
        await using var traffic = await SyncTraffic.StartAsync(rig.Pool, rig.Http, collections);
        await traffic.WaitForWritesAsync(busy, 30, Wait, "load before the replica falls behind");

        // Cut the replica off: stopped (SIGSTOP) so it cannot reconnect, its link closed by the master (what was already
        // sent still waits in its socket). Writes the master takes from now on reach subscribers but never the replica,
        // which then wins the election.
        var master = await rig.MasterOfAsync(busy);
        var replica = Assert.Single(await rig.Cluster.ReplicasOfAsync(master));
        replica.Server.Suspend();
        try
        {
            Assert.NotEqual("0", (await rig.Cluster.CliAsync(master, "CLIENT", "KILL", "TYPE", "replica")).Trim());
            // New records, so that each is a new change (the writers' refused writes are retried as they are).
            for (var i = 0; i < 5; i++)
            {
                var cut = await ShardLossTests.PutAsync(rig.Http, rig.Pool.Live[i % 2], busy, $"cut-{i}", 1);
                Assert.Equal(ackReplicas == 0 ? HttpStatusCode.Created : HttpStatusCode.ServiceUnavailable, cut.Status);
            }
            await Poll.UntilAsync(() => Task.FromResult(traffic.Subscribers.Where(s => s.Collection == busy).All(s => s.Records.ContainsKey("cut-4"))),
                Wait, "every subscriber of the busy collection to hold the changes its replica lacks");
            await rig.Cluster.KillAsync(master);
        }
        finally
        {
            replica.Server.Resume();
        }
        var clock = Stopwatch.StartNew();
        var promoted = await rig.Cluster.WaitForFailoverAsync(master, Wait);
        Assert.Equal(replica, promoted);
        output.WriteLine($"{master} killed with changes its replica lacks; {promoted} promoted after {clock.ElapsedMilliseconds} ms");
        // At AckReplicas=1 the promoted master needs its old master back as a replica before it takes writes.
        if (ackReplicas > 0)
        {
            await rig.Cluster.RestartAsync(master, Wait);
            output.WriteLine($"{master} back as its replica after {clock.ElapsedMilliseconds} ms");
        }
        await traffic.WaitForWritesAsync(busy, 20, Wait, "writes after the failover");
        output.WriteLine($"20 more writes to {busy} acknowledged after {clock.ElapsedMilliseconds} ms");

        var verdict = await traffic.FinishAsync(Wait);
        output.WriteLine(verdict.Summary());
        Assert.Empty(verdict.Violations());
        var collection = verdict.Collections.Single(c => c.Collection == busy);
        Assert.True(collection.LogWentBack, "the failover took nothing back: the test did not do what it says");
        Assert.All(collection.Streams, s => Assert.True(s.Resyncs > 0, $"a subscriber kept going without a resync: {s}"));
        if (ackReplicas == 0) Assert.NotEmpty(verdict.Lost); // what AckReplicas=0 allows: answered 2xx, then lost
        else Assert.Empty(verdict.Lost);
    }
}

/// <summary>Tests that start clusters and kill their nodes run one at a time, beside the rest of the suite.</summary>
[CollectionDefinition(Name)]
public sealed class ClusterFaults
{
    public const string Name = "cluster faults";
}
