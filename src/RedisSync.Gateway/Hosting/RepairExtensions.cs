using RedisSync.Gateway.Repair;
using RedisSync.Gateway.Store;

namespace RedisSync.Gateway.Hosting;

public static class RepairExtensions
{
    /// <summary>Compare and repair (CONTRACT §10): digests, the scrub and anti-entropy with the peers.</summary>
    public static WebApplicationBuilder AddRepair(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<RepairOptions>().BindConfiguration("Repair").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<DigestStore>();
        builder.Services.AddSingleton<Digests>();
        builder.Services.AddSingleton<Scrubber>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Scrubber>());
        builder.Services.AddSingleton<RepairService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RepairService>());
        return builder;
    }

    public static WebApplication MapRepair(this WebApplication app)
    {
        app.MapRepairApi();
        return app;
    }
}
