namespace RedisSync.Gateway.Replication;

internal static partial class ReplicationLog
{
    [LoggerMessage(6001, LogLevel.Information, "Replication: site {Site} follows {Peers} peer(s)")]
    public static partial void Started(ILogger logger, string site, int peers);

    [LoggerMessage(6002, LogLevel.Information, "Replication from {Peer}: new collection {Collection}")]
    public static partial void NewCollection(ILogger logger, string peer, string collection);

    [LoggerMessage(6003, LogLevel.Warning, "Replication from {Peer}: cannot reach the peer: {Error}")]
    public static partial void PeerUnreachable(ILogger logger, string peer, string error);

    [LoggerMessage(6004, LogLevel.Warning, "Replication from {Peer}, collection {Collection}, failed: {Error}")]
    public static partial void FollowFailed(ILogger logger, string peer, string collection, string error);

    [LoggerMessage(6005, LogLevel.Warning, "Replication from {Peer}, collection {Collection}: the peer no longer retains what follows {Cursor}; copying its full state")]
    public static partial void CopyStarted(ILogger logger, string peer, string collection, string? cursor);

    [LoggerMessage(6006, LogLevel.Information, "Replication from {Peer}, collection {Collection}: copied {Records} records; following from {AsOf}")]
    public static partial void CopyFinished(ILogger logger, string peer, string collection, int records, string? asOf);

    [LoggerMessage(6007, LogLevel.Debug, "Replication from {Peer}: hub unavailable ({Error}); polling carries on")]
    public static partial void HubUnavailable(ILogger logger, string peer, string error);

    [LoggerMessage(6008, LogLevel.Error, "Replication from {Peer} stopped unexpectedly; restarting")]
    public static partial void Crashed(ILogger logger, Exception exception, string peer);
}
