using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using RedisSync.Gateway.Api;

namespace RedisSync.Gateway.Hosting;

/// <summary>Per-key request rate (section <c>RateLimit</c>).</summary>
public sealed class RateLimitOptions
{
    /// <summary>When false, no request is ever refused for its rate.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Requests per second one API key may make on average.</summary>
    [Range(1, 1_000_000)]
    public int PermitsPerSecond { get; set; } = 5000;

    /// <summary>Requests one API key may make at once after being idle.</summary>
    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 10000;
}

/// <summary>Browser origins allowed to call the API and the hub (section <c>Cors</c>).</summary>
public sealed class CorsOptions
{
    /// <summary>Exact origins such as <c>https://app.example.com</c>; empty means same-origin only.</summary>
    public List<string> AllowedOrigins { get; set; } = [];
}

public static class ProtectionExtensions
{
    /// <summary>Rate limiting per API key (429 with Retry-After) and the CORS allow-list.</summary>
    public static WebApplicationBuilder AddProtection(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration("RateLimit").ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<CorsOptions>().BindConfiguration("Cors");
        builder.Services.AddRateLimiter(o =>
        {
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(Partition);
            o.OnRejected = (context, _) =>
            {
                var seconds = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
                    ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)) : 1;
                context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                return new ValueTask(Problems.Problem(429, "rate-limited", "Too many requests.",
                    $"This API key is over its request rate; retry in {seconds} s.").ExecuteAsync(context.HttpContext));
            };
        });
        builder.Services.AddCors();
        builder.Services.AddOptions<Microsoft.AspNetCore.Cors.Infrastructure.CorsOptions>()
            .Configure<IOptions<CorsOptions>>((cors, allowed) => cors.AddDefaultPolicy(p => p
                .WithOrigins([.. allowed.Value.AllowedOrigins])
                .AllowAnyHeader()
                .AllowAnyMethod()
                .AllowCredentials() // the SignalR client sends credentials on negotiate
                .WithExposedHeaders("Retry-After", "Location")));
        return builder;
    }

    // One token bucket per API key (by its name); callers without a key share one per IP address.
    // Health probes are never limited: an orchestrator must always learn whether the gateway is up.
    // Only called when RateLimit:Enabled: otherwise UseSyncApi leaves the middleware out.
    private static RateLimitPartition<string> Partition(HttpContext http)
    {
        var options = http.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value;
        if (http.Request.Path.StartsWithSegments("/health"))
            return RateLimitPartition.GetNoLimiter("unlimited");
        var partition = http.User.Identity?.IsAuthenticated == true
            ? "key:" + http.User.Identity.Name
            : "ip:" + http.Connection.RemoteIpAddress;
        return RateLimitPartition.GetTokenBucketLimiter(partition, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = options.Burst,
            TokensPerPeriod = options.PermitsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }
}
