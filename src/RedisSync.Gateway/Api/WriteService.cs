using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using RedisSync.Gateway.Auth;
using RedisSync.Gateway.Contracts;
using RedisSync.Gateway.Hosting;
using RedisSync.Gateway.Merge;
using RedisSync.Gateway.Store;

namespace RedisSync.Gateway.Api;

/// <summary>The write use case shared by PUT, PATCH, DELETE and batch: authorize the source, validate, store.</summary>
public sealed class WriteService(RecordStore store, WriteMapper mapper, IOptions<SyncOptions> sync)
{
    public async Task<Results<Created<WriteResult>, Ok<WriteResult>, ValidationProblem, ProblemHttpResult>> WriteOneAsync(
        WriteOp op, string collection, string id, long? version, string? timestamp, string? source, JsonElement? data, ClaimsPrincipal user)
    {
        if (SourceMismatch(user, source) is { } forbidden) return forbidden;
        var policy = sync.Value.PolicyFor(collection);
        var errors = new Dictionary<string, string[]>();
        var write = mapper.Map(new WriteInput(op, id, version, timestamp, source, data, policy, user.SourceOf() is null), user.SourceOf(), "", errors);
        if (write is null) return Problems.Validation(errors);

        WriteResult result;
        try
        {
            result = (await store.WriteAsync(collection, [write]))[0];
        }
        catch (RecordTooLargeException e)
        {
            return Problems.Validation("data", e.Message);
        }
        if (result.Outcome == "conflict")
            return Problems.Conflict($"A field of '{id}' already holds clock {Describe(write)} with a different value: a source must not reuse a clock.");
        return result.Created
            ? TypedResults.Created($"/api/v1/collections/{collection}/records/{id}", result)
            : TypedResults.Ok(result);
    }

    public async Task<Results<Ok<BatchResult>, ValidationProblem, ProblemHttpResult>> WriteBatchAsync(
        string collection, IReadOnlyList<BatchItem?>? items, ClaimsPrincipal user)
    {
        var max = sync.Value.MaxBatchSize;
        if (items is null || items.Count == 0 || items.Count > max)
            return Problems.Validation("records", $"records must hold 1 to {max} items.");
        var policy = sync.Value.PolicyFor(collection);
        var errors = new Dictionary<string, string[]>();
        var writes = new List<RecordWrite>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            if (item is null) { errors[$"records[{i}]"] = ["An item must be an object."]; continue; }
            if (SourceMismatch(user, item.Source) is { } forbidden) return forbidden;
            WriteOp? op = item.Op switch { "put" => WriteOp.Put, "patch" => WriteOp.Patch, "delete" => WriteOp.Delete, _ => null };
            var input = new WriteInput(op, item.Id, item.Version, item.Timestamp, item.Source, item.Data, policy, user.SourceOf() is null);
            if (mapper.Map(input, user.SourceOf(), $"records[{i}].", errors) is { } write) writes.Add(write);
        }
        if (errors.Count > 0) return Problems.Validation(errors);
        try
        {
            return TypedResults.Ok(new BatchResult(await store.WriteAsync(collection, writes)));
        }
        catch (RecordTooLargeException e)
        {
            return Problems.Validation($"records[{e.ItemIndex}].data", e.Message + " Nothing in this batch was written.");
        }
    }

    // With auth on, the key names the source; a body that claims another is refused rather than ignored.
    private static ProblemHttpResult? SourceMismatch(ClaimsPrincipal user, string? bodySource) =>
        user.SourceOf() is { } keySource && bodySource is not null && bodySource != keySource
            ? Problems.Forbidden($"This API key writes as source '{keySource}', not '{bodySource}'.")
            : null;

    private static string Describe(RecordWrite w) =>
        $"(version {w.Version}, {w.TimestampMs switch { null => "timestamp stamped by the server", 0 => "no timestamp", { } ms => "timestamp " + Timestamps.Format(ms) }}, source {w.Source})";
}
