using System.ComponentModel.DataAnnotations;

namespace RedisSync.Gateway.Replication;

/// <summary>This site and its peers (section <c>Replication</c>, CONTRACT §9). Replication is off without peers.</summary>
public sealed class ReplicationOptions
{
    /// <summary>This site's name (a source-like name). Stamped on every clock that enters here.</summary>
    public string? Site { get; set; }

    /// <summary>The other sites, each pulled from continuously (full mesh: every site lists every other).</summary>
    public List<PeerOptions> Peers { get; set; } = [];

    /// <summary>How often each peer's collections and change logs are checked even when its hub says nothing.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Change-log entries (or records, when copying) asked of a peer per request.</summary>
    [Range(1, 10_000)]
    public int PageSize { get; set; } = 500;

    public bool Enabled => Peers.Count > 0;
}

/// <summary>One peer site.</summary>
public sealed class PeerOptions
{
    public string? Name { get; set; }

    /// <summary>A base URL of the peer's gateways, e.g. <c>https://eu.example.com</c>.</summary>
    public string? Url { get; set; }

    /// <summary>A key the peer issued with <c>Replicate</c>.</summary>
    public string? ApiKey { get; set; }
}
