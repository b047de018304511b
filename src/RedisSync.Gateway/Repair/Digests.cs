using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using RedisSync.Gateway.Store;

namespace RedisSync.Gateway.Repair;

/// <summary><c>GET /api/v1/digests</c>: every collection's root.</summary>
public sealed record DigestList(IReadOnlyList<DigestRoot> Collections);

/// <summary>One collection's root.</summary>
public sealed record DigestRoot(string Collection, string Root);

/// <summary><c>GET /api/v1/collections/{c}/digest</c>: the root and the hash of every bucket, by position.</summary>
public sealed record CollectionDigest(string Collection, string Root, IReadOnlyList<string> Buckets);

/// <summary>One record of a bucket: its id and the hash of its state.</summary>
public sealed record BucketItem(string Id, string Hash);

/// <summary><c>GET …/digest/buckets/{i}</c>: the bucket's records, deleted ones included, by id.</summary>
public sealed record BucketItems(IReadOnlyList<BucketItem> Items);

/// <summary>
/// Digests of collections (CONTRACT §10), a two-level hash tree over every record's state:
/// <list type="bullet">
/// <item>a record's hash: SHA-256 of its canonical state bytes (values, clocks with sites, floor, removal markers;
/// never revision, seq or updatedAt), first 128 bits in hex, kept current by every commit;</item>
/// <item>a bucket's hash (records grouped by a hash of the id, <see cref="RedisKeys.BucketOf"/>): SHA-256 of its
/// "id\nhash\n" lines sorted by id, so the order writes came in cannot matter;</item>
/// <item>the root: SHA-256 of the bucket hashes in bucket order.</item>
/// </list>
/// Equal states give equal bytes, hence equal roots (PITFALLS 17). Computed from the index on demand and kept per
/// instance, with the index grouped by bucket, until the collection's digest version moves (any commit or scrub
/// repair).
/// </summary>
public sealed class Digests(DigestStore index, RecordStore records)
{
    private readonly ConcurrentDictionary<string, (string Version, CollectionDigest Digest, Dictionary<string, string>[] Buckets)> _cache = new(StringComparer.Ordinal);

    /// <summary>The hash of an empty bucket.</summary>
    public static readonly string EmptyBucket = BucketHash(new Dictionary<string, string>());

    public async Task<CollectionDigest> OfAsync(string collection) => (await LoadAsync(collection)).Digest;

    public async Task<DigestList> AllAsync()
    {
        var names = (await records.ListCollectionsAsync()).Select(c => c.Name).ToArray();
        var digests = await Task.WhenAll(names.Select(OfAsync));
        return new DigestList([.. digests.Select(d => new DigestRoot(d.Collection, d.Root))]);
    }

    public async Task<BucketItems> BucketAsync(string collection, int bucket) =>
        new([.. (await LoadAsync(collection)).Buckets[bucket].OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => new BucketItem(e.Key, e.Value))]);

    /// <summary>Forgets what is cached (after a scrub set the index straight, its version moved anyway).</summary>
    public void Forget(string collection) => _cache.TryRemove(collection, out _);

    private async Task<(string Version, CollectionDigest Digest, Dictionary<string, string>[] Buckets)> LoadAsync(string collection)
    {
        var version = await index.VersionAsync(collection);
        if (_cache.TryGetValue(collection, out var cached) && cached.Version == version) return cached;
        var buckets = new Dictionary<string, string>[RedisKeys.DigestBuckets];
        for (var b = 0; b < buckets.Length; b++) buckets[b] = new(StringComparer.Ordinal);
        foreach (var (id, hash) in await index.IndexAsync(collection)) buckets[RedisKeys.BucketOf(id)][id] = hash;
        var hashes = buckets.Select(BucketHash).ToArray();
        // The version was read before the index: if a commit slipped in between, the next call computes again.
        var entry = (version, new CollectionDigest(collection, RootOf(hashes), hashes), buckets);
        if (_cache.Count > 1000) _cache.Clear();
        _cache[collection] = entry;
        return entry;
    }

    public static string BucketHash(IReadOnlyDictionary<string, string> entries)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (id, hash) in entries.OrderBy(e => e.Key, StringComparer.Ordinal))
            sha.AppendData(Encoding.UTF8.GetBytes(id + "\n" + hash + "\n"));
        return Convert.ToHexStringLower(sha.GetHashAndReset().AsSpan(0, 16));
    }

    public static string RootOf(IReadOnlyList<string> bucketHashes) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(string.Concat(bucketHashes))).AsSpan(0, 16));
}
