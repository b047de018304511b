using System.Diagnostics;
using System.Globalization;
using System.Text;
using RedisSync.Bench.Clients;
using RedisSync.Bench.Infrastructure;
using Microsoft.Extensions.Options;
using RedisSync.Bench.Measurement;
using RedisSync.Gateway.Hosting;
using RedisSync.Gateway.Merge;
using RedisSync.Gateway.Store;
using StackExchange.Redis;

namespace RedisSync.Bench.Workloads;

/// <summary>
/// What one change notification costs a 3-master cluster: the same script shape (write a key, publish a change-sized
/// message on the collection's channel) with classic PUBLISH or with SPUBLISH, changes spread over every shard, a
/// subscriber on every channel. Summed over the six nodes.
/// </summary>
public sealed record NotificationCost(
    string Command,
    int Changes,
    long Delivered,
    double ChangesPerSecond,
    double BusMessagesSentPerChange,
    double BusMessagesReceivedPerChange,
    double PublishMessagesSentPerChange,
    double RedisCpuUsPerChange,
    IReadOnlyList<double> NodeCpuUsPerChange);

/// <summary>Cores one Redis node used during a measured window.</summary>
public sealed record NodeCores(string Node, string Role, double Cores);

/// <summary>HTTP PUTs through one gateway on the cluster: to one collection (one shard), or spread over several.</summary>
public sealed record ShardedWrites(
    string Name,
    int Collections,
    int Concurrency,
    string Settings,
    double WritesPerSecond,
    LatencySummary Latency,
    long Failures,
    double GatewayCores,
    IReadOnlyList<NodeCores> Nodes);

public sealed record ClusterResult(int Masters, int ReplicasPerMaster, IReadOnlyList<NotificationCost> Notifications, IReadOnlyList<ShardedWrites> Writes);

/// <summary>
/// The <c>cluster</c> phase: a Redis Cluster of its own (3 masters with a replica each, no persistence, on loopback)
/// and a RedisSync gateway on it. Measures classic PUBLISH against SPUBLISH for change notifications (cluster-bus
/// messages from CLUSTER INFO's counters, Redis CPU from /proc, per change), and the most writes/s one collection (one
/// shard, one Redis thread) takes through one gateway next to collections spread over the shards, and with
/// Redis:AckReplicas=1.
/// </summary>
public static class ClusterBench
{
    private const int Masters = 3;
    private const int Concurrency = 64;
    // About the size of a change message of a small record (the gateway's SPUBLISH payload).
    private static readonly string Payload = new('x', 320);

