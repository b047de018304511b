namespace RedisSync.Gateway.Realtime;

internal static partial class RealtimeLog
{
    [LoggerMessage(3001, LogLevel.Information, "Feed for {Collection} started at {Last}")]
    public static partial void FeedStarted(ILogger logger, string collection, string last);

    [LoggerMessage(3002, LogLevel.Information, "Feed for {Collection} stopped")]
    public static partial void FeedStopped(ILogger logger, string collection);

    [LoggerMessage(3003, LogLevel.Information, "Feed for {Collection} backfilled {Count} changes from the change log after {After}")]
    public static partial void Backfilled(ILogger logger, string collection, int count, string after);

    [LoggerMessage(3004, LogLevel.Warning, "Feed for {Collection}: position {After} is no longer in the change log; sent resync to {Subscribers} subscribers")]
    public static partial void FeedResync(ILogger logger, string collection, string after, int subscribers);

    [LoggerMessage(3005, LogLevel.Warning, "Feed for {Collection} could not read the change log; will retry")]
    public static partial void FeedReadFailed(ILogger logger, Exception exception, string collection);

    [LoggerMessage(3006, LogLevel.Warning, "Disconnecting {ConnectionId}: {Reason}")]
    public static partial void Disconnecting(ILogger logger, string connectionId, string reason);

    [LoggerMessage(3007, LogLevel.Debug, "{ConnectionId} subscribed to {Collection} after {After}: replayed {Replayed}, live from {Last}, resync {Resync}")]
    public static partial void Subscribed(ILogger logger, string connectionId, string collection, string? after, int replayed, string? last, bool resync);

    [LoggerMessage(3008, LogLevel.Warning, "Sending to {ConnectionId} failed")]
    public static partial void SendFailed(ILogger logger, Exception exception, string connectionId);

    [LoggerMessage(3009, LogLevel.Information, "Redis connection restored: backfilling {Feeds} feeds")]
    public static partial void BackfillAfterReconnect(ILogger logger, int feeds);
}
