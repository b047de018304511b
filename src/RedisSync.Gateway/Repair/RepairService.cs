using Microsoft.Extensions.Options;
using RedisSync.Gateway.Merge;
using RedisSync.Gateway.Replication;
using RedisSync.Gateway.Store;
using StackExchange.Redis;

namespace RedisSync.Gateway.Repair;

/// <summary><c>POST /api/v1/replication/repair</c>: what differed with each peer and what was repaired.</summary>
public sealed record RepairReport(IReadOnlyList<PeerRepair> Peers);

/// <summary>
/// One peer: per collection whose root differed, the differing ids and the repaired ones (a state changed on either
/// side). <c>bytesSent</c>/<c>bytesReceived</c> count the bodies exchanged with the peer, <c>requests</c> the calls.
/// </summary>
public sealed record PeerRepair(string Name, IReadOnlyList<CollectionRepair> Collections, string? Error, long BytesSent, long BytesReceived, int Requests);

/// <summary>One collection's differences with one peer.</summary>
public sealed record CollectionRepair(string Collection, IReadOnlyList<string> Differing, IReadOnlyList<string> Repaired);

/// <summary>
/// Anti-entropy between sites (CONTRACT §10), as Cassandra's and Riak's: compare roots, descend into the buckets that
/// differ, and exchange only the records that differ, both ways, through the state merge. The cost follows the size
/// of the difference. Idempotent and safe under concurrent writes (joins); repaired records go out as ordinary change
/// events. A record a scrub found damaged here is replaced by the peer's copy (never the reverse: a damaged record is
/// not handed out), with a revision above any this site handed out for it.
/// </summary>
public sealed class RepairService(
    IHttpClientFactory http, IOptions<ReplicationOptions> replication, Digests digests, DigestStore index,
    RecordStore records, Scrubber scrubber, IConnectionMultiplexer redis, IOptions<RepairOptions> options, ILogger<RepairService> log) : BackgroundService
{
    private const int LookupBatch = 500;

    /// <summary>
    /// Repairs with every peer. With <paramref name="rebuild"/> (on demand), every digest compared is rebuilt from the
    /// stored records first, here and at each peer.
    /// </summary>
    public async Task<RepairReport> RepairAsync(bool rebuild, CancellationToken ct)
    {
        var peers = replication.Value.Peers.Select(p => Replicator.Client(http, p)).ToArray();
        if (rebuild)
        {
            // Both sides scrub at once; a peer that cannot is reported below, when its digests are asked for.
            var remote = peers.Select(p => Try(() => p.PostAsync<ScrubResult>("/api/v1/digests/rebuild", new { }, ct))).ToArray();
            await scrubber.ScrubAllAsync(ct);
            await Task.WhenAll(remote);
        }
        var reports = new List<PeerRepair>();
        foreach (var peer in peers) reports.Add(await RepairWithAsync(peer, ct));
        return new RepairReport(reports);
    }

    private static async Task<Exception?> Try(Func<Task> call)
    {
        try { await call(); return null; }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException) { return e; }
    }

    private async Task<PeerRepair> RepairWithAsync(PeerClient peer, CancellationToken ct)
    {
        var (sent0, received0) = (peer.BytesSent, peer.BytesReceived);
        var requests = 0;
        var collections = new List<CollectionRepair>();
        string? error = null;
        try
        {
            requests++;
            var theirs = (await peer.GetJsonAsync<DigestList>("/api/v1/digests", ct))!.Collections.ToDictionary(r => r.Collection, r => r.Root, StringComparer.Ordinal);
            var ours = (await digests.AllAsync()).Collections.ToDictionary(r => r.Collection, r => r.Root, StringComparer.Ordinal);
            foreach (var collection in ours.Keys.Union(theirs.Keys).Order(StringComparer.Ordinal))
            {
                var ourRoot = ours.GetValueOrDefault(collection) ?? (await digests.OfAsync(collection)).Root;
                if (theirs.TryGetValue(collection, out var theirRoot) && theirRoot == ourRoot) continue;
                var (repair, calls) = await RepairCollectionAsync(peer, collection, ct);
                requests += calls;
                collections.Add(repair);
                RepairLog.Repaired(log, peer.Name, collection, repair.Differing.Count, repair.Repaired.Count, string.Join(",", repair.Repaired));
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException or InvalidDataException)
        {
            error = e.Message;
            RepairLog.PeerFailed(log, peer.Name, e.Message);
        }
        return new PeerRepair(peer.Name, collections, error, peer.BytesSent - sent0, peer.BytesReceived - received0, requests);
    }

    private async Task<(CollectionRepair, int Requests)> RepairCollectionAsync(PeerClient peer, string collection, CancellationToken ct)
    {
        var requests = 1;
        var theirDigest = (await peer.GetJsonAsync<CollectionDigest>($"/api/v1/collections/{collection}/digest", ct))!;
        var ours = await digests.OfAsync(collection);

        // Descend into the buckets that differ only.
        var differing = new SortedSet<string>(StringComparer.Ordinal);
        for (var b = 0; b < RedisKeys.DigestBuckets; b++)
        {
            if (theirDigest.Buckets.Count == RedisKeys.DigestBuckets && theirDigest.Buckets[b] == ours.Buckets[b]) continue;
            requests++;
            var theirItems = (await peer.GetJsonAsync<BucketItems>($"/api/v1/collections/{collection}/digest/buckets/{b}", ct))!.Items
                .ToDictionary(i => i.Id, i => i.Hash, StringComparer.Ordinal);
            var ourItems = (await digests.BucketAsync(collection, b)).Items.ToDictionary(i => i.Id, i => i.Hash, StringComparer.Ordinal);
            foreach (var id in ourItems.Keys.Union(theirItems.Keys))
                if (ourItems.GetValueOrDefault(id) != theirItems.GetValueOrDefault(id)) differing.Add(id);
        }

        var damaged = await index.DamagedAsync(collection);
        var repaired = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var chunk in differing.Chunk(LookupBatch))
        {
            // Theirs into ours: joined, or put in place of what a scrub found damaged here.
            requests++;
            var page = (await peer.PostAsync<RecordStatePage>($"/api/v1/replication/collections/{collection}/records/lookup", new RecordLookup(chunk), ct))!;
            var theirs = new List<(string, RecordState)>(page.Items.Count);
            foreach (var item in page.Items) theirs.Add((item.Id, item.ToState(peer.Name, collection)));
            var intake = await StateIntake.ApplyAsync(records, index, collection, theirs);
            for (var i = 0; i < intake.Outcomes.Count; i++) if (intake.Outcomes[i] != StateOutcome.Unchanged) repaired.Add(theirs[i].Item1);
            damaged.ExceptWith(intake.Replaced);

            // Ours into theirs (after the join, so both end equal); never a record still damaged here.
            var stored = await records.GetStoredAsync(collection, chunk);
            var outgoing = chunk.Select((id, i) => (id, stored[i]))
                .Where(x => x.Item2.Exists && !damaged.Contains(x.id))
                .Select(x => new RecordStateItem(x.id, StateJson.From(x.Item2.State))).ToArray();
            if (outgoing.Length == 0) continue;
            requests++;
            var result = (await peer.PostAsync<ApplyResult>($"/api/v1/replication/collections/{collection}/records", new RecordStateBatch(outgoing), ct))!;
            for (var i = 0; i < outgoing.Length && i < (result.Outcomes?.Count ?? 0); i++)
                if (result.Outcomes![i] != "unchanged") repaired.Add(outgoing[i].Id);
        }
        return (new CollectionRepair(collection, [.. differing], [.. repaired]), requests);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        replication.Value.Enabled
            ? Periodic.RunAsync(redis, "rs:repair:lock", options.Value.Interval, "repair", ct => RepairAsync(rebuild: false, ct), log, stoppingToken)
            : Task.CompletedTask;
}
