using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using RedisSync.Gateway.Auth;
using RedisSync.Gateway.Contracts;
using RedisSync.Gateway.Hosting;
using RedisSync.Gateway.Store;

namespace RedisSync.Gateway.Api;

/// <summary><c>GET /collections</c> and the health endpoints.</summary>
internal static class CollectionsApi
{
    public static IEndpointRouteBuilder MapCollectionsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/collections", ListCollections).WithName("ListCollections").WithTags("Collections")
            .WithSummary("Collections this key may read, with live-record count and last seq.")
            .RequireAuthorization()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        app.MapGet("/health/live", () => TypedResults.Ok(new { status = "live" })).WithTags("Health").WithSummary("The process is up.");
        app.MapGet("/health/ready", Ready).WithTags("Health").WithSummary("Redis answers a PING.")
            .Produces<ReadyStatus>(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    private static async Task<Ok<CollectionInfo[]>> ListCollections(ClaimsPrincipal user, RecordStore store, IOptions<SyncOptions> sync)
    {
        var all = await store.ListCollectionsAsync();
        return TypedResults.Ok(all.Where(c => user.CanRead(c.Name))
            .Select(c => new CollectionInfo(c.Name, sync.Value.PolicyFor(c.Name).ToString().ToLowerInvariant(), c.Records, c.LastSeq))
            .ToArray());
    }

    private static async Task<Results<Ok<ReadyStatus>, JsonHttpResult<ReadyStatus>>> Ready(RecordStore store, HttpContext http)
    {
        if (await store.PingAsync()) return TypedResults.Ok(new ReadyStatus("ready", true));
        http.Response.Headers.RetryAfter = "1";
        return TypedResults.Json(new ReadyStatus("unavailable", false), statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    /// <summary>Readiness: whether Redis answers.</summary>
    public sealed record ReadyStatus(string Status, bool Redis);
}
