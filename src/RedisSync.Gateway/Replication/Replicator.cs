using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using RedisSync.Gateway.Store;

namespace RedisSync.Gateway.Replication;

/// <summary><c>GET /api/v1/replication</c> (CONTRACT §9).</summary>
public sealed record ReplicationStatus(string? Site, IReadOnlyList<PeerStatus> Peers);

/// <summary>One peer and where this site stands with each of its collections.</summary>
public sealed record PeerStatus(string Name, string Url, IReadOnlyList<CollectionStatus> Collections);

/// <summary>One collection of a peer: this site's cursor in the peer's log, the lag, the state, the last error.</summary>
public sealed record CollectionStatus(string Collection, string? Cursor, long LagChanges, long LagMs, string State, string? LastError);

/// <summary>
/// This site's replication: one <see cref="PeerFollower"/> per configured peer, each pulling continuously (full mesh:
/// every site pulls from every other, nobody pushes). Nothing runs when no peer is configured.
/// </summary>
public sealed class Replicator : BackgroundService
{
    private readonly ReplicationOptions _options;
    private readonly List<PeerFollower> _followers = [];
    private readonly ILogger<Replicator> _log;

    public Replicator(IOptions<ReplicationOptions> options, IHttpClientFactory http, RecordStore store, IMeterFactory meters, ILogger<Replicator> log)
    {
        _options = options.Value;
        _log = log;
        var metrics = new ReplicationMetrics(meters, Lag);
        foreach (var peer in _options.Peers)
            _followers.Add(new PeerFollower(peer, Client(http, peer), store, _options, metrics, log));
    }

    /// <summary>The peers' API clients, for repair.</summary>
    public IReadOnlyList<PeerClient> Peers => [.. _followers.Select(f => f.Client)];

    internal static PeerClient Client(IHttpClientFactory factory, PeerOptions peer)
    {
        var http = factory.CreateClient("peer:" + peer.Name);
        http.BaseAddress = new Uri(peer.Url!.TrimEnd('/') + "/");
        http.DefaultRequestHeaders.Add("X-Api-Key", peer.ApiKey);
        http.Timeout = TimeSpan.FromSeconds(30);
        return new PeerClient(http, peer.Name!);
    }

    public ReplicationStatus Status() => new(string.IsNullOrEmpty(_options.Site) ? null : _options.Site,
        [.. _followers.Select(f => new PeerStatus(f.Name, f.Url,
            [.. f.Collections.Select(c => new CollectionStatus(c.Collection, c.Cursor, c.LagChanges, c.LagMs, c.State, c.LastError))]))]);

    private IEnumerable<(string, long, long)> Lag() =>
        _followers.Select(f => (f.Name, f.Collections.Sum(c => c.LagChanges), f.Collections.Select(c => c.LagMs).DefaultIfEmpty(0).Max()));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_followers.Count == 0) return;
        ReplicationLog.Started(_log, _options.Site!, _followers.Count);
        await Task.WhenAll(_followers.Select(f => Task.Run(() => KeepFollowingAsync(f, stoppingToken), stoppingToken)));
    }

    // A follower handles what it expects (a peer away, Redis away); anything else is logged and it starts over.
    private async Task KeepFollowingAsync(PeerFollower follower, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try { await follower.RunAsync(ct); }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
            catch (Exception e)
            {
                ReplicationLog.Crashed(_log, e, follower.Name);
                try { await Task.Delay(_options.PollInterval, ct); } catch (OperationCanceledException) { }
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        foreach (var f in _followers) await f.DisposeAsync();
    }
}
