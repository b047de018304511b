using System.Net.Http.Json;
using System.Text.Json;

namespace RedisSync.Tests.Realtime;

/// <summary>Writes and log reads over real HTTP, for the real-time tests.</summary>
internal static class RealtimeHelpers
{
    private static long _version;

    /// <summary>PUTs a record with a fresh version; returns the change's seq (null if not applied).</summary>
    public static async Task<string?> PutAsync(HttpClient http, string collection, string id, object data)
    {
        var version = Interlocked.Increment(ref _version);
        var response = await http.PutAsJsonAsync($"/api/v1/collections/{collection}/records/{id}", new { version, data });
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("outcome").GetString() == "applied" ? body.GetProperty("seq").GetString() : null;
    }

    /// <summary>The whole retained change log's seqs, oldest first.</summary>
    public static async Task<List<string>> LogSeqsAsync(HttpClient http, string collection, string? after = null)
    {
        var seqs = new List<string>();
        while (true)
        {
            var url = $"/api/v1/collections/{collection}/changes?limit=1000" + (after is null ? "" : $"&after={after}");
            var page = await http.GetFromJsonAsync<JsonElement>(url);
            foreach (var item in page.GetProperty("items").EnumerateArray()) seqs.Add(item.GetProperty("seq").GetString()!);
            after = page.GetProperty("next").GetString();
            if (!page.GetProperty("hasMore").GetBoolean()) return seqs;
        }
    }

    public static string Seq(this JsonElement change) => change.GetProperty("seq").GetString()!;

    /// <summary>Reads changes until one for <paramref name="id"/> arrives; returns all read, that one last.</summary>
    public static async Task<List<JsonElement>> ChangesUntilAsync(this Fixtures.HubTestClient client, string id, TimeSpan timeout)
    {
        var list = new List<JsonElement>();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var change = await client.Changes.Reader.ReadAsync(cts.Token);
                list.Add(change);
                if (change.GetProperty("id").GetString() == id) return list;
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no change for '{id}' within {timeout}; got {list.Count} others");
        }
    }
}
