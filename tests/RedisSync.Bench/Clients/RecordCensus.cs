using System.Text.Json;
using RedisSync.Bench.Infrastructure;
using StackExchange.Redis;

namespace RedisSync.Bench.Clients;

/// <summary>What a record holds after a run: its version, and for RedisSync its revision (applied changes).</summary>
public readonly record struct RecordState(long Version, long? Revision);

/// <summary>
/// Seeds the records a PUT workload replaces, and reads back what they hold, to count applied writes. RedisSync
/// is read only through its HTTP API (its Redis layout is its own business and changes); the baseline, whose
/// layout this program defines (Baseline/RecordStore.cs), is read from its Redis in one pipelined batch.
/// </summary>
public static class RecordCensus
{
    private const int SeedBatch = 1000;
    private const int SeedConcurrency = 32;

    /// <summary>Writes every record at version 1 with the workload's 5 fields; throws if any write failed.</summary>
    public static async Task SeedAsync(GatewayKind kind, GatewayHttp http, string collection, IReadOnlyList<string> ids, CancellationToken ct)
    {
        if (kind == GatewayKind.RedisSync)
        {
            // Batches: seeding is not measured, and 64,000 records one by one would take longer than the measurement.
            foreach (var chunk in ids.Chunk(SeedBatch))
            {
                ct.ThrowIfCancellationRequested();
                var status = await http.PutBatchDataAsync(collection, [.. chunk.Select(id => (id, GatewayHttp.FiveFieldRecord(id, 1)))], 1);
                if (GatewayHttp.Failure(status) is { } failure) throw new InvalidOperationException($"seeding {collection}: {failure}");
            }
            return;
        }
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = SeedConcurrency, CancellationToken = ct }, async (id, _) =>
        {
            var status = await http.PutDataAsync(collection, id, 1, GatewayHttp.FiveFieldRecord(id, 1));
            if (GatewayHttp.Failure(status) is { } failure) throw new InvalidOperationException($"seeding {collection}/{id}: {failure}");
        });
    }

    /// <summary>The state of every record of <paramref name="ids"/> that exists.</summary>
    public static async Task<Dictionary<string, RecordState>> ReadAsync(GatewayKind kind, GatewayHttp http, string redisConnectionString,
        string collection, IReadOnlyList<string> ids, CancellationToken ct)
    {
        return kind == GatewayKind.RedisSync
            ? await ReadPagesAsync(http, collection, ct)
            : await ReadBaselineAsync(redisConnectionString, collection, ids);
    }

    // GET /collections/{c}/records pages through the live records (CONTRACT §3), 1,000 at a time.
    private static async Task<Dictionary<string, RecordState>> ReadPagesAsync(GatewayHttp http, string collection, CancellationToken ct)
    {
        var states = new Dictionary<string, RecordState>(StringComparer.Ordinal);
        string? cursor = null;
        for (var page = 0; page < 10_000; page++)
        {
            ct.ThrowIfCancellationRequested();
            var path = $"api/v1/collections/{collection}/records?limit=1000" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
            var (status, body) = await http.GetAsync(path);
            if (GatewayHttp.Failure(status) is { } failure) throw new InvalidOperationException($"reading {collection}: {failure}");
            using var doc = JsonDocument.Parse(body);
            foreach (var item in doc.RootElement.GetProperty("items").EnumerateArray())
                states[item.GetProperty("id").GetString()!] = new RecordState(
                    item.GetProperty("clock").GetProperty("version").GetInt64(), item.GetProperty("revision").GetInt64());
            cursor = doc.RootElement.TryGetProperty("nextCursor", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null;
            if (cursor is null) return states;
        }
        throw new InvalidOperationException($"reading {collection}: more than 10,000 pages");
    }

    private static async Task<Dictionary<string, RecordState>> ReadBaselineAsync(string redisConnectionString, string collection, IReadOnlyList<string> ids)
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(redisConnectionString);
        var db = mux.GetDatabase();
        var reads = ids.Select(id => db.HashGetAsync($"bl:{{{collection}}}:r:{id}", "v")).ToArray();
        var versions = await Task.WhenAll(reads);
        var states = new Dictionary<string, RecordState>(StringComparer.Ordinal);
        for (var k = 0; k < ids.Count; k++)
            if (!versions[k].IsNull) states[ids[k]] = new RecordState((long)versions[k], null);
        return states;
    }
}
