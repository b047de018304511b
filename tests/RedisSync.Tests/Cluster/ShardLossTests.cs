using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using RedisSync.Tests.Fixtures;
using Xunit.Abstractions;

namespace RedisSync.Tests.Cluster;

/// <summary>
/// One shard short of what it needs, the others healthy: which writes are refused (503, retry is safe) and which
/// go on, with Redis:AckReplicas and with Redis's <c>cluster-require-full-coverage</c>.
/// </summary>
[Collection(ClusterFaults.Name)]
public sealed class ShardLossTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task WhileAShardHasNoReplicaItsWritesAnswer503AndTheOtherShardsKeepAnswering2xx()
    {
        await using var rig = await ClusterRig.StartAsync(gateways: 1, settings: new Dictionary<string, string>
        {
            ["Redis:AckReplicas"] = "1",
            ["Redis:AckTimeout"] = "00:00:00.300",
        });
        var gateway = rig.Pool.Live[0];
        var collections = await rig.CollectionsOnEveryMasterAsync("noreplica");
        foreach (var c in collections) Assert.Equal(HttpStatusCode.Created, (await PutAsync(rig.Http, gateway, c, "r", 1)).Status);

        var master = await rig.MasterOfAsync(collections[0]);
        var replica = Assert.Single(await rig.Cluster.ReplicasOfAsync(master));
        await rig.Cluster.KillAsync(replica);
        await Poll.UntilAsync(async () => (await rig.Cluster.InfoAsync(master, "replication"))["connected_slaves"] == "0", Wait, $"{master} to see its replica gone");

        // WAIT blocks the connection it is sent on until it returns, and the gateway sends it on its one connection to
        // that master: a read of the shard sent meanwhile waits behind it (measured, not asserted).
        var refusing = PutAsync(rig.Http, gateway, collections[0], "r", 2);
        await Poll.UntilAsync(async () => (await rig.Cluster.CliAsync(master, "CLIENT", "LIST")).Contains("cmd=wait", StringComparison.Ordinal),
            Wait, $"the refused write's WAIT to block on {master}");
        var read = Stopwatch.StartNew();
        await GetVersionAsync(rig.Http, gateway, collections[0], "r");
        output.WriteLine($"a read of that shard during the refused write's WAIT took {read.ElapsedMilliseconds} ms (AckTimeout 300 ms)");
        var refused = await refusing;
        output.WriteLine($"write to the shard without its replica: {(int)refused.Status} Retry-After {refused.RetryAfter}: {refused.Body}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.Status);
        Assert.Equal("unavailable", refused.Json.GetProperty("code").GetString());
        Assert.NotNull(refused.RetryAfter);
        // "May or may not be applied": here the primary has it, unconfirmed.
        Assert.Equal(2, (await GetVersionAsync(rig.Http, gateway, collections[0], "r")));
        foreach (var c in collections.Skip(1)) Assert.Equal(HttpStatusCode.OK, (await PutAsync(rig.Http, gateway, c, "r", 2)).Status);

        // Once the replica is back, retrying the refused write is confirmed and changes nothing.
        await rig.Cluster.RestartAsync(replica, Wait);
        var retried = await PutAsync(rig.Http, gateway, collections[0], "r", 2);
        Assert.Equal(HttpStatusCode.OK, retried.Status);
        Assert.Equal("unchanged", retried.Json.GetProperty("outcome").GetString());
        Assert.Equal("applied", (await PutAsync(rig.Http, gateway, collections[0], "r", 3)).Json.GetProperty("outcome").GetString());
    }

    /// <summary>
    /// Redis's own guard, <c>min-replicas-to-write 1</c>: a master without a replica refuses every write (NOREPLICAS),
    /// inside scripts too, before the script's first write. Nothing was written, so the answer is a 503 like any
    /// other Redis refusal that retrying can cure.
    /// </summary>
    [Fact]
    public async Task WithMinReplicasToWriteAShardWithoutItsReplicaRefusesWritesWith503()
    {
        await using var rig = await ClusterRig.StartAsync(gateways: 1, clusterArgs: ["--min-replicas-to-write", "1"]);
        var gateway = rig.Pool.Live[0];
        var collections = await rig.CollectionsOnEveryMasterAsync("minreplicas");
        foreach (var c in collections) Assert.Equal(HttpStatusCode.Created, (await PutAsync(rig.Http, gateway, c, "r", 1)).Status);

        var master = await rig.MasterOfAsync(collections[0]);
        await rig.Cluster.KillAsync(Assert.Single(await rig.Cluster.ReplicasOfAsync(master)));
        await Poll.UntilAsync(async () => (await rig.Cluster.CliAsync(master, "SET", $"probe{{{collections[0]}}}", "x")).StartsWith("NOREPLICAS", StringComparison.Ordinal),
            Wait, $"{master} to refuse writes without its replica");

        var refused = await PutAsync(rig.Http, gateway, collections[0], "r", 2);
        output.WriteLine($"write to the shard without its replica: {(int)refused.Status} {refused.Body}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.Status);
        Assert.Equal(1, await GetVersionAsync(rig.Http, gateway, collections[0], "r"));
        foreach (var c in collections.Skip(1)) Assert.Equal(HttpStatusCode.OK, (await PutAsync(rig.Http, gateway, c, "r", 2)).Status);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WhenAShardLosesMasterAndReplicaTheOtherShardsGoOnOnlyIfFullCoverageIsNotRequired(bool requireFullCoverage)
    {
        await using var rig = await ClusterRig.StartAsync(gateways: 1, clusterArgs: ["--cluster-require-full-coverage", requireFullCoverage ? "yes" : "no"]);
        var gateway = rig.Pool.Live[0];
        var collections = await rig.CollectionsOnEveryMasterAsync("coverage");
        foreach (var c in collections) Assert.Equal(HttpStatusCode.Created, (await PutAsync(rig.Http, gateway, c, "r", 1)).Status);

        var master = await rig.MasterOfAsync(collections[0]);
        var replica = Assert.Single(await rig.Cluster.ReplicasOfAsync(master));
        await rig.Cluster.KillAsync(replica);
        await rig.Cluster.KillAsync(master);
        await rig.Cluster.WaitUntilMarkedFailedAsync(master, Wait);
        var state = requireFullCoverage ? "fail" : "ok";
        await rig.Cluster.WaitForStateAsync(state, Wait);
        output.WriteLine($"cluster-require-full-coverage {(requireFullCoverage ? "yes" : "no")}: {master} and its replica dead and flagged failed; every node says cluster_state:{state}");

        var lostShard = await PutAsync(rig.Http, gateway, collections[0], "r", 2);
        output.WriteLine($"  the lost shard's write: {(int)lostShard.Status} {lostShard.Body}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, lostShard.Status);
        foreach (var c in collections.Skip(1))
        {
            var answer = await PutAsync(rig.Http, gateway, c, "r", 2);
            output.WriteLine($"  a healthy shard's write: {(int)answer.Status} {answer.Body}");
            Assert.Equal(requireFullCoverage ? HttpStatusCode.ServiceUnavailable : HttpStatusCode.OK, answer.Status);
        }
    }

    internal sealed record Answer(HttpStatusCode Status, string Body, string? RetryAfter)
    {
        public JsonElement Json => JsonDocument.Parse(Body).RootElement;
    }

    internal static async Task<Answer> PutAsync(HttpClient http, Uri gateway, string collection, string id, long version)
    {
        using var content = new StringContent($$$"""{"version":{{{version}}},"data":{"v":{{{version}}}}}""", Encoding.UTF8, "application/json");
        using var response = await http.PutAsync(new Uri(gateway, $"/api/v1/collections/{collection}/records/{id}"), content);
        return new Answer(response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.RetryAfter?.ToString());
    }

    private static async Task<long> GetVersionAsync(HttpClient http, Uri gateway, string collection, string id)
    {
        var body = await http.GetStringAsync(new Uri(gateway, $"/api/v1/collections/{collection}/records/{id}"));
        return JsonDocument.Parse(body).RootElement.GetProperty("clock").GetProperty("version").GetInt64();
    }
}
