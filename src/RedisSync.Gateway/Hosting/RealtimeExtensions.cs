using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.AspNetCore.SignalR.StackExchangeRedis;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using RedisSync.Gateway.Realtime;
using RedisSync.Gateway.Realtime.Presence;
using StackExchange.Redis;
using BackplaneOptions = Microsoft.AspNetCore.SignalR.StackExchangeRedis.RedisOptions;

namespace RedisSync.Gateway.Hosting;

public static class RealtimeExtensions
{
    /// <summary>
    /// SignalR with the JSON (default) and MessagePack protocols and the Redis backplane, this instance's
    /// change feeds, and presence.
    /// </summary>
    /// <remarks>
    /// The backplane carries hub-level sends (signals, presence events) to every instance: at most once,
    /// never replayed. Changes do not ride it: each instance's feeds read them from the change log, which
    /// is what lets a client resume without a gap (CONTRACT §4, PITFALLS 8).
    /// </remarks>
    public static WebApplicationBuilder AddRealtime(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<RealtimeOptions>().BindConfiguration("Realtime").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSignalR()
            .AddMessagePackProtocol()
            .AddStackExchangeRedis();
        // The backplane shares the gateway's one multiplexer instead of opening its own connections. Its
        // channels are named after the hub ("RedisSync.Gateway.Realtime.SyncHub:…"): ConfigurationOptions'
        // ChannelPrefix is a multiplexer setting, which would also rename the change feeds' channels.
        builder.Services.AddOptions<BackplaneOptions>()
            .Configure<IConnectionMultiplexer>((o, redis) => o.ConnectionFactory = _ => Task.FromResult(redis));
        // The hub's lifetime manager is the backplane wrapped in a lookup of local connections, so that feeds
        // write each change serialized once (HubConnectionRegistry says why).
        builder.Services.AddSingleton<RedisHubLifetimeManager<SyncHub>>();
        builder.Services.AddSingleton(sp => new HubConnectionRegistry(sp.GetRequiredService<RedisHubLifetimeManager<SyncHub>>()));
        builder.Services.AddSingleton<HubLifetimeManager<SyncHub>>(sp => sp.GetRequiredService<HubConnectionRegistry>());

        // JSON stays the stock protocol except that an unreadable message closes the connection.
        foreach (var stock in builder.Services.Where(d => d.ServiceType == typeof(IHubProtocol) && d.ImplementationType == typeof(JsonHubProtocol)).ToList())
            builder.Services.Remove(stock);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHubProtocol, StrictJsonHubProtocol>());
        builder.Services.AddOptions<Microsoft.AspNetCore.SignalR.JsonHubProtocolOptions>()
            .Configure<IOptions<SyncOptions>>((o, sync) => ApiExtensions.ConfigureJson(o.PayloadSerializerOptions, sync.Value.MaxJsonDepth));

        builder.Services.AddSingleton<ChangeFeeds>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ChangeFeeds>());
        builder.Services.AddSingleton<PresenceTracker>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PresenceTracker>());
        return builder;
    }

    public static WebApplication MapRealtime(this WebApplication app)
    {
        app.MapHub<SyncHub>("/hubs/sync");
        return app;
    }
}
