using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using RedisSync.Gateway.Observability;

namespace RedisSync.Gateway.Hosting;

/// <summary>The Prometheus scrape endpoint (section <c>Metrics</c>).</summary>
public sealed class MetricsOptions
{
    /// <summary>
    /// Serve the gateway's meters at <c>/metrics</c> in Prometheus text format. Off by default: it tells whoever
    /// reads it how busy the gateway is. With auth on it needs a valid API key (any key).
    /// </summary>
    public bool Enabled { get; set; }
}

public static class TelemetryExtensions
{
    /// <summary>Where Prometheus scrapes (CONTRACT §8).</summary>
    public const string MetricsPath = "/metrics";

    /// <summary>
    /// OpenTelemetry: the <c>RedisSync.Gateway</c> meter with ASP.NET Core, HttpClient and runtime metrics; traces
    /// from ASP.NET Core, HttpClient and the store's Redis calls. Exported over OTLP when
    /// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the exporter reads the other <c>OTEL_*</c> settings itself), and
    /// to Prometheus at <c>/metrics</c> when <c>Metrics:Enabled</c>. Traces are recorded only with OTLP export (or
    /// <c>Telemetry:Traces</c> for an exporter added in code).
    /// </summary>
    public static WebApplicationBuilder AddTelemetry(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<MetricsOptions>().BindConfiguration("Metrics").ValidateDataAnnotations().ValidateOnStart();
        // Read here as well as through the options: the exporter is a reader of the meter provider, and without
        // any reader the SDK aggregates nothing.
        var prometheus = builder.Configuration.GetValue<bool>("Metrics:Enabled");
        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        // Spans cost every request an Activity and its tags: record them only when something will export them.
        var traces = otlp || builder.Configuration.GetValue<bool>("Telemetry:Traces");

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(builder.Configuration["OTEL_SERVICE_NAME"] ?? "redissync-gateway"))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(SyncMetrics.MeterName)
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddRuntimeInstrumentation();
                // No response cache (the exporter's default is 300 ms): a scrape shows every write already answered.
                // Scrapes are rare, and behind the API key and the rate limiter.
                if (prometheus) metrics.AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0);
            });
        if (traces)
            telemetry.WithTracing(tracing => tracing
                .AddSource(SyncTelemetry.SourceName)
                .AddAspNetCoreInstrumentation(o => o.Filter = http => !IsProbe(http.Request.Path))
                .AddHttpClientInstrumentation());
        if (otlp) telemetry.UseOtlpExporter();
        return builder;
    }

    /// <summary>Maps <c>/metrics</c> when <c>Metrics:Enabled</c>; otherwise the path stays a 404.</summary>
    public static WebApplication MapMetrics(this WebApplication app)
    {
        if (!app.Services.GetRequiredService<IOptions<MetricsOptions>>().Value.Enabled) return app;
        app.MapPrometheusScrapingEndpoint(MetricsPath)
            .RequireAuthorization() // any valid key: the default policy asks only for an authenticated caller
            .DisableHttpMetrics()   // scrapes would otherwise show up in the request metrics they report
            .ExcludeFromDescription();
        return app;
    }

    // Scrapes and health probes arrive every few seconds and say nothing about the traffic: no spans for them.
    private static bool IsProbe(PathString path) =>
        path.StartsWithSegments(MetricsPath) || path.StartsWithSegments("/health");
}