    public static async Task<ClusterResult> RunAsync(BenchContext ctx, string gatewayDll)
    {
        var o = ctx.Options;
        var logs = Path.Combine(o.OutDir, "cluster");
        Directory.CreateDirectory(logs);
        BenchContext.Progress($"cluster: starting {Masters} masters and {Masters} replicas (logs in {logs})");
        await using var cluster = await BenchCluster.StartAsync(Masters, logs, ctx.Ct);

        var notifications = new List<NotificationCost>();
        var changes = o.Quick ? 5_000 : 20_000;
        // Alternating order (classic, sharded, sharded, classic): a drift in the shared machine's load falls on both.
        foreach (var sharded in new[] { false, true, true, false })
        {
            BenchContext.Progress($"cluster: {changes:N0} changes published by a script with {(sharded ? "SPUBLISH" : "PUBLISH")}");
            notifications.Add(await MeasureNotificationsAsync(cluster, sharded, changes, ctx.Ct));
            BenchContext.Progress($"  {notifications[^1].BusMessagesSentPerChange:0.00} bus messages and {notifications[^1].RedisCpuUsPerChange:0.0} µs of Redis CPU per change");
        }

        var writes = new List<ShardedWrites>();
        foreach (var (ack, cases) in new[] { (0, new[] { 1, Masters * 2 }), (1, new[] { 1 }) })
        {
            var environment = new Dictionary<string, string>(o.GatewayEnvironment) { ["Redis__AckReplicas"] = ack.ToString(CultureInfo.InvariantCulture) };
            await using var gateway = await GatewayProcess.StartAsync(GatewayKind.RedisSync, gatewayDll, cluster.ConnectionString, logs, environment, ctx.Ct);
            using var http = new GatewayHttp(gateway.BaseAddress);
            foreach (var collections in cases)
            {
                var names = await cluster.CollectionsAsync(ctx.Collection($"cluster-a{ack}-n{collections}"), collections);
                BenchContext.Progress($"cluster: PUTs at c={Concurrency} to {collections} collection(s){(ack > 0 ? ", Redis:AckReplicas=1" : "")}");
                writes.Add(await MeasureWritesAsync(ctx, cluster, gateway, http, names, ack));
                BenchContext.Progress($"  {writes[^1].WritesPerSecond:N0} writes/s, {writes[^1].Latency}; busiest node {writes[^1].Nodes.Max(n => n.Cores):0.00} cores");
            }
        }
        // The gateway above is what runs out of CPU first on a small machine; driven from this process instead (the
        // store's own write path, no HTTP), one collection meets its Redis thread's limit.
        await using (var mux = await ConnectionMultiplexer.ConnectAsync(cluster.ConnectionString))
        {
            var store = new RecordStore(mux, Options.Create(new SyncOptions()));
            // Batches take the per-call cost off this process, so more of the two cores is left to Redis.
            foreach (var (collections, perCall, depth) in new[] { (1, 1, 256), (Masters * 2, 1, 256), (1, 100, 16), (Masters * 2, 100, 16) })
            {
                var names = await cluster.CollectionsAsync(ctx.Collection($"cluster-store-n{collections}-b{perCall}"), collections);
                BenchContext.Progress($"cluster: the store in this process, {perCall} record(s) per call, {depth} in flight, to {collections} collection(s)");
                writes.Add(await MeasureStoreAsync(ctx, cluster, store, names, perCall, depth));
                BenchContext.Progress($"  {writes[^1].WritesPerSecond:N0} writes/s; busiest node {writes[^1].Nodes.Max(n => n.Cores):0.00} cores");
            }
        }
        return new ClusterResult(Masters, 1, notifications, writes);
    }

    private static async Task<ShardedWrites> MeasureStoreAsync(BenchContext ctx, BenchCluster cluster, RecordStore store, IReadOnlyList<string> collections,
        int perCall, int depth)
    {
        var o = ctx.Options;
        Operation Put(long versionBase) => async (w, i) =>
        {
            // Each worker its own records (1,000 of them, or perCall × 10 in batches), versions only growing.
            var writes = new RecordWrite[perCall];
            for (var k = 0; k < perCall; k++)
            {
                var record = perCall == 1 ? i % 1000 : (i % 10) * perCall + k;
                writes[k] = new RecordWrite(WriteOp.Put, $"w{w}-{record}", versionBase + i + 1, 0, "bench",
                    [KeyValuePair.Create("name", "\"bench\""), KeyValuePair.Create("n", i.ToString(CultureInfo.InvariantCulture))]);
            }
            await store.WriteAsync(collections[w % collections.Count], writes);
            return null;
        };
        await ClosedLoop.RunAsync("cluster store warm-up", depth, TimeSpan.Zero, o.Warmup, Put(0), null, ctx.Ct);
        var cpuBefore = cluster.CpuTimes();
        var clock = Stopwatch.StartNew();
        var load = await ClosedLoop.RunAsync("cluster store", depth, TimeSpan.Zero, o.Measure, Put(100_000_000), null, ctx.Ct);
        var seconds = clock.Elapsed.TotalSeconds;
        var cpuAfter = cluster.CpuTimes();
        return new ShardedWrites(
            (collections.Count == 1 ? "one collection (one shard)" : $"{collections.Count} collections over {Masters} shards")
                + $", the store in this process, {perCall} record(s) per call",
            collections.Count, depth, "no HTTP, no gateway process", load.OperationsPerSecond * perCall, load.Latency, load.Failures.Values.Sum(), 0,
            cluster.Nodes.Select((n, i) => new NodeCores(n.EndPoint, cluster.Roles[i], Math.Round((cpuAfter[i] - cpuBefore[i]).TotalSeconds / seconds, 2))).ToArray());
    }

