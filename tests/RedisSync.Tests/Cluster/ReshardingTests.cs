using System.Diagnostics;
using RedisSync.Tests.Fixtures;
using Xunit.Abstractions;

namespace RedisSync.Tests.Cluster;

/// <summary>
/// A busy collection's slot moved to another master while it is written and subscribed to, the way
/// <c>redis-cli --cluster reshard</c> moves it (IMPORTING/MIGRATING, MIGRATE in batches, SETSLOT NODE).
/// </summary>
[Collection(ClusterFaults.Name)]
public sealed class ReshardingTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ABusyCollectionsSlotMovesUnderLoadWithNoWriteLostHalfAppliedOrMissedBySubscribers()
    {
        await using var rig = await ClusterRig.StartAsync(gateways: 2);
        var collections = await rig.CollectionsOnEveryMasterAsync("reshard");
        var busy = collections[0];
        await using var traffic = await SyncTraffic.StartAsync(rig.Pool, rig.Http, collections);
        await traffic.WaitForWritesAsync(busy, 100, Wait, "records and a log to move");

        var slot = RedisCluster.HashSlot(busy);
        var source = await rig.MasterOfAsync(busy);
        var target = (await rig.Cluster.MastersAsync()).First(m => m != source);
        var before = traffic.Load.Answers.GetValueOrDefault("503");
        var clock = Stopwatch.StartNew();
        // Small batches: the slot stays half moved for longer, so more writes meet it that way.
        var moved = await rig.Cluster.MigrateSlotAsync(slot, target, batchSize: 5, Wait);
        output.WriteLine($"slot {slot} of {busy}: {moved} keys moved from {source} to {target} in {clock.ElapsedMilliseconds} ms; " +
                         $"{traffic.Load.Answers.GetValueOrDefault("503") - before} writes answered 503 meanwhile");
        await traffic.WaitForWritesAsync(busy, 30, Wait, "writes on the new owner");
        await traffic.WaitForDeliveriesAsync(busy, 30, Wait, "deliveries from the new owner");

        var verdict = await traffic.FinishAsync(Wait);
        output.WriteLine(verdict.Summary());
        Assert.Equal(target, await rig.MasterOfAsync(busy));
        Assert.Empty(verdict.Violations()); // only 2xx and 503 answers among them
        Assert.Empty(verdict.Lost);
        Assert.Equal(0, verdict.Resyncs); // a migration takes nothing back

        // Nothing half applied: every record is exactly what its last change-log entry says, and every entry's
        // record is still there (the writers only PUT).
        var final = verdict.Collections.Single(c => c.Collection == busy).Final;
        var lastEntries = final.Log.GroupBy(e => e.Id).ToDictionary(g => g.Key, g => g.Last());
        Assert.Equal(lastEntries.Keys.Order(), final.Records.Keys.Order());
        foreach (var (id, record) in final.Records)
        {
            Assert.Equal(lastEntries[id].Seq, record.Seq);
            Assert.Equal(lastEntries[id].Revision, record.Revision);
            Assert.Equal(lastEntries[id].Version, record.Version);
        }
    }
}
