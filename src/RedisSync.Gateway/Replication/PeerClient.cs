using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace RedisSync.Gateway.Replication;

/// <summary>The HTTP API of one peer site, as this site's replicator and repair use it, with the key the peer issued.</summary>
public sealed class PeerClient(HttpClient http, string name)
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public string Name { get; } = name;
    public Uri BaseAddress => http.BaseAddress!;

    /// <summary>Bytes received from the peer in answers (bodies), for measuring what a repair costs.</summary>
    public long BytesReceived => Interlocked.Read(ref _received);

    /// <summary>Bytes sent to the peer in request bodies.</summary>
    public long BytesSent => Interlocked.Read(ref _sent);

    private long _received;
    private long _sent;

    /// <summary>The peer's collections.</summary>
    public async Task<IReadOnlyList<PeerCollection>> CollectionsAsync(CancellationToken ct) =>
        await GetAsync<PeerCollection[]>("/api/v1/collections", ct) ?? [];

    /// <summary>Change-log entries with states after <paramref name="after"/>, or null when the peer no longer has them (410).</summary>
    public Task<ReplicationChangePage?> ChangesAsync(string collection, string after, int limit, CancellationToken ct) =>
        GetAsync<ReplicationChangePage>($"/api/v1/replication/collections/{collection}/changes?after={Uri.EscapeDataString(after)}&limit={limit}", ct, goneIsNull: true);

    /// <summary>A page of the peer's full state of a collection.</summary>
    public async Task<RecordStatePage> RecordsAsync(string collection, string? cursor, int limit, CancellationToken ct) =>
        await GetAsync<RecordStatePage>($"/api/v1/replication/collections/{collection}/records?limit={limit}" +
            (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}"), ct)
        ?? throw new HttpRequestException("empty answer");

    private async Task<T?> GetAsync<T>(string path, CancellationToken ct, bool goneIsNull = false)
    {
        using var response = await http.GetAsync(path, HttpCompletionOption.ResponseContentRead, ct);
        if (goneIsNull && response.StatusCode == HttpStatusCode.Gone) return default;
        return await ReadAsync<T>(response, ct);
    }

    /// <summary>POSTs <paramref name="body"/> as JSON and reads the answer.</summary>
    public async Task<T?> PostAsync<T>(string path, object body, CancellationToken ct)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(body, Json);
        Interlocked.Add(ref _sent, bytes.Length);
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = await http.PostAsync(path, content, ct);
        return await ReadAsync<T>(response, ct);
    }

    /// <summary>GETs <paramref name="path"/> and reads the answer (digests, buckets).</summary>
    public Task<T?> GetJsonAsync<T>(string path, CancellationToken ct) => GetAsync<T>(path, ct);

    private async Task<T?> ReadAsync<T>(HttpResponseMessage response, CancellationToken ct)
    {
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        Interlocked.Add(ref _received, bytes.Length);
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"{(int)response.StatusCode} from {Name}: {Truncate(System.Text.Encoding.UTF8.GetString(bytes))}", null, response.StatusCode);
        return JsonSerializer.Deserialize<T>(bytes, Json);
    }

    private static string Truncate(string s) => s.Length <= 300 ? s : s[..300] + "…";
}

/// <summary>One entry of a peer's <c>GET /collections</c>.</summary>
public sealed record PeerCollection(string Name, string? LastSeq);
