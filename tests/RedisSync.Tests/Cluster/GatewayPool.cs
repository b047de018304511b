using RedisSync.Tests.Fixtures;

namespace RedisSync.Tests.Cluster;

/// <summary>
/// The gateway instances clients may turn to now, as a load balancer would list them: a killed instance is taken
/// out, a restarted one (on a new port) is put in. Writers and subscribers pick from it on every (re)connect.
/// </summary>
public sealed class GatewayPool
{
    private readonly List<Uri> _live = [];

    public GatewayPool(IEnumerable<Uri> gateways) => _live.AddRange(gateways);

    /// <summary>The API key every client of the pool authenticates with (reads and writes every collection).</summary>
    public const string ApiKey = TestKeys.Writer;

    public IReadOnlyList<Uri> Live
    {
        get { lock (_live) return [.. _live]; }
    }

    public void Add(Uri gateway)
    {
        lock (_live) _live.Add(gateway);
    }

    public void Remove(Uri gateway)
    {
        lock (_live) _live.Remove(gateway);
    }

    /// <summary>The <paramref name="turn"/>-th live instance (round robin), or null while none is listed.</summary>
    public Uri? Pick(int turn)
    {
        lock (_live) return _live.Count == 0 ? null : _live[(int)((uint)turn % (uint)_live.Count)];
    }

    /// <summary>An HTTP client for absolute URLs on any instance, with the pool's key and a bound on every request.</summary>
    public static HttpClient CreateHttpClient()
    {
        var handler = new SocketsHttpHandler
        {
            // A killed instance's pooled connections fail once and are dropped; a short connect bound keeps a
            // writer from waiting long on an instance that is gone.
            ConnectTimeout = TimeSpan.FromSeconds(2),
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
        };
        var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(20) };
        http.DefaultRequestHeaders.Add("X-Api-Key", ApiKey);
        return http;
    }
}
