using System.Diagnostics;
using RedisSync.Tests.Fixtures;
using Xunit.Abstractions;

namespace RedisSync.Tests.Cluster;

/// <summary>
/// High availability without sharding: two gateway processes given only the sentinels and a <c>serviceName=</c>
/// (one master, one replica, three sentinels on loopback), under writes and subscriptions, across a master's SIGKILL.
/// </summary>
[Collection(ClusterFaults.Name)]
public sealed class SentinelFailoverTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task AfterTheSentinelsPromoteTheReplicaTheGatewaysWriteToItAndSubscribersResumeWithoutAGap()
    {
        await using var sentinel = await RedisSentinel.StartAsync();
        var gateways = new List<GatewayProcess>();
        try
        {
            gateways.AddRange(await Task.WhenAll(GatewayProcess.StartAsync(sentinel.ConnectionString), GatewayProcess.StartAsync(sentinel.ConnectionString)));
            var pool = new GatewayPool(gateways.Select(g => g.BaseUrl));
            using var http = GatewayPool.CreateHttpClient();
            string[] collections = [Unique.Collection("sentinel"), Unique.Collection("sentinel")];
            await using var traffic = await SyncTraffic.StartAsync(pool, http, collections);
            await traffic.WaitForWritesAsync(collections[0], 50, Wait, "load before the kill");

            var clock = Stopwatch.StartNew();
            var killed = await sentinel.KillMasterAsync();
            var promoted = await sentinel.WaitForFailoverAsync(killed, Wait);
            var failedOver = clock.Elapsed;
            await traffic.WaitForWritesAsync(collections[0], 30, Wait, "writes to the new master");
            await traffic.WaitForDeliveriesAsync(collections[0], 30, Wait, "deliveries after the failover");
            output.WriteLine($"{killed.EndPoint} killed; the sentinels named {promoted.EndPoint} after {failedOver.TotalMilliseconds:0} ms; " +
                             $"30 more writes acknowledged {clock.ElapsedMilliseconds} ms after the kill");

            var verdict = await traffic.FinishAsync(Wait);
            output.WriteLine(verdict.Summary());
            Assert.Empty(verdict.Violations());
            // The writes after the failover are on the promoted master (nothing in the configuration names it).
            foreach (var c in verdict.Collections)
                Assert.Equal(c.Final.LastSeq, (await promoted.CliCheckedAsync("HGET", $"rs:{{{c.Collection}}}:meta", "last")).Trim());
        }
        finally
        {
            foreach (var g in gateways) await g.DisposeAsync();
        }
    }
}
