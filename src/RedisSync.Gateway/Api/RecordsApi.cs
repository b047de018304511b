using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using RedisSync.Gateway.Auth;
using RedisSync.Gateway.Contracts;
using RedisSync.Gateway.Hosting;
using RedisSync.Gateway.Merge;
using RedisSync.Gateway.Store;

namespace RedisSync.Gateway.Api;

/// <summary>Records and their change log: CONTRACT §3.</summary>
internal static partial class RecordsApi
{
    public static IEndpointRouteBuilder MapRecordsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/collections/{collection}")
            .WithTags("Records")
            .RequireAuthorization(CollectionAccessRequirement.Policy)
            .AddEndpointFilter<RouteNamesFilter>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        group.MapPut("/records/{id}", PutRecord).WithName("PutRecord")
            .WithSummary("Replace a record: named fields are set, unnamed ones removed, each where the write's clock wins.")
            .ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        group.MapPatch("/records/{id}", PatchRecord).WithName("PatchRecord")
            .WithSummary("Merge fields into a record; a field set to null is removed.")
            .ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        group.MapDelete("/records/{id}", DeleteRecord).WithName("DeleteRecord")
            .WithSummary("Delete a record at a clock; a later write with a greater clock brings it back.")
            .ProducesProblem(StatusCodes.Status409Conflict);
        group.MapPost("/records", WriteBatch).WithName("WriteBatch")
            .WithSummary("Apply 1 to 1000 puts, patches and deletes; all are validated before any is applied.")
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        group.MapGet("/records/{id}", GetRecord).WithName("GetRecord")
            .WithSummary("Read a record; ?include=clocks adds every field's clock.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/records", ListRecords).WithName("ListRecords")
            .WithSummary("Page through live records; asOf is where Subscribe continues without a gap.");
        group.MapGet("/changes", ListChanges).WithName("ListChanges")
            .WithSummary("Read the change log after a position.")
            .ProducesProblem(StatusCodes.Status410Gone);
        return app;
    }

    private static Task<Results<Created<WriteResult>, Ok<WriteResult>, ValidationProblem, ProblemHttpResult>> PutRecord(
        string collection, string id, WriteRequest body, ClaimsPrincipal user, WriteService writes) =>
        writes.WriteOneAsync(WriteOp.Put, collection, id, body.Version, body.Timestamp, body.Source, body.Data, user);

    private static Task<Results<Created<WriteResult>, Ok<WriteResult>, ValidationProblem, ProblemHttpResult>> PatchRecord(
        string collection, string id, WriteRequest body, ClaimsPrincipal user, WriteService writes) =>
        writes.WriteOneAsync(WriteOp.Patch, collection, id, body.Version, body.Timestamp, body.Source, body.Data, user);

    private static async Task<Results<Ok<WriteResult>, ValidationProblem, ProblemHttpResult>> DeleteRecord(
        string collection, string id, [FromQuery] string? version, [FromQuery] string? timestamp, [FromQuery] string? source,
        ClaimsPrincipal user, WriteService writes)
    {
        long? parsed = null;
        if (version is not null)
        {
            if (!TryParseDigits(version, out var v))
                return Problems.Validation("version", "version must be an integer from 0 to 2^53-1.");
            parsed = v;
        }
        var result = await writes.WriteOneAsync(WriteOp.Delete, collection, id, parsed, timestamp, source, null, user);
        return result.Result switch
        {
            Ok<WriteResult> ok => ok,
            Created<WriteResult> created => TypedResults.Ok(created.Value),
            ValidationProblem invalid => invalid,
            ProblemHttpResult problem => problem,
            _ => throw new InvalidOperationException("unexpected write result"),
        };
    }

    private static async Task<Results<Ok<BatchResult>, ValidationProblem, ProblemHttpResult>> WriteBatch(
        string collection, BatchRequest body, ClaimsPrincipal user, WriteService writes) => await writes.WriteBatchAsync(collection, body.Records, user);

    private static async Task<Results<Ok<RecordView>, ValidationProblem, ProblemHttpResult>> GetRecord(
        string collection, string id, [FromQuery] string? include, RecordStore store)
    {
        if (include is not null && include != "clocks")
            return Problems.Validation("include", "include may only be 'clocks'.");
        var view = await store.GetAsync(collection, id, include == "clocks");
        if (view is null)
            return Problems.NotFound($"No record '{id}' in '{collection}'.");
        if (view.Deleted)
            return Problems.NotFound($"Record '{id}' in '{collection}' is deleted.",
                new Dictionary<string, object?> { ["deleted"] = true, ["revision"] = view.Revision, ["seq"] = view.Seq, ["clock"] = view.Clock });
        return TypedResults.Ok(view);
    }

    private static async Task<Results<Ok<RecordPage>, ValidationProblem>> ListRecords(
        string collection, [FromQuery] string? limit, [FromQuery] string? cursor, RecordStore store, IOptions<SyncOptions> sync)
    {
        if (ParseLimit(limit, sync.Value.MaxPageSize) is not { } n)
            return Problems.Validation("limit", $"limit must be an integer from 1 to {sync.Value.MaxPageSize}.");
        string? afterId = null;
        if (cursor is not null)
        {
            if (!Cursor.TryDecode(cursor, out var id) || !Names.RecordId().IsMatch(id))
                return Problems.Validation("cursor", "cursor is not one this API handed out.");
            afterId = id;
        }
        return TypedResults.Ok(await store.ListAsync(collection, n, afterId));
    }

    private static async Task<Results<Ok<ChangePage>, ValidationProblem, ProblemHttpResult>> ListChanges(
        string collection, [FromQuery] string? after, [FromQuery] string? limit, RecordStore store, IOptions<SyncOptions> sync)
    {
        if (ParseLimit(limit, sync.Value.MaxPageSize) is not { } n)
            return Problems.Validation("limit", $"limit must be an integer from 1 to {sync.Value.MaxPageSize}.");
        if (after is not null && !IsSeq(after))
            return Problems.Validation("after", "after must be a seq this API handed out (e.g. 1732262400000-0).");
        var read = await store.ReadChangesAsync(collection, after, n + 1);
        if (read.ResyncRequired)
            return Problems.ResyncRequired($"Changes after '{after}' are no longer retained (or the log was reset): reload the records and continue from their asOf.");
        // State-only entries (clocks that moved, for peer sites) are not changes for readers, but a page steps over
        // them: `next` is the last entry read, so a page can hold fewer than `limit` items while hasMore is true.
        var page = read.Entries.Take(n).ToArray();
        var policy = store.PolicyOf(collection);
        var items = page.Where(e => e.Kind != EntryKind.State).Select(e => RecordViews.Change(collection, e, policy)).ToArray();
        return TypedResults.Ok(new ChangePage(items, page.Length > 0 ? page[^1].Seq : after ?? read.Last ?? "0-0", read.Entries.Count > n));
    }

    internal static int? ParseLimit(string? text, int max)
    {
        if (text is null) return Math.Min(100, max);
        return TryParseDigits(text, out var n) && n >= 1 && n <= max ? (int)n : null;
    }

    // Only ASCII digits, at most 18 of them: long.TryParse alone accepts trailing NULs and other oddities.
    internal static bool TryParseDigits(string text, out long value)
    {
        value = 0;
        if (text.Length is 0 or > 18 || !text.All(char.IsAsciiDigit)) return false;
        value = long.Parse(text, CultureInfo.InvariantCulture);
        return true;
    }

    /// <summary>A stream id: two decimal integers that fit Redis's unsigned 64-bit parts.</summary>
    public static bool IsSeq(string s) => SeqPattern().IsMatch(s);

    [GeneratedRegex(@"^[0-9]{1,19}-[0-9]{1,19}\z")] // [0-9]: \d also matches non-ASCII digits
    private static partial Regex SeqPattern();
}
