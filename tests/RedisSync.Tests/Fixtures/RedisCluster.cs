using System.Globalization;

namespace RedisSync.Tests.Fixtures;

/// <summary>One node of a <see cref="RedisCluster"/>: its redis-server process and its cluster node id.</summary>
public sealed class RedisNode(RedisServer server, string id)
{
    public RedisServer Server { get; } = server;

    /// <summary>The 40-character id the cluster knows this node by (kept across restarts in nodes.conf).</summary>
    public string Id { get; } = id;

    public int Port => Server.Port;

    /// <summary>"127.0.0.1:port".</summary>
    public string EndPoint => Server.EndPoint;

    public override string ToString() => $"{EndPoint} ({Id[..8]})";
}

/// <summary>
/// A real Redis Cluster on loopback: masters and replicas as separate redis-server processes (append-only,
/// each in its own directory), joined by <c>redis-cli --cluster create</c>. It offers the faults chaos tests
/// need (SIGKILL of a slot's master, restart, slot migration), each waiting on what the nodes themselves
/// report. <see cref="SharedAsync"/> is one cluster for the whole test run; tests that kill or move things
/// start their own with <see cref="StartAsync"/>.
/// </summary>
public sealed class RedisCluster : IAsyncDisposable
{
    public const int SlotCount = 16384;

