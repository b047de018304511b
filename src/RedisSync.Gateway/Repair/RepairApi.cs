using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using RedisSync.Gateway.Api;
using RedisSync.Gateway.Auth;
using RedisSync.Gateway.Store;

namespace RedisSync.Gateway.Repair;

/// <summary>Digests, scrub and repair (CONTRACT §10). All need a key with <c>Replicate</c> or read <c>*</c>.</summary>
internal static class RepairApi
{
    public static IEndpointRouteBuilder MapRepairApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1")
            .WithTags("Digests and repair")
            .RequireAuthorization(AuthExtensions.ReplicatePolicy)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapGet("/digests", async (Digests digests) => TypedResults.Ok(await digests.AllAsync()))
            .WithName("ListDigests").WithSummary("Every collection's digest root, in one answer.");
        api.MapPost("/digests/rebuild", async (Scrubber scrubber, CancellationToken ct) => TypedResults.Ok(await scrubber.ScrubAllAsync(ct)))
            .WithName("RebuildDigests").WithSummary("Scrub now: rebuild every digest from the stored records and report what was lost or altered.");
        api.MapPost("/replication/repair", async (RepairService repair, CancellationToken ct) => TypedResults.Ok(await repair.RepairAsync(rebuild: true, ct)))
            .WithName("Repair").WithSummary("Rebuild the digests, compare with every peer, and repair what differs, both ways.");

        var collection = api.MapGroup("/collections/{collection}/digest").AddEndpointFilter<RouteNamesFilter>().ProducesValidationProblem();
        collection.MapGet("", async (string collection, Digests digests) => TypedResults.Ok(await digests.OfAsync(collection)))
            .WithName("GetDigest").WithSummary("A collection's root and the hash of each of its 1024 buckets (a collection without records: all empty).");
        collection.MapGet("/buckets/{bucket}", Bucket)
            .WithName("GetDigestBucket").WithSummary("The records of one bucket, deleted ones included: id and state hash.");
        return app;
    }

    private static async Task<Results<Ok<BucketItems>, ValidationProblem>> Bucket(string collection, string bucket, Digests digests)
    {
        if (!RecordsApi.TryParseDigits(bucket, out var b) || b >= RedisKeys.DigestBuckets)
            return Problems.Validation("bucket", $"bucket must be an integer from 0 to {RedisKeys.DigestBuckets - 1} (a position in buckets).");
        return TypedResults.Ok(await digests.BucketAsync(collection, (int)b));
    }
}
