using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.SignalR;

namespace RedisSync.Bench.Baseline;

/// <summary>Body of a PUT: the writer's version of the record and its data (a JSON object).</summary>
public sealed record PutRecordRequest(long Version, JsonElement Data);

/// <summary>What a PUT did: <c>applied</c>, or <c>stale</c> when the stored version is not lower.</summary>
public sealed record WriteResult(string Collection, string Id, string Outcome, long Version);

public sealed record RecordView(string Collection, string Id, long Version, JsonElement Data);

/// <summary>The <c>change</c> event sent to a collection's group.</summary>
public sealed record RecordChanged(string Collection, string Id, long Version, JsonElement Data);

public static class RecordsApi
{
    /// <summary>The largest version JavaScript clients hold exactly, as in the gateway's contract.</summary>
    private const long MaxVersion = (1L << 53) - 1;

    public static IEndpointRouteBuilder MapRecords(this IEndpointRouteBuilder app)
    {
        var records = app.MapGroup("/api/v1/collections/{collection}/records");
        records.MapPut("/{id}", PutRecord);
        records.MapGet("/{id}", GetRecord);
        return app;
    }

    private static async Task<Results<Ok<WriteResult>, Conflict<WriteResult>, ValidationProblem>> PutRecord(
        string collection, string id, PutRecordRequest request, RecordStore store, IHubContext<SyncHub> hub)
    {
        if (request.Version is < 0 or > MaxVersion)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["version"] = [$"version must be from 0 to {MaxVersion}."] });
        if (request.Data.ValueKind != JsonValueKind.Object)
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["data"] = ["data must be a JSON object."] });

        if (!await store.TryStoreAsync(collection, id, request.Version, request.Data.GetRawText()))
            return TypedResults.Conflict(new WriteResult(collection, id, "stale", request.Version));

        await hub.Clients.Group(collection).SendAsync("change", new RecordChanged(collection, id, request.Version, request.Data));
        return TypedResults.Ok(new WriteResult(collection, id, "applied", request.Version));
    }

    private static async Task<Results<Ok<RecordView>, NotFound>> GetRecord(string collection, string id, RecordStore store) =>
        await store.GetAsync(collection, id) is { } record
            ? TypedResults.Ok(new RecordView(collection, id, record.Version, JsonSerializer.Deserialize<JsonElement>(record.Data)))
            : TypedResults.NotFound();
}
