using System.Globalization;

namespace RedisSync.Tests.Fixtures;

/// <summary>How one site of a <see cref="Sites"/> group is started (set in <see cref="SitesFixture.Configure"/>).</summary>
public sealed class SiteSetup(string name)
{
    public string Name { get; } = name;

    /// <summary>Extra gateway settings (configuration keys), on top of the replication ones.</summary>
    public Dictionary<string, string> Settings { get; } = new(StringComparer.Ordinal);

    /// <summary>Append-only redis-server with <c>appendfsync always</c>, for a site whose Redis a test kills.</summary>
    public bool AppendFsyncAlways { get; set; }
}

/// <summary>
/// One site of a multi-site test (CONTRACT §9): its own redis-server, its own gateway process, and the key it issues
/// to its peers (<c>Auth:Keys:4</c>, with <c>Replicate</c>). The gateway can be stopped and started again on the
/// same Redis; its peers reach it only through relays (<see cref="Sites"/>), so its own port may change.
/// </summary>
public sealed class Site : IAsyncDisposable
{
    private readonly Dictionary<string, string> _settings;
    private readonly Action<Site> _started;

    internal Site(string name, RedisServer redis, Dictionary<string, string> settings, Action<Site> started)
    {
        Name = name;
        Redis = redis;
        _settings = settings;
        _started = started;
    }

    /// <summary>The site's name (<c>Replication:Site</c>).</summary>
    public string Name { get; }

    public RedisServer Redis { get; }

    /// <summary>The running gateway (a new process after <see cref="StartGatewayAsync"/>).</summary>
    public GatewayProcess Gateway => _gateway ?? throw new InvalidOperationException($"site {Name}'s gateway is not running");
    private GatewayProcess? _gateway;

    /// <summary>The key this site issued to its peers: it has <c>Replicate</c>, so it also reads the replication,
    /// digest and repair endpoints.</summary>
    public string PeerKey => KeyOf(Name);

    /// <summary>The gateway's base address (direct, not through a relay).</summary>
    public Uri Url => Gateway.BaseUrl;

    internal static string KeyOf(string site) => $"peer-key-of-site-{site}-000000";

    /// <summary>An HTTP client on this site's gateway with <paramref name="apiKey"/>; the caller disposes it.</summary>
    public HttpClient Client(string apiKey = TestKeys.Writer)
    {
        var client = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        return client;
    }

    /// <summary>Starts the gateway (again) on this site's Redis, with the same settings.</summary>
    public async Task StartGatewayAsync()
    {
        _gateway = await GatewayProcess.StartAsync(Redis, _settings);
        _started(this);
    }

    /// <summary>Stops the gateway, gracefully (SIGTERM) or with SIGKILL (no shutdown code runs); Redis keeps running.</summary>
    public async Task StopGatewayAsync(bool kill = false)
    {
        var gateway = Gateway;
        _gateway = null;
        if (kill) gateway.Kill();
        await gateway.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_gateway is not null) await StopGatewayAsync();
        await Redis.DisposeAsync();
    }
}

/// <summary>
/// Two or three sites on loopback in full mesh, each pulling from every other. Every site reaches a peer through a
/// <see cref="TcpRelay"/> of its own (one per direction), so a partition is real: stopping the relays refuses and
/// resets every connection between the sites, while the tests still reach each gateway directly.
/// </summary>
public sealed class Sites : IAsyncDisposable
{
    /// <summary>How often each site polls its peers: short, so tests wait little.</summary>
    public const string PollInterval = "00:00:00.200";

    private readonly Dictionary<(string From, string To), TcpRelay> _relays;

    private Sites(IReadOnlyList<Site> all, Dictionary<(string, string), TcpRelay> relays) => (All, _relays) = (all, relays);

    public IReadOnlyList<Site> All { get; }

    public Site this[int i] => All[i];

