namespace RedisSync.Gateway.Repair;

internal static partial class RepairLog
{
    [LoggerMessage(7001, LogLevel.Warning, "Scrub of {Collection}: {Count} record(s) lost behind the gateway's back: {Ids}")]
    public static partial void Lost(ILogger logger, string collection, int count, string ids);

    [LoggerMessage(7002, LogLevel.Warning, "Scrub of {Collection}: {Count} record(s) altered behind the gateway's back: {Ids}")]
    public static partial void Altered(ILogger logger, string collection, int count, string ids);

    [LoggerMessage(7003, LogLevel.Information, "Scrub of {Collections} collection(s): {Records} records checked, {Damaged} damaged, in {Ms} ms")]
    public static partial void Scrubbed(ILogger logger, int collections, long records, int damaged, long ms);

    [LoggerMessage(7004, LogLevel.Information, "Repair with {Peer}, collection {Collection}: {Differing} differing, {Repaired} repaired: {Ids}")]
    public static partial void Repaired(ILogger logger, string peer, string collection, int differing, int repaired, string ids);

    [LoggerMessage(7005, LogLevel.Warning, "Repair with {Peer} failed: {Error}")]
    public static partial void PeerFailed(ILogger logger, string peer, string error);

    [LoggerMessage(7006, LogLevel.Error, "Periodic {Task} failed; it runs again at the next interval")]
    public static partial void PeriodicFailed(ILogger logger, Exception exception, string task);
}
