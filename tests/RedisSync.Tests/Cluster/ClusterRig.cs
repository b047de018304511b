using RedisSync.Tests.Fixtures;

namespace RedisSync.Tests.Cluster;

/// <summary>
/// A Redis Cluster of its own with gateway processes on it, configured only by their connection string naming the
/// nodes (and the settings given): what the fault tests and the soak program kill, restart and reshard. The
/// gateways are listed in <see cref="Pool"/>, where clients find them.
/// </summary>
public sealed class ClusterRig : IAsyncDisposable
{
    private readonly List<GatewayProcess> _gateways = [];
    private readonly IReadOnlyDictionary<string, string> _settings;

    private ClusterRig(RedisCluster cluster, IReadOnlyDictionary<string, string> settings)
    {
        Cluster = cluster;
        _settings = settings;
    }

    public RedisCluster Cluster { get; }
    public GatewayPool Pool { get; } = new([]);
    public HttpClient Http { get; } = GatewayPool.CreateHttpClient();

    public IReadOnlyList<GatewayProcess> Gateways
    {
        get { lock (_gateways) return [.. _gateways]; }
    }

    /// <summary>
    /// Starts a cluster (<paramref name="masters"/> masters with a replica each, <paramref name="clusterArgs"/> added to
    /// every node's command line) and <paramref name="gateways"/> gateway processes with <paramref name="settings"/>.
    /// </summary>
    public static async Task<ClusterRig> StartAsync(int gateways, IReadOnlyDictionary<string, string>? settings = null, int masters = 3, params string[] clusterArgs)
    {
        var cluster = await RedisCluster.StartAsync(masters, 1, clusterArgs);
        var rig = new ClusterRig(cluster, settings ?? new Dictionary<string, string>());
        try
        {
            await Task.WhenAll(Enumerable.Range(0, gateways).Select(_ => rig.StartGatewayAsync()));
        }
        catch
        {
            await rig.DisposeAsync();
            throw;
        }
        return rig;
    }

    /// <summary>Starts one more gateway process on the cluster and lists it in the pool.</summary>
    public async Task<GatewayProcess> StartGatewayAsync()
    {
        var gateway = await GatewayProcess.StartAsync(Cluster.ConnectionString, _settings);
        lock (_gateways) _gateways.Add(gateway);
        Pool.Add(gateway.BaseUrl);
        return gateway;
    }

    /// <summary>SIGKILLs a gateway: it leaves the pool first, as a load balancer's health check would take it out.</summary>
    public async Task KillGatewayAsync(GatewayProcess gateway)
    {
        Pool.Remove(gateway.BaseUrl);
        gateway.Kill();
        lock (_gateways) _gateways.Remove(gateway);
        await gateway.DisposeAsync();
    }

    /// <summary>
    /// Collection names placed on the masters: <paramref name="perMaster"/> on each, in master order, so that
    /// element i·perMaster … lives on the i-th master. Their keys share the hash tag <c>{name}</c>.
    /// </summary>
    public async Task<IReadOnlyList<string>> CollectionsOnEveryMasterAsync(string prefix, int perMaster = 1)
    {
        var owners = await Cluster.SlotOwnersAsync();
        var masters = await Cluster.MastersAsync();
        var placed = masters.ToDictionary(m => m, _ => new List<string>());
        for (var i = 0; placed.Values.Any(l => l.Count < perMaster) && i < 10_000; i++)
        {
            var name = Unique.Collection(prefix);
            var list = placed[owners(RedisCluster.HashSlot(name))];
            if (list.Count < perMaster) list.Add(name);
        }
        return masters.SelectMany(m => placed[m]).ToArray();
    }

    /// <summary>The master that holds <paramref name="collection"/> now.</summary>
    public Task<RedisNode> MasterOfAsync(string collection) => Cluster.MasterOfSlotAsync(RedisCluster.HashSlot(collection));

    public async ValueTask DisposeAsync()
    {
        foreach (var gateway in Gateways) await gateway.DisposeAsync();
        Http.Dispose();
        await Cluster.DisposeAsync();
    }
}