    /// <summary>Starts one redis-server and one gateway per name, configured as a full mesh.</summary>
    public static async Task<Sites> StartAsync(IReadOnlyList<string> names, Action<SiteSetup>? configure = null)
    {
        var setups = names.Select(n => new SiteSetup(n)).ToArray();
        foreach (var setup in setups) configure?.Invoke(setup);
        var starting = setups.Select(s => RedisServer.StartAsync(appendOnly: s.AppendFsyncAlways, appendFsyncAlways: s.AppendFsyncAlways)).ToArray();
        try
        {
            await Task.WhenAll(starting);
        }
        catch
        {
            // Stop the servers that did start: nobody else knows about them.
            foreach (var started in starting.Where(t => t.IsCompletedSuccessfully)) await started.Result.DisposeAsync();
            throw;
        }
        var servers = starting.Select(t => t.Result).ToArray();

        // The relays are bound first, so every peer URL is known before any gateway starts.
        var pairs = (from a in names from b in names where a != b select (a, b)).ToArray();
        var ports = RedisServer.FreePorts(pairs.Length);
        var relays = new Dictionary<(string, string), TcpRelay>();
        for (var i = 0; i < pairs.Length; i++)
        {
            relays[pairs[i]] = TcpRelay.To(ports[i], targetPort: 0);
            relays[pairs[i]].Start();
        }

        var sites = new List<Site>();
        Sites? group = null;
        for (var i = 0; i < setups.Length; i++)
        {
            var setup = setups[i];
            var settings = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["Replication:Site"] = setup.Name,
                ["Replication:PollInterval"] = PollInterval,
                ["Auth:Keys:4:Name"] = "peer-sites",
                ["Auth:Keys:4:Key"] = Site.KeyOf(setup.Name),
                ["Auth:Keys:4:Replicate"] = "true",
                ["Logging:LogLevel:RedisSync.Gateway.Replication"] = "Information",
                ["Logging:LogLevel:RedisSync.Gateway.Repair"] = "Information",
            };
            var k = 0;
            foreach (var peer in names.Where(n => n != setup.Name))
            {
                settings[$"Replication:Peers:{k}:Name"] = peer;
                settings[$"Replication:Peers:{k}:Url"] = $"http://127.0.0.1:{relays[(setup.Name, peer)].Port.ToString(CultureInfo.InvariantCulture)}";
                settings[$"Replication:Peers:{k}:ApiKey"] = Site.KeyOf(peer);
                k++;
            }
            foreach (var (key, value) in setup.Settings) settings[key] = value;
            sites.Add(new Site(setup.Name, servers[i], settings, started => group!.Retarget(started)));
        }
        group = new Sites(sites, relays);
        try
        {
            await Task.WhenAll(sites.Select(s => s.StartGatewayAsync()));
        }
        catch
        {
            await group.DisposeAsync();
            throw;
        }
        return group;
    }

    // Peers reach a site only through the relays, so a gateway that came back on another port is found again.
    private void Retarget(Site started)
    {
        foreach (var ((_, to), relay) in _relays)
            if (to == started.Name) relay.TargetPort = started.Url.Port;
    }

    /// <summary>Cuts every path between every two sites.</summary>
    public void Partition()
    {
        foreach (var relay in _relays.Values) relay.Stop();
    }

    /// <summary>Restores every path.</summary>
    public void Heal()
    {
        foreach (var relay in _relays.Values) relay.Start();
    }

    /// <summary>Cuts both paths between <paramref name="a"/> and <paramref name="b"/>.</summary>
    public void Cut(Site a, Site b)
    {
        _relays[(a.Name, b.Name)].Stop();
        _relays[(b.Name, a.Name)].Stop();
    }

    /// <summary>The path <paramref name="from"/> pulls from <paramref name="to"/> over.</summary>
    public TcpRelay Path(Site from, Site to) => _relays[(from.Name, to.Name)];

    public async ValueTask DisposeAsync()
    {
        foreach (var relay in _relays.Values) await relay.DisposeAsync();
        await Task.WhenAll(All.Select(s => s.DisposeAsync().AsTask()));
    }
}

/// <summary>
/// A group of sites shared by the tests of one class (they run one after another, each on collections of its own).
/// A test that partitions, stops or damages something restores it before it ends, so the next one starts whole.
/// </summary>
public abstract class SitesFixture : IAsyncLifetime
{
    /// <summary>The sites' names, in order; two by default.</summary>
    protected virtual string[] Names => ["east", "west"];

    /// <summary>Adjusts one site's setup before anything starts.</summary>
    protected virtual void Configure(SiteSetup site) { }

    public Sites Sites { get; private set; } = null!;

    public async Task InitializeAsync() => Sites = await Sites.StartAsync(Names, Configure);

    public async Task DisposeAsync() => await Sites.DisposeAsync();
}
