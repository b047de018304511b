namespace RedisSync.Gateway.Realtime.Presence;

internal static partial class PresenceLog
{
    [LoggerMessage(3101, LogLevel.Information, "Presence: instance {Instance} holds its lease (timeout {Timeout})")]
    public static partial void Registered(ILogger logger, string instance, TimeSpan timeout);

    [LoggerMessage(3102, LogLevel.Warning, "Presence: the lease of instance {Instance} is gone (another instance expired it after too long without renewal, or Redis lost its data); rejoining {Members} members as {NewInstance}")]
    public static partial void LeaseLost(ILogger logger, string instance, int members, string newInstance);

    [LoggerMessage(3103, LogLevel.Information, "Presence: instance {Instance} stopped renewing its lease; removed its {Members} members from {Collections} collections")]
    public static partial void Reaped(ILogger logger, string instance, int members, int collections);

    [LoggerMessage(3104, LogLevel.Warning, "Presence: lease renewal or reaping failed; will retry")]
    public static partial void HeartbeatFailed(ILogger logger, Exception exception);

    [LoggerMessage(3105, LogLevel.Warning, "Presence: sending {Action} in {Collection} failed")]
    public static partial void SendFailed(ILogger logger, Exception exception, string action, string collection);

    [LoggerMessage(3106, LogLevel.Warning, "Presence: removing member {ConnectionId} of {Collection} failed; will retry")]
    public static partial void LeaveDeferred(ILogger logger, Exception exception, string connectionId, string collection);

    [LoggerMessage(3107, LogLevel.Information, "Presence: shutting down, removed this instance's {Members} members")]
    public static partial void Released(ILogger logger, int members);

    [LoggerMessage(3108, LogLevel.Warning, "Presence: could not remove this instance's members at shutdown; other instances will when its lease expires")]
    public static partial void ReleaseFailed(ILogger logger, Exception exception);
}