    private static async Task<NotificationCost> MeasureNotificationsAsync(BenchCluster cluster, bool sharded, int changes, CancellationToken ct)
    {
        await using var publisher = await ConnectionMultiplexer.ConnectAsync(cluster.ConnectionString);
        await using var subscriber = await ConnectionMultiplexer.ConnectAsync(cluster.ConnectionString);
        var command = sharded ? "SPUBLISH" : "PUBLISH";
        var tags = await cluster.CollectionsAsync($"notify-{command.ToLowerInvariant()}-{Guid.NewGuid().ToString("N")[..6]}", Masters * 2);
        long delivered = 0;
        foreach (var tag in tags)
        {
            var channel = $"rs:{{{tag}}}:changes";
            await subscriber.GetSubscriber().SubscribeAsync(sharded ? RedisChannel.Sharded(channel) : RedisChannel.Literal(channel),
                (_, _) => Interlocked.Increment(ref delivered));
        }
        var script = LuaScript.Prepare($"redis.call('SET', @key, @value) return redis.call('{command}', @channel, @value)");
        var db = publisher.GetDatabase();
        async Task PublishAsync(int count)
        {
            // 32 in flight, round robin over the collections (and so over the shards).
            var inFlight = new List<Task>(32);
            for (var n = 0; n < count; n++)
            {
                var tag = tags[n % tags.Length];
                inFlight.Add(db.ScriptEvaluateAsync(script, new { key = (RedisKey)$"rs:{{{tag}}}:last", channel = $"rs:{{{tag}}}:changes", value = Payload }));
                if (inFlight.Count == 32)
                {
                    await Task.WhenAll(inFlight);
                    inFlight.Clear();
                }
            }
            await Task.WhenAll(inFlight);
        }

        await PublishAsync(500); // warm-up: script cache, connections
        await WaitForAsync(() => Interlocked.Read(ref delivered) >= 500, TimeSpan.FromSeconds(30), ct);
        var before = await cluster.CountersAsync();
        var clock = Stopwatch.StartNew();
        await PublishAsync(changes);
        var seconds = clock.Elapsed.TotalSeconds;
        await WaitForAsync(() => Interlocked.Read(ref delivered) >= 500 + changes, TimeSpan.FromSeconds(30), ct);
        var after = await cluster.CountersAsync();

        double PerChange(double x) => Math.Round(x / changes, 2);
        var nodeCpu = after.Zip(before, (a, b) => Math.Round((a.Cpu - b.Cpu).TotalMicroseconds / changes, 1)).ToArray();
        return new NotificationCost(command, changes, Interlocked.Read(ref delivered) - 500, Math.Round(changes / seconds),
            PerChange(after.Sum(c => c.Sent) - before.Sum(c => c.Sent)),
            PerChange(after.Sum(c => c.Received) - before.Sum(c => c.Received)),
            PerChange(after.Sum(c => c.PublishSent) - before.Sum(c => c.PublishSent)),
            Math.Round(nodeCpu.Sum(), 1), nodeCpu);
    }

    private static async Task<ShardedWrites> MeasureWritesAsync(BenchContext ctx, BenchCluster cluster, GatewayProcess gateway, GatewayHttp http,
        IReadOnlyList<string> collections, int ackReplicas)
    {
        var o = ctx.Options;
        // Each worker writes its own 1,000 records of its collection, round robin, with versions that only grow
        // (the warm-up's are below the measured run's): every write is applied.
        Operation Put(long versionBase) => async (w, i) =>
        {
            var id = $"w{w}-{i % 1000}";
            var status = await http.PutDataAsync(collections[w % collections.Count], id, versionBase + i + 1, GatewayHttp.FiveFieldRecord(id, i));
            return GatewayHttp.Failure(status);
        };
        await ClosedLoop.RunAsync("cluster warm-up", Concurrency, TimeSpan.Zero, o.Warmup, Put(0), null, ctx.Ct);
        var cpuBefore = cluster.CpuTimes();
        var gatewayBefore = gateway.CpuTime();
        var clock = Stopwatch.StartNew();
        var load = await ClosedLoop.RunAsync("cluster", Concurrency, TimeSpan.Zero, o.Measure, Put(100_000_000), null, ctx.Ct);
        var seconds = clock.Elapsed.TotalSeconds;
        var cpuAfter = cluster.CpuTimes();
        var nodes = cluster.Nodes.Select((n, i) => new NodeCores(n.EndPoint, cluster.Roles[i], Math.Round((cpuAfter[i] - cpuBefore[i]).TotalSeconds / seconds, 2))).ToArray();
        return new ShardedWrites(
            collections.Count == 1 ? "one collection (one shard)" : $"{collections.Count} collections over {Masters} shards",
            collections.Count, Concurrency, $"Redis:AckReplicas={ackReplicas}", load.OperationsPerSecond, load.Latency, load.Failures.Values.Sum(),
            Math.Round((gateway.CpuTime() - gatewayBefore).TotalSeconds / seconds, 2), nodes);
    }

