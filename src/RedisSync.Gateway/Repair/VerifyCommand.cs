using System.Net.Http.Json;
using System.Text.Json;
using RedisSync.Gateway.Store;

namespace RedisSync.Gateway.Repair;

/// <summary>
/// <c>verify [--rebuild] URL KEY URL KEY</c>: compares two sites by their digests (CONTRACT §10) and prints "equal", or
/// each collection that differs with the differing record ids. Exit code 0 when equal, 1 when they differ, 2 when a
/// site cannot be read. Operators run it after an incident, with keys that have Replicate or read *. It only reads,
/// unless <c>--rebuild</c> first has both sites scrub (rebuild their digests from the stored records), which is what
/// finds records lost or altered in Redis behind the gateways' backs.
/// </summary>
public static class VerifyCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter output)
    {
        var rebuild = args.Length > 0 && args[0] == "--rebuild";
        if (rebuild) args = args[1..];
        if (args.Length != 4 || !Uri.TryCreate(args[0], UriKind.Absolute, out var first) || !Uri.TryCreate(args[2], UriKind.Absolute, out var second))
        {
            output.WriteLine("usage: RedisSync.Gateway verify [--rebuild] URL1 KEY1 URL2 KEY2   (keys with Replicate or read *)");
            return 2;
        }
        using var a = Client(first, args[1]);
        using var b = Client(second, args[3]);
        try
        {
            if (rebuild)
            {
                await Task.WhenAll(Rebuild(a), Rebuild(b));
                output.WriteLine("rebuilt both sites' digests from their stored records");
            }
            var rootsA = (await Get<DigestList>(a, "/api/v1/digests")).Collections.ToDictionary(r => r.Collection, r => r.Root, StringComparer.Ordinal);
            var rootsB = (await Get<DigestList>(b, "/api/v1/digests")).Collections.ToDictionary(r => r.Collection, r => r.Root, StringComparer.Ordinal);
            var differ = 0;
            foreach (var c in rootsA.Keys.Union(rootsB.Keys).Order(StringComparer.Ordinal))
            {
                if (rootsA.GetValueOrDefault(c) is { } ra && ra == rootsB.GetValueOrDefault(c)) continue;
                var da = await Get<CollectionDigest>(a, $"/api/v1/collections/{c}/digest");
                var db = await Get<CollectionDigest>(b, $"/api/v1/collections/{c}/digest");
                if (da.Root == db.Root) continue; // an empty collection on one side only
                var ids = new SortedSet<string>(StringComparer.Ordinal);
                for (var i = 0; i < RedisKeys.DigestBuckets; i++)
                {
                    if (da.Buckets[i] == db.Buckets[i]) continue;
                    var ia = (await Get<BucketItems>(a, $"/api/v1/collections/{c}/digest/buckets/{i}")).Items.ToDictionary(x => x.Id, x => x.Hash, StringComparer.Ordinal);
                    var ib = (await Get<BucketItems>(b, $"/api/v1/collections/{c}/digest/buckets/{i}")).Items.ToDictionary(x => x.Id, x => x.Hash, StringComparer.Ordinal);
                    foreach (var id in ia.Keys.Union(ib.Keys)) if (ia.GetValueOrDefault(id) != ib.GetValueOrDefault(id)) ids.Add(id);
                }
                differ++;
                output.WriteLine($"differ {c}: {ids.Count} record(s): {string.Join(" ", ids)}");
            }
            output.WriteLine(differ == 0 ? $"equal ({rootsA.Count} collections)" : $"{differ} collection(s) differ");
            return differ == 0 ? 0 : 1;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            output.WriteLine($"error: {e.Message}");
            return 2;
        }
    }

    private static async Task Rebuild(HttpClient http)
    {
        using var response = await http.PostAsync("/api/v1/digests/rebuild", null);
        if (!response.IsSuccessStatusCode) throw new HttpRequestException($"{(int)response.StatusCode} from {http.BaseAddress}api/v1/digests/rebuild");
    }

    private static HttpClient Client(Uri baseUrl, string key)
    {
        var http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromMinutes(10) };
        http.DefaultRequestHeaders.Add("X-Api-Key", key);
        return http;
    }

    private static async Task<T> Get<T>(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"{(int)response.StatusCode} from {http.BaseAddress}{path.TrimStart('/')}");
        return (await response.Content.ReadFromJsonAsync<T>(new JsonSerializerOptions(JsonSerializerDefaults.Web)))!;
    }
}