    /// <summary>Node timeout: a dead master is failed over about two of these after it stops answering.</summary>
    public const int NodeTimeoutMs = 2000;

    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);
    private static readonly Lazy<Task<RedisCluster>> Shared = new(StartSharedAsync);

    private readonly RedisNode[] _nodes;
    private readonly int _replicasPerMaster;
    // A slot of each master killed here, to find who took its slots over.
    private readonly Dictionary<string, int> _slotOfKilledMaster = new(StringComparer.Ordinal);

    private RedisCluster(RedisNode[] nodes, int replicasPerMaster)
    {
        _nodes = nodes;
        _replicasPerMaster = replicasPerMaster;
    }

    /// <summary>Every node, started as masters first, then replicas (roles change with failovers).</summary>
    public IReadOnlyList<RedisNode> Nodes => _nodes;

    /// <summary>StackExchange.Redis configuration naming every node.</summary>
    public string ConnectionString =>
        string.Join(',', _nodes.Select(n => n.EndPoint)) + ",abortConnect=false,connectTimeout=2000,syncTimeout=5000";

    /// <summary>The process-wide cluster for ordinary tests: started by the first caller, stopped when the test run ends.</summary>
    public static Task<RedisCluster> SharedAsync() => Shared.Value;

    private static async Task<RedisCluster> StartSharedAsync()
    {
        var cluster = await StartAsync();
        // xUnit 2 has no assembly-wide fixture; the test host's exit is the end of the run.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => cluster.Stop();
        return cluster;
    }

    /// <summary>
    /// Starts <paramref name="masters"/> masters with <paramref name="replicasPerMaster"/> replicas each and
    /// returns once every node reports <c>cluster_state:ok</c>, all agree on the slot map, every slot is
    /// covered and every replica's link to its master is up.
    /// </summary>
    public static async Task<RedisCluster> StartAsync(int masters = 3, int replicasPerMaster = 1, params string[] extraArgs)
    {
        var count = masters * (1 + replicasPerMaster);
        var ports = RedisServer.FreePorts(count * 2);
        var starting = Enumerable.Range(0, count).Select(i => RedisServer.StartWithAsync(ports[i],
        [
            "--cluster-enabled", "yes",
            // Relative to --dir, so each node's nodes.conf lies in its own directory.
            "--cluster-config-file", "nodes.conf",
            // The bus port is explicit: the default (port + 10000) may be taken, or beyond 65535.
            "--cluster-port", ports[count + i].ToString(CultureInfo.InvariantCulture),
            "--cluster-node-timeout", NodeTimeoutMs.ToString(CultureInfo.InvariantCulture),
            "--appendonly", "yes",
            "--save", "",
            .. extraArgs,
        ])).ToArray();
        RedisServer[] servers;
        try
        {
            servers = await Task.WhenAll(starting);
        }
        catch
        {
            foreach (var started in starting.Where(t => t.IsCompletedSuccessfully)) await started.Result.DisposeAsync();
            throw;
        }
        try
        {
            var created = await servers[0].CliAsync(
            [
                "--cluster", "create", .. servers.Select(s => s.EndPoint),
                "--cluster-replicas", replicasPerMaster.ToString(CultureInfo.InvariantCulture), "--cluster-yes",
            ]);
            if (!created.Contains("All 16384 slots covered", StringComparison.Ordinal))
                throw new InvalidOperationException("redis-cli --cluster create failed:\n" + created);
            var ids = await Task.WhenAll(servers.Select(async s => (await s.CliCheckedAsync("CLUSTER", "MYID")).Trim()));
            var cluster = new RedisCluster(servers.Select((s, i) => new RedisNode(s, ids[i])).ToArray(), replicasPerMaster);
            await cluster.WaitUntilHealthyAsync();
            return cluster;
        }
        catch
        {
            foreach (var s in servers) await s.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs one command on <paramref name="node"/> with redis-cli; returns what it printed.</summary>
    public Task<string> CliAsync(RedisNode node, params string[] args) => node.Server.CliAsync(args);

    /// <summary>One INFO section of <paramref name="node"/> as name → value.</summary>
    public Task<IReadOnlyDictionary<string, string>> InfoAsync(RedisNode node, string section = "default") =>
        node.Server.InfoAsync(section);

    /// <summary>CLUSTER INFO of <paramref name="node"/> as name → value (state, epochs, bus message counters).</summary>
    public async Task<IReadOnlyDictionary<string, string>> ClusterInfoAsync(RedisNode node) =>
        RedisServer.ParseFields(await node.Server.CliCheckedAsync("CLUSTER", "INFO"));

    /// <summary>The hash slot of <paramref name="key"/>, as Redis computes it.</summary>
    public async Task<int> KeySlotAsync(string key) =>
        int.Parse((await Live().First().Server.CliCheckedAsync("CLUSTER", "KEYSLOT", key)).Trim(), CultureInfo.InvariantCulture);

    /// <summary>
    /// The hash slot of <paramref name="key"/> computed here, as Redis does: CRC16 (XMODEM) of the key, or of its
    /// hash tag (what lies between the first <c>{</c> and the next <c>}</c>, when not empty), modulo 16384.
    /// </summary>
    public static int HashSlot(string key)
    {
        var open = key.IndexOf('{');
        if (open >= 0)
        {
            var close = key.IndexOf('}', open + 1);
            if (close > open + 1) key = key[(open + 1)..close];
        }
        ushort crc = 0;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(key))
        {
            crc ^= (ushort)(b << 8);
            for (var bit = 0; bit < 8; bit++) crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
        }
        return crc % SlotCount;
    }

    /// <summary>Who owns each slot, from one view all running nodes agree on (for placing many keys at once).</summary>
    public async Task<Func<int, RedisNode>> SlotOwnersAsync()
    {
        var view = await AgreedViewAsync();
        return slot => Node(view.OwnerOf(slot));
    }

    /// <summary>The master that owns <paramref name="slot"/>, once all running nodes agree on it.</summary>
    public async Task<RedisNode> MasterOfSlotAsync(int slot) => Node((await AgreedViewAsync()).OwnerOf(slot));

    /// <summary>The master that owns the slot of <paramref name="key"/>.</summary>
    public async Task<RedisNode> MasterOfAsync(string key) => await MasterOfSlotAsync(await KeySlotAsync(key));

    /// <summary>The masters that own slots, once all running nodes agree.</summary>
    public async Task<IReadOnlyList<RedisNode>> MastersAsync() =>
        (await AgreedViewAsync()).Nodes.Values.Where(n => n.IsMaster && n.SlotCount > 0).Select(n => Node(n.Id)).ToArray();

    /// <summary>The replicas (running or not) the cluster lists under <paramref name="master"/>.</summary>
    public async Task<IReadOnlyList<RedisNode>> ReplicasOfAsync(RedisNode master) =>
        (await AgreedViewAsync()).Nodes.Values.Where(n => n.MasterId == master.Id).Select(n => Node(n.Id)).ToArray();

    /// <summary>SIGKILLs the master that owns <paramref name="key"/>'s slot; returns it (see <see cref="WaitForFailoverAsync"/>).</summary>
    public async Task<RedisNode> KillMasterOfAsync(string key)
    {
        var slot = await KeySlotAsync(key);
        var master = await MasterOfSlotAsync(slot);
        lock (_slotOfKilledMaster) _slotOfKilledMaster[master.Id] = slot;
        master.Server.Kill();
        return master;
    }

    /// <summary>SIGKILLs <paramref name="node"/> (e.g. a replica, to see what WAIT answers without it).</summary>
    public async Task KillAsync(RedisNode node)
    {
        // One other node's view is enough to remember a slot, and keeps the kill close to the call.
        var witness = Live().First(n => n != node);
        var view = ClusterView.Parse(witness.Id, "", await witness.Server.CliCheckedAsync("CLUSTER", "NODES"));
        if (view.Nodes[node.Id] is { IsMaster: true, SlotCount: > 0 } master)
            lock (_slotOfKilledMaster) _slotOfKilledMaster[node.Id] = master.Slots[0].From;
        node.Server.Kill();
    }

    /// <summary>
    /// After <paramref name="killed"/> (a master killed through this fixture) died: waits until every running
    /// node marks it <c>fail</c>, its slots belong to a running master, and every running node is back to
    /// <c>cluster_state:ok</c> with the same slot map. Returns the replica promoted in its place.
    /// </summary>
    public async Task<RedisNode> WaitForFailoverAsync(RedisNode killed, TimeSpan? timeout = null)
    {
        int slot;
        lock (_slotOfKilledMaster)
            if (!_slotOfKilledMaster.TryGetValue(killed.Id, out slot))
                throw new InvalidOperationException($"{killed} was not a master killed through this fixture");
        var views = await Poll.UntilAsync(ViewsAsync,
            v => v.All(x => x.State == "ok" && x.Nodes.TryGetValue(killed.Id, out var k) && k.Failed) && Agree(v) && v[0].Covered
                && v[0].OwnerOf(slot) != killed.Id,
            timeout ?? DefaultTimeout, $"failover of {killed}", Describe);
        return Node(views[0].OwnerOf(slot));
    }

    /// <summary>Waits until every running node flags <paramref name="node"/> (killed, with no replica left to take over) as <c>fail</c>.</summary>
    public Task WaitUntilMarkedFailedAsync(RedisNode node, TimeSpan? timeout = null) =>
        Poll.UntilAsync(ViewsAsync, v => v.All(x => x.Nodes.TryGetValue(node.Id, out var n) && n.Failed),
            timeout ?? DefaultTimeout, $"every node to flag {node} as failed", Describe);

    /// <summary>Waits until every running node reports <paramref name="state"/> (<c>ok</c> or <c>fail</c>) in CLUSTER INFO.</summary>
    public Task WaitForStateAsync(string state, TimeSpan? timeout = null) =>
        Poll.UntilAsync(ViewsAsync, v => v.All(x => x.State == state), timeout ?? DefaultTimeout, $"cluster_state:{state} on every node", Describe);

    /// <summary>
    /// Restarts a killed node on its port and data. A master that was failed over rejoins as a replica of
    /// the node that took its slots; returns once every running node lists it as healthy and its
    /// replication link is up (<c>master_link_status:up</c>).
    /// </summary>
    public async Task RestartAsync(RedisNode node, TimeSpan? timeout = null)
    {
        await node.Server.RestartAsync();
        await WaitUntilHealthyAsync(timeout);
    }

    /// <summary>
    /// Waits until every running node says <c>cluster_state:ok</c>, none flags another running node as failing,
    /// all agree on the slot map, every slot is covered, each master has its replicas, and every replica's
    /// link is up.
    /// </summary>
    public Task WaitUntilHealthyAsync(TimeSpan? timeout = null) =>
        Poll.UntilAsync(HealthAsync, r => r.Ok, timeout ?? DefaultTimeout, "a healthy cluster", r => Describe(r.Views));

    private async Task<(bool Ok, ClusterView[] Views)> HealthAsync()
    {
        var views = await ViewsAsync();
        if (!(views.All(v => v.State == "ok") && Agree(views) && views[0].Covered)) return (false, views);
        var live = Live().Select(n => n.Id).ToHashSet();
        if (views.Any(v => v.Nodes.Values.Any(n => live.Contains(n.Id) && (n.Failed || n.Suspected || !n.Connected))))
            return (false, views);
        var masters = views[0].Nodes.Values.Where(n => n.IsMaster && n.SlotCount > 0).ToArray();
        if (masters.Any(m => views[0].Nodes.Values.Count(r => r.MasterId == m.Id && live.Contains(r.Id)) < _replicasPerMaster))
            return (false, views);
        foreach (var replica in Live().Where(n => views[0].Nodes[n.Id].MasterId is not null))
        {
            var info = await replica.Server.InfoAsync("replication");
            if (info.GetValueOrDefault("master_link_status") != "up") return (false, views);
        }
        return (true, views);
    }

    /// <summary>
    /// Moves <paramref name="slot"/> to master <paramref name="to"/> the way <c>redis-cli --cluster reshard</c>
    /// does: IMPORTING on the target, MIGRATING on the source, MIGRATE of its keys in batches, then SETSLOT NODE
    /// on the target, the source and every other master. Writes may go on meanwhile (clients get ASK/TRYAGAIN).
    /// Keys are read line by line from redis-cli, so they must not contain newlines (RedisSync's never do).
    /// Returns the number of keys moved, once every running node agrees that <paramref name="to"/> owns the slot.
    /// </summary>
    public async Task<int> MigrateSlotAsync(int slot, RedisNode to, int batchSize = 100, TimeSpan? timeout = null)
    {
        var limit = timeout ?? DefaultTimeout;
        using var deadline = new CancellationTokenSource(limit);
        var view = await AgreedViewAsync();
        var from = Node(view.OwnerOf(slot));
        if (from == to) return 0;
        if (!view.Nodes[to.Id].IsMaster) throw new InvalidOperationException($"{to} is not a master");
        var s = slot.ToString(CultureInfo.InvariantCulture);

        await to.Server.CliCheckedAsync("CLUSTER", "SETSLOT", s, "IMPORTING", from.Id);
        await from.Server.CliCheckedAsync("CLUSTER", "SETSLOT", s, "MIGRATING", to.Id);
        var moved = 0;
        while (true)
        {
            deadline.Token.ThrowIfCancellationRequested();
            var keys = (await from.Server.CliCheckedAsync("CLUSTER", "GETKEYSINSLOT", s, batchSize.ToString(CultureInfo.InvariantCulture)))
                .Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (keys.Length == 0) break;
            // NOKEY (every key of the batch deleted meanwhile) is not an error; anything else is.
            var reply = (await from.Server.CliCheckedAsync(["MIGRATE", "127.0.0.1", to.Port.ToString(CultureInfo.InvariantCulture), "", "0", "5000", "KEYS", .. keys])).Trim();
            if (reply is not ("OK" or "NOKEY")) throw new InvalidOperationException($"MIGRATE of slot {slot} from {from} to {to}: {reply}");
            moved += keys.Length;
        }
        // The target first: once it owns the slot, the source's redirections have somewhere to point.
        await to.Server.CliCheckedAsync("CLUSTER", "SETSLOT", s, "NODE", to.Id);
        await from.Server.CliCheckedAsync("CLUSTER", "SETSLOT", s, "NODE", to.Id);
        foreach (var other in Live().Where(n => n != to && n != from && view.Nodes[n.Id].IsMaster))
            await other.Server.CliCheckedAsync("CLUSTER", "SETSLOT", s, "NODE", to.Id);

        await Poll.UntilAsync(ViewsAsync, views => Agree(views) && views[0].OwnerOf(slot) == to.Id && views.All(v => v.State == "ok"),
            limit, $"all nodes to see slot {slot} on {to}", Describe);
        return moved;
    }

    /// <summary>Kills every node (SIGKILL) and removes their directories.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes) await node.Server.DisposeAsync();
    }

    // The test host may be ended soon after its exit handlers start: every node gets its SIGKILL first, then
    // directories are removed (what is left is removed by the next run, see RedisServer).
    private void Stop()
    {
        foreach (var node in _nodes) node.Server.KillNow();
        foreach (var node in _nodes) node.Server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    private IEnumerable<RedisNode> Live() => _nodes.Where(n => n.Server.IsRunning);

    private RedisNode Node(string id) => _nodes.First(n => n.Id == id);

    /// <summary>The slot map once all running nodes report the same one.</summary>
    private async Task<ClusterView> AgreedViewAsync() =>
        (await Poll.UntilAsync(ViewsAsync, Agree, DefaultTimeout, "all nodes to agree on the slot map", Describe))[0];

    private async Task<ClusterView[]> ViewsAsync() =>
        await Task.WhenAll(Live().Select(async n =>
        {
            var state = RedisServer.ParseFields(await n.Server.CliCheckedAsync("CLUSTER", "INFO")).GetValueOrDefault("cluster_state") ?? "";
            return ClusterView.Parse(n.Id, state, await n.Server.CliCheckedAsync("CLUSTER", "NODES"));
        }));

    // Same masters with the same slots, same replica → master pairs; failure flags may still differ.
    private static bool Agree(ClusterView[] views) =>
        views.Length > 0 && views.All(v => v.Signature == views[0].Signature);

    private static string Describe(ClusterView[] views) => string.Join(" | ", views.Select(v => v.ToString()));

    /// <summary>What one node says about the cluster (CLUSTER INFO's state and CLUSTER NODES).</summary>
    private sealed record ClusterView(string Reporter, string State, IReadOnlyDictionary<string, NodeView> Nodes)
    {
        public static ClusterView Parse(string reporter, string state, string clusterNodes)
        {
            var nodes = new Dictionary<string, NodeView>(StringComparer.Ordinal);
            foreach (var line in clusterNodes.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                // <id> <ip:port@cport> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...
                var f = line.Split(' ');
                if (f.Length < 8) continue;
                var flags = f[2].Split(',');
                var slots = new List<(int From, int To)>();
                foreach (var range in f.Skip(8))
                {
                    if (range.StartsWith('[')) continue; // a migration in progress, shown by the node itself
                    var dash = range.IndexOf('-');
                    slots.Add(dash < 0
                        ? (int.Parse(range, CultureInfo.InvariantCulture), int.Parse(range, CultureInfo.InvariantCulture))
                        : (int.Parse(range[..dash], CultureInfo.InvariantCulture), int.Parse(range[(dash + 1)..], CultureInfo.InvariantCulture)));
                }
                nodes[f[0]] = new NodeView(f[0], f[1][..f[1].IndexOf('@')], flags.Contains("master"), flags.Contains("fail"),
                    flags.Contains("fail?") || flags.Contains("handshake") || flags.Contains("noaddr"),
                    f[3] == "-" ? null : f[3], f[7] == "connected", slots);
            }
            return new ClusterView(reporter, state, nodes);
        }

        public bool Covered => Nodes.Values.Where(n => n.IsMaster).Sum(n => n.SlotCount) == SlotCount;

        public string OwnerOf(int slot) =>
            Nodes.Values.FirstOrDefault(n => n.IsMaster && n.Slots.Any(r => r.From <= slot && slot <= r.To))?.Id
            ?? throw new InvalidOperationException($"no master owns slot {slot} according to {Reporter[..8]}");

        public string Signature => string.Join(';', Nodes.Values.OrderBy(n => n.Id, StringComparer.Ordinal)
            .Select(n => n.IsMaster ? $"{n.Id}={string.Join(',', n.Slots.Select(r => $"{r.From}-{r.To}"))}" : $"{n.Id}>{n.MasterId}"));

        public override string ToString() =>
            $"{Reporter[..8]} says {State}: " + string.Join(", ", Nodes.Values.OrderBy(n => n.EndPoint, StringComparer.Ordinal).Select(n => n.ToString()));
    }

    private sealed record NodeView(string Id, string EndPoint, bool IsMaster, bool Failed, bool Suspected, string? MasterId, bool Connected,
        IReadOnlyList<(int From, int To)> Slots)
    {
        public int SlotCount => Slots.Sum(r => r.To - r.From + 1);

        public override string ToString() =>
            $"{EndPoint}{(IsMaster ? $" master[{SlotCount}]" : $" replica-of-{MasterId?[..8]}")}{(Failed ? " FAIL" : "")}{(Suspected ? " FAIL?" : "")}{(Connected ? "" : " disconnected")}";
    }
}