    private static async Task WaitForAsync(Func<bool> condition, TimeSpan timeout, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout) throw new TimeoutException($"not reached within {timeout}");
            await Task.Delay(10, ct);
        }
    }

    /// <summary>The phase's section of results.md.</summary>
    public static void Markdown(StringBuilder md, ClusterResult? r)
    {
        if (r is null) return;
        md.AppendLine("## Redis Cluster (phase `cluster`)");
        md.AppendLine();
        md.AppendLine($"A cluster of its own: {r.Masters} masters with {r.ReplicasPerMaster} replica each, no persistence, on this machine's loopback. " +
                      "Change notifications: a script writes a key and publishes a 320-byte message on the collection's channel (the gateway's commit shape), " +
                      $"changes spread over {r.Masters * 2} collections (2 per shard), 32 in flight, a subscriber on every channel; " +
                      "cluster-bus messages from `CLUSTER INFO` counters and Redis CPU from /proc, summed over all six nodes, per change.");
        md.AppendLine();
        md.AppendLine("| command | changes | delivered | changes/s | bus messages sent per change | received | of them publish/publishshard | Redis CPU µs per change (sum) | per node |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        foreach (var n in r.Notifications)
            md.AppendLine($"| {n.Command} | {n.Changes:N0} | {n.Delivered:N0} | {n.ChangesPerSecond:N0} | {n.BusMessagesSentPerChange:0.00} | {n.BusMessagesReceivedPerChange:0.00} | " +
                          $"{n.PublishMessagesSentPerChange:0.00} | {n.RedisCpuUsPerChange:0.0} | {string.Join(" / ", n.NodeCpuUsPerChange.Select(c => c.ToString("0.0", CultureInfo.InvariantCulture)))} |");
        md.AppendLine();
        md.AppendLine($"PUTs over HTTP through one gateway on the cluster, c={Concurrency}, single-record writes of a 5-field record (each worker its own records); " +
                      "then the gateway's store (RecordStore.WriteAsync: read, merge, commit.lua) driven from this process with 2-field records, one per call or batches of 100 (writes/s counts records). " +
                      "A collection lives in one slot, so on one master: its writes are one Redis thread's work.");
        md.AppendLine();
        md.AppendLine("| writes to | settings | in flight | writes/s | p50 / p95 / p99 ms | failed | gateway cores | Redis cores per node (masters first) |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |");
        foreach (var w in r.Writes)
            md.AppendLine($"| {w.Name} | {w.Settings} | {w.Concurrency} | {w.WritesPerSecond:N0} | {w.Latency.P50Ms:0.00} / {w.Latency.P95Ms:0.00} / {w.Latency.P99Ms:0.00} | {w.Failures} | {w.GatewayCores:0.00} | " +
                          string.Join(" / ", w.Nodes.OrderBy(n => n.Role != "master").Select(n => $"{n.Cores:0.00}")) + " |");
        md.AppendLine();
    }

    private sealed record NodeCounters(long Sent, long Received, long PublishSent, TimeSpan Cpu);

    /// <summary>Six redis-servers joined by <c>redis-cli --cluster create</c>; stopped (and their directories removed) on dispose.</summary>
    private sealed class BenchCluster : IAsyncDisposable
    {
        private BenchCluster(IReadOnlyList<RedisServerProcess> nodes) => Nodes = nodes;

        public IReadOnlyList<RedisServerProcess> Nodes { get; }

        /// <summary>"master" or "replica", per node, as the cluster was when it became healthy.</summary>
        public string[] Roles { get; private set; } = [];

        public string ConnectionString => string.Join(',', Nodes.Select(n => n.EndPoint)) + ",abortConnect=false,connectTimeout=5000,syncTimeout=10000";

        public static async Task<BenchCluster> StartAsync(int masters, string logDir, CancellationToken ct)
        {
            var nodes = new List<RedisServerProcess>();
            try
            {
                for (var i = 0; i < masters * 2; i++)
                {
                    var port = ChildProcess.FreePort();
                    nodes.Add(await RedisServerProcess.StartAsync(logDir, $"redis-{port}.log", ct, port: port, extraArgs:
                    [
                        "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                        "--cluster-port", ChildProcess.FreePort().ToString(CultureInfo.InvariantCulture), "--cluster-node-timeout", "5000",
                    ]));
                }
                var created = await ChildProcess.RunToEndAsync("redis-cli",
                    $"--cluster create {string.Join(' ', nodes.Select(n => n.EndPoint))} --cluster-replicas 1 --cluster-yes", TimeSpan.FromSeconds(60));
                if (created is null || !created.Contains("All 16384 slots covered", StringComparison.Ordinal))
                    throw new InvalidOperationException("redis-cli --cluster create failed:\n" + created);
                var cluster = new BenchCluster(nodes);
                // Healthy: every node says ok, every master has its replica connected.
                var clock = Stopwatch.StartNew();
                while (true)
                {
                    var states = await Task.WhenAll(nodes.Select(n => n.CliAsync("cluster info")));
                    var roles = await Task.WhenAll(nodes.Select(n => n.CliAsync("info replication")));
                    if (states.All(s => s.Contains("cluster_state:ok", StringComparison.Ordinal))
                        && roles.Count(r => r.Contains("role:master", StringComparison.Ordinal) && r.Contains("connected_slaves:1", StringComparison.Ordinal)) == masters
                        && roles.Count(r => r.Contains("master_link_status:up", StringComparison.Ordinal)) == masters)
                    {
                        cluster.Roles = roles.Select(r => r.Contains("role:master", StringComparison.Ordinal) ? "master" : "replica").ToArray();
                        return cluster;
                    }
                    if (clock.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException("the cluster did not become healthy within 60 s");
                    await Task.Delay(100, ct);
                }
            }
            catch
            {
                foreach (var n in nodes) await n.DisposeAsync();
                throw;
            }
        }

        /// <summary>
        /// <paramref name="count"/> collection names starting with <paramref name="prefix"/>, spread evenly over the masters
        /// (by the slot of their hash tag and the slot ranges <c>--cluster create</c> gave each master).
        /// </summary>
        public async Task<string[]> CollectionsAsync(string prefix, int count)
        {
            await using var mux = await ConnectionMultiplexer.ConnectAsync(ConnectionString);
            var perMaster = new Dictionary<string, List<string>>();
            for (var i = 0; perMaster.Values.Sum(l => l.Count) < count && i < 10_000; i++)
            {
                var name = $"{prefix}-{i}";
                var owner = mux.GetServer((RedisKey)$"rs:{{{name}}}:meta").EndPoint.ToString()!;
                var list = perMaster.TryGetValue(owner, out var l) ? l : perMaster[owner] = [];
                if (list.Count < Math.Max(1, count / Masters)) list.Add(name);
            }
            return perMaster.Values.SelectMany(l => l).Take(count).ToArray();
        }

        public TimeSpan[] CpuTimes() => Nodes.Select(n => n.CpuTime()).ToArray();

        /// <summary>Each node's cluster-bus message counters (CLUSTER INFO) and CPU time, read together.</summary>
        public async Task<NodeCounters[]> CountersAsync() =>
            await Task.WhenAll(Nodes.Select(async n =>
            {
                var info = (await n.CliAsync("cluster info")).Split('\n', StringSplitOptions.TrimEntries)
                    .Select(l => l.Split(':')).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1]);
                long Counter(string name) => long.Parse(info.GetValueOrDefault(name, "0"), CultureInfo.InvariantCulture);
                return new NodeCounters(Counter("cluster_stats_messages_sent"), Counter("cluster_stats_messages_received"),
                    Counter("cluster_stats_messages_publish_sent") + Counter("cluster_stats_messages_publishshard_sent"), n.CpuTime());
            }));

        public async ValueTask DisposeAsync()
        {
            foreach (var n in Nodes) await n.DisposeAsync();
        }
    }
}
