using RedisSync.Gateway.Replication;

namespace RedisSync.Gateway.Hosting;

public static class ReplicationExtensions
{
    /// <summary>Multiple sites (CONTRACT §9): the options, the peers' HTTP clients and the replicator (idle without peers).</summary>
    public static WebApplicationBuilder AddReplication(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ReplicationOptions>().BindConfiguration("Replication").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<ReplicationOptions>, ReplicationOptionsValidator>();
        builder.Services.AddHttpClient();
        builder.Services.AddSingleton<Replicator>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Replicator>());
        return builder;
    }

    public static WebApplication MapReplication(this WebApplication app)
    {
        app.MapReplicationApi();
        return app;
    }
}
