using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using RedisSync.Gateway.Api;
using RedisSync.Gateway.Auth;
using RedisSync.Gateway.Contracts;
using RedisSync.Gateway.Hosting;
using RedisSync.Gateway.Store;

namespace RedisSync.Gateway.Replication;

/// <summary>
/// The replication endpoints (CONTRACT §9): the status, and what a peer site reads and sends. All need a key with
/// <c>Replicate</c> or read <c>*</c>.
/// </summary>
internal static class ReplicationApi
{
    public static IEndpointRouteBuilder MapReplicationApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/replication")
            .WithTags("Replication")
            .RequireAuthorization(AuthExtensions.ReplicatePolicy)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        group.MapGet("", (Replicator replicator) => TypedResults.Ok(replicator.Status()))
            .WithName("ReplicationStatus")
            .WithSummary("This site, its peers, and per peer and collection: cursor, lag, state and last error.");

        var collections = group.MapGroup("/collections/{collection}").AddEndpointFilter<RouteNamesFilter>().ProducesValidationProblem();
        collections.MapGet("/changes", Changes).WithName("ReplicationChanges")
            .WithSummary("For peers: change-log entries with the record state after each, state-only entries included.")
            .ProducesProblem(StatusCodes.Status410Gone);
        collections.MapGet("/records", Records).WithName("ReplicationRecords")
            .WithSummary("For peers: a page of the collection's full state, deleted records included, and where to follow on.");
        collections.MapPost("/records/lookup", Lookup).WithName("ReplicationLookup")
            .WithSummary("For peers: the states of the given records (repair).");
        collections.MapPost("/records", Apply).WithName("ReplicationApply")
            .WithSummary("For peers: join record states into this site (repair); an echo writes nothing.");
        return app;
    }

    private static async Task<Results<Ok<ReplicationChangePage>, ValidationProblem, ProblemHttpResult>> Changes(
        string collection, [FromQuery] string? after, [FromQuery] string? limit, RecordStore store, IOptions<SyncOptions> sync)
    {
        if (RecordsApi.ParseLimit(limit, sync.Value.MaxPageSize) is not { } n)
            return Problems.Validation("limit", $"limit must be an integer from 1 to {sync.Value.MaxPageSize}.");
        if (after is null || !RecordsApi.IsSeq(after))
            return Problems.Validation("after", "after must be a seq (0-0 for the beginning).");
        var read = await store.ReadChangesAsync(collection, after, n + 1);
        if (read.ResyncRequired)
            return Problems.ResyncRequired($"This site no longer retains the changes after '{after}' of '{collection}': copy its full state.");
        var page = read.Entries.Take(n).ToArray();
        return TypedResults.Ok(new ReplicationChangePage([.. page.Select(ReplicationChange.From)],
            page.Length > 0 ? page[^1].Seq : after, read.Entries.Count > n, read.Last, read.Count));
    }

    private static async Task<Results<Ok<RecordStatePage>, ValidationProblem>> Records(
        string collection, [FromQuery] string? cursor, [FromQuery] string? limit, RecordStore store, DigestStore index, IOptions<SyncOptions> sync)
    {
        if (RecordsApi.ParseLimit(limit, sync.Value.MaxPageSize) is not { } n)
            return Problems.Validation("limit", $"limit must be an integer from 1 to {sync.Value.MaxPageSize}.");
        if (cursor is not null && !RecordsApi.TryParseDigits(cursor, out _))
            return Problems.Validation("cursor", "cursor is not one this API handed out.");
        var page = await store.ReadStatePageAsync(collection, cursor ?? "0", n);
        var damaged = await index.DamagedAsync(collection);
        return TypedResults.Ok(new RecordStatePage([.. page.Items.Where(i => !damaged.Contains(i.Id)).Select(i => new RecordStateItem(i.Id, StateJson.From(i.Record.State)))],
            page.Next, page.AsOf));
    }

    private static async Task<Results<Ok<RecordStatePage>, ValidationProblem>> Lookup(
        string collection, RecordLookup body, RecordStore store, DigestStore index, IOptions<SyncOptions> sync)
    {
        var ids = body.Ids ?? [];
        if (ids.Count > sync.Value.MaxBatchSize)
            return Problems.Validation("ids", $"At most {sync.Value.MaxBatchSize} ids per lookup.");
        for (var i = 0; i < ids.Count; i++)
            if (ids[i] is null || !Names.RecordId().IsMatch(ids[i]))
                return Problems.Validation($"ids[{i}]", $"id must match {Names.RecordId()}.");
        var asOf = await store.LastSeqAsync(collection) ?? "0-0";
        var distinct = ids.Distinct(StringComparer.Ordinal).ToArray();
        var stored = await store.GetStoredAsync(collection, distinct);
        // A record a scrub found damaged here is never handed out: the peer's copy replaces it, not the reverse.
        var damaged = await index.DamagedAsync(collection);
        return TypedResults.Ok(new RecordStatePage(
            [.. distinct.Select((id, i) => (id, stored[i])).Where(x => x.Item2.Exists && !damaged.Contains(x.id))
                .Select(x => new RecordStateItem(x.id, StateJson.From(x.Item2.State)))],
            null, asOf));
    }

    private static async Task<Results<Ok<ApplyResult>, ValidationProblem, ProblemHttpResult>> Apply(
        string collection, RecordStateBatch body, ClaimsPrincipal user, RecordStore store, DigestStore index, IOptions<SyncOptions> sync)
    {
        // States carry any clock, source and site: only a peer site's key may bring them in (a client's key writes
        // through the API, where its source is its own and its timestamps are checked for skew).
        if (!user.HasClaim(CallerClaims.Replicate, "true"))
            return Problems.Forbidden("Applying record states needs a key with Replicate (a peer site's key).");
        var items = body.Items ?? [];
        if (items.Count == 0 || items.Count > sync.Value.MaxBatchSize)
            return Problems.Validation("items", $"items must hold 1 to {sync.Value.MaxBatchSize} states.");
        var errors = new Dictionary<string, string[]>();
        var states = new List<(string, Merge.RecordState)>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            if (item?.Id is null || !Names.RecordId().IsMatch(item.Id)) { errors[$"items[{i}].id"] = [$"id must match {Names.RecordId()}."]; continue; }
            string? error = null;
            if (item.State?.ToState(out error) is not { } state) { errors[$"items[{i}].state"] = [error ?? "state is required."]; continue; }
            if (state.VisibleCount > sync.Value.MaxFieldsPerRecord) { errors[$"items[{i}].state"] = [$"at most {sync.Value.MaxFieldsPerRecord} visible fields."]; continue; }
            states.Add((item.Id, state));
        }
        if (errors.Count > 0) return Problems.Validation(errors);
        // A repair started by the peer: a record damaged here is replaced by the peer's copy, not joined with it.
        var outcomes = (await Repair.StateIntake.ApplyAsync(store, index, collection, states)).Outcomes;
        return TypedResults.Ok(new ApplyResult(outcomes.Count(o => o == StateOutcome.Applied),
            outcomes.Count(o => o == StateOutcome.StateOnly), outcomes.Count(o => o == StateOutcome.Unchanged),
            [.. outcomes.Select(o => o switch { StateOutcome.Applied => "applied", StateOutcome.StateOnly => "state-only", _ => "unchanged" })]));
    }
}
