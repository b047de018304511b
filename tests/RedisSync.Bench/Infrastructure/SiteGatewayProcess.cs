using System.Diagnostics;

namespace RedisSync.Bench.Infrastructure;

/// <summary>
/// RedisSync as one site of several (CONTRACT §9): its own process on its own redis-server, with the benchmark's key,
/// a key it issues to its peer (<c>Replicate</c>), and that peer configured, all through the environment as an
/// operator would. Its port is chosen before it starts, because the other site must be told it first.
/// </summary>
public sealed class SiteGatewayProcess : ChildProcess
{
    private SiteGatewayProcess(ProcessStartInfo start, string logPath, string site, int port) : base(start, logPath)
    {
        Site = site;
        BaseAddress = new Uri($"http://127.0.0.1:{port}/");
    }

    public string Site { get; }
    public Uri BaseAddress { get; }

    /// <summary>The hub, with the benchmark's key in the query string as browsers send it.</summary>
    public Uri HubUri => new(BaseAddress, $"hubs/sync?access_token={GatewayProcess.ApiKey}");

    /// <summary>The key a site issues to its peers (16 characters at least, CONTRACT §5).</summary>
    public static string PeerKeyIssuedBy(string site) => $"peer-key-issued-by-{site}-000000";

    /// <param name="port">This site's port (<see cref="ChildProcess.FreePort"/>), already given to its peer.</param>
    /// <param name="peer">The other site: its name and the URL this site reaches it at.</param>
    public static async Task<SiteGatewayProcess> StartAsync(string dll, string site, int port, (string Name, Uri Url) peer,
        string redisConnectionString, string logDir, IReadOnlyDictionary<string, string> extraEnvironment, CancellationToken ct)
    {
        if (!File.Exists(dll))
            throw new FileNotFoundException($"RedisSync not built at {dll}: run with `dotnet run -c Release --project tests/RedisSync.Bench`", dll);
        var start = GatewayProcess.StartInfo(GatewayKind.RedisSync, dll, port, redisConnectionString);
        start.Environment["Auth__Keys__1__Name"] = "site-" + peer.Name;
        start.Environment["Auth__Keys__1__Key"] = PeerKeyIssuedBy(site);
        start.Environment["Auth__Keys__1__Replicate"] = "true";
        start.Environment["Replication__Site"] = site;
        start.Environment["Replication__Peers__0__Name"] = peer.Name;
        start.Environment["Replication__Peers__0__Url"] = peer.Url.ToString();
        start.Environment["Replication__Peers__0__ApiKey"] = PeerKeyIssuedBy(peer.Name);
        foreach (var (key, value) in GatewayProcess.Overrides.Concat(extraEnvironment)) start.Environment[key] = value;

        Directory.CreateDirectory(logDir);
        var gateway = new SiteGatewayProcess(start, Path.Combine(logDir, "gateway.log"), site, port);
        try
        {
            await gateway.WaitForOutputAsync("Application started", TimeSpan.FromSeconds(30), ct);
            using var http = new HttpClient { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
            using var response = await http.GetAsync("health/ready", ct);
            if (!response.IsSuccessStatusCode)
                throw new InvalidOperationException($"site {site} started but its health check answered {(int)response.StatusCode}:\n" + gateway.LogTail());
            return gateway;
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
    }
}
