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
        app.Use(GuardBodiesAsync);
        app.UseCors();
        app.UseAuthentication();
        // After authentication: the partition is the caller's API key. Left out when disabled (it is read once, at
        // start): the middleware would otherwise still run for every request to hand out a no-limit lease.
        if (app.Services.GetRequiredService<IOptions<RateLimitOptions>>().Value.Enabled) app.UseRateLimiter();
        app.UseAuthorization();
        app.UseSyncSwagger();
        app.MapRecordsApi();
        app.MapCollectionsApi();
        return app;
    }

    // Kestrel enforces the size limit while reading; a declared oversized body is answered before it is
    // read, which also covers hosts without the Kestrel limit (the test server). A JSON body must be UTF-8
    // (RFC 8259): System.Text.Json would otherwise replace invalid bytes with U+FFFD and store that.
    private static async Task GuardBodiesAsync(HttpContext context, Func<Task> next)
    {
        var request = context.Request;
        var max = context.RequestServices.GetRequiredService<IOptions<SyncOptions>>().Value.MaxRequestBodyBytes;
        if (request.ContentLength > max)
        {
            await Problems.Problem(413, "payload-too-large", "The request body is too large.", $"At most {max} bytes are accepted.").ExecuteAsync(context);
            return;
        }
        if (request.HasJsonContentType() && (request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0))
        {
            // Read the whole body into the request's own pipe without consuming it (bounded by the limit), check it,
            // and leave it there for the JSON binder: no copy of it is made.
            var reader = request.BodyReader;
            System.IO.Pipelines.ReadResult read;
            while (true)
            {
                read = await reader.ReadAsync(context.RequestAborted);
                if (read.Buffer.Length > max) throw new Microsoft.AspNetCore.Http.BadHttpRequestException("Request body too large.", StatusCodes.Status413PayloadTooLarge);
                if (read.IsCompleted) break;
                reader.AdvanceTo(read.Buffer.Start, read.Buffer.End); // all examined, nothing consumed: wait for more
            }
            var valid = IsUtf8(read.Buffer);
            reader.AdvanceTo(read.Buffer.Start);
            if (!valid)
            {
                await Problems.Validation("body", "The body is not valid UTF-8.").ExecuteAsync(context);
                return;
            }
        }
        await next();
    }

    private static bool IsUtf8(in System.Buffers.ReadOnlySequence<byte> body)
    {
        if (body.IsSingleSegment) return System.Text.Unicode.Utf8.IsValid(body.FirstSpan);
        var copy = System.Buffers.ArrayPool<byte>.Shared.Rent((int)body.Length);
        try
        {
            System.Buffers.BuffersExtensions.CopyTo(body, copy);
            return System.Text.Unicode.Utf8.IsValid(copy.AsSpan(0, (int)body.Length));
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(copy); }
    }
}
