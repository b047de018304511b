using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using RedisSync.Gateway.Api;

namespace RedisSync.Gateway.Hosting;

public static class ApiExtensions
{
    /// <summary>JSON rules, validation, problem details and Swagger for the HTTP API.</summary>
    public static WebApplicationBuilder AddSyncApi(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<JsonOptions>().Configure<IOptions<SyncOptions>>((o, sync) => ConfigureJson(o.SerializerOptions, sync.Value.MaxJsonDepth));
        // Bad bodies throw, so ErrorHandling answers them as problems (the default is an empty 400/415).
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<SyncOptions>>((k, sync) => k.Limits.MaxRequestBodySize = sync.Value.MaxRequestBodyBytes);
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
            ctx.ProblemDetails.Extensions.TryAdd("code", Problems.CodeFor(ctx.ProblemDetails.Status ?? ctx.HttpContext.Response.StatusCode)));
        services.AddExceptionHandler<ErrorHandling>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<WriteInputValidator>();
        services.AddSingleton<WriteMapper>();
        services.AddScoped<WriteService>();
        services.AddSyncSwagger();
        return builder;
    }

    /// <summary>The JSON rules for bodies: duplicate keys and deep nesting are errors, not silent choices.</summary>
    public static void ConfigureJson(JsonSerializerOptions json, int maxDepth)
    {
        json.AllowDuplicateProperties = false;
        json.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict; // "1" is not a version
        json.MaxDepth = maxDepth;
        json.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
    }

    public static WebApplication UseSyncApi(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.Use(RejectOversizedBodies);
        app.UseCors();
        app.UseAuthentication();
        app.UseRateLimiter(); // after authentication: the partition is the caller's API key
        app.UseAuthorization();
        app.UseSyncSwagger();
        app.MapRecordsApi();
        app.MapCollectionsApi();
        return app;
    }

    // Kestrel enforces the limit while reading; this answers a declared oversized body before reading it,
    // and covers hosts without the Kestrel limit (the test server).
    private static Task RejectOversizedBodies(HttpContext context, Func<Task> next)
    {
        var max = context.RequestServices.GetRequiredService<IOptions<SyncOptions>>().Value.MaxRequestBodyBytes;
        if (context.Request.ContentLength > max)
            return Problems.Problem(413, "payload-too-large", "The request body is too large.", $"At most {max} bytes are accepted.").ExecuteAsync(context);
        return next();
    }
}
