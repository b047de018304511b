using Microsoft.Extensions.Options;
using RedisSync.Gateway.Store;
using StackExchange.Redis;

namespace RedisSync.Gateway.Hosting;

public static class RedisExtensions
{
    /// <summary>One shared multiplexer that never gives up reconnecting, and the store on top of it.</summary>
    public static WebApplicationBuilder AddRedisStore(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<RedisOptions>().BindConfiguration("Redis").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<SyncOptions>().BindConfiguration("Sync").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<IConnectionMultiplexer>(sp =>
        {
            var log = sp.GetRequiredService<ILogger<RecordStore>>();
            var config = ConfigurationOptions.Parse(sp.GetRequiredService<IOptions<RedisOptions>>().Value.ConnectionString!);
            // Start even when Redis is down, and keep reconnecting: requests get 503 meanwhile.
            config.AbortOnConnectFail = false;
            config.ConnectTimeout = Math.Min(config.ConnectTimeout, 5000);
            config.SyncTimeout = Math.Max(config.SyncTimeout, 5000);
            var mux = ConnectionMultiplexer.Connect(config);
            mux.ConnectionFailed += (_, e) => RedisLog.ConnectionFailed(log, e.EndPoint?.ToString(), e.ConnectionType.ToString(), e.FailureType.ToString());
            mux.ConnectionRestored += (_, e) => RedisLog.ConnectionRestored(log, e.EndPoint?.ToString(), e.ConnectionType.ToString());
            return mux;
        });
        builder.Services.AddSingleton<RecordStore>();
        return builder;
    }
}

internal static partial class RedisLog
{
    [LoggerMessage(1001, LogLevel.Warning, "Redis connection to {EndPoint} ({ConnectionType}) failed: {FailureType}")]
    public static partial void ConnectionFailed(ILogger logger, string? endPoint, string connectionType, string failureType);

    [LoggerMessage(1002, LogLevel.Information, "Redis connection to {EndPoint} ({ConnectionType}) restored")]
    public static partial void ConnectionRestored(ILogger logger, string? endPoint, string connectionType);
}
