using Microsoft.Extensions.DependencyInjection.Extensions;
using RedisSync.Gateway.Realtime;

namespace RedisSync.Gateway.Hosting;

public static class RealtimeExtensions
{
    /// <summary>SignalR with the JSON protocol, and this instance's change feeds.</summary>
    public static WebApplicationBuilder AddRealtime(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<RealtimeOptions>().BindConfiguration("Realtime").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSignalR();
        builder.Services.RemoveAll<Microsoft.AspNetCore.SignalR.Protocol.IHubProtocol>();
        builder.Services.AddSingleton<Microsoft.AspNetCore.SignalR.Protocol.IHubProtocol, StrictJsonHubProtocol>();
        builder.Services.AddOptions<Microsoft.AspNetCore.SignalR.JsonHubProtocolOptions>()
            .Configure<Microsoft.Extensions.Options.IOptions<SyncOptions>>((o, sync) => ApiExtensions.ConfigureJson(o.PayloadSerializerOptions, sync.Value.MaxJsonDepth));
        builder.Services.AddSingleton<ChangeFeeds>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ChangeFeeds>());
        return builder;
    }

    public static WebApplication MapRealtime(this WebApplication app)
    {
        app.MapHub<SyncHub>("/hubs/sync");
        return app;
    }
}
