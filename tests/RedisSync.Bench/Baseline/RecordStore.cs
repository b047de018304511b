using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace RedisSync.Bench.Baseline;

/// <summary>Where the baseline's Redis is.</summary>
public sealed class RedisStoreOptions
{
    /// <summary>A StackExchange.Redis configuration string.</summary>
    [Required]
    public string ConnectionString { get; set; } = "";
}

/// <summary>
/// Records in Redis, one hash per record: <c>bl:{collection}:r:{id}</c> with <c>v</c> (the version) and <c>d</c>
/// (the data as the writer sent it, JSON text). A write is stored only when its version is greater than the
/// stored one, checked and set in one script.
/// </summary>
public sealed class RecordStore(IConnectionMultiplexer redis)
{
    // tonumber is exact for versions up to 2^53, the largest the API accepts.
    private static readonly LuaScript CheckAndSet = LuaScript.Prepare("""
        local stored = redis.call('HGET', @record, 'v')
        if stored and tonumber(stored) >= tonumber(@version) then return 0 end
        redis.call('HSET', @record, 'v', @version, 'd', @data)
        return 1
        """);

    private static RedisKey RecordKey(string collection, string id) => $"bl:{{{collection}}}:r:{id}";

    /// <summary>Stores the record unless a version at least as high is stored already; true when stored.</summary>
    public async Task<bool> TryStoreAsync(string collection, string id, long version, string data)
    {
        var stored = await redis.GetDatabase().ScriptEvaluateAsync(CheckAndSet,
            new { record = RecordKey(collection, id), version, data });
        return (int)stored == 1;
    }

    /// <summary>The stored version and data, or null when the record does not exist.</summary>
    public async Task<(long Version, string Data)?> GetAsync(string collection, string id)
    {
        var fields = await redis.GetDatabase().HashGetAsync(RecordKey(collection, id), ["v", "d"]);
        return fields[0].IsNull ? null : ((long)fields[0], (string)fields[1]!);
    }
}

public static class RecordStoreExtensions
{
    /// <summary>One multiplexer for the process, connected at start so a wrong address fails fast.</summary>
    public static WebApplicationBuilder AddRecordStore(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<RedisStoreOptions>().BindConfiguration("Redis").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<IConnectionMultiplexer>(sp =>
            ConnectionMultiplexer.Connect(sp.GetRequiredService<IOptions<RedisStoreOptions>>().Value.ConnectionString));
        builder.Services.AddSingleton<RecordStore>();
        return builder;
    }

    /// <summary>
    /// SignalR with the Redis backplane, over the store's multiplexer rather than a second one. JSON protocol only:
    /// the backplane serializes each group send for every registered protocol, and the change's data (a
    /// JsonElement) has no MessagePack form.
    /// </summary>
    public static WebApplicationBuilder AddChangeNotifications(this WebApplicationBuilder builder)
    {
        builder.Services.AddSignalR().AddStackExchangeRedis();
        builder.Services.AddOptions<Microsoft.AspNetCore.SignalR.StackExchangeRedis.RedisOptions>()
            .Configure<IConnectionMultiplexer>((backplane, redis) => backplane.ConnectionFactory = _ => Task.FromResult(redis));
        return builder;
    }
}
