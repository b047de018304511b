using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using RedisSync.Bench.Infrastructure;

namespace RedisSync.Bench.Clients;

/// <summary>
/// The gateway's HTTP API as the load generator uses it: bodies built as UTF-8 text directly (no serializer
/// on the client's side of the measurement), one pooled HTTP/1.1 connection per concurrent request.
/// </summary>
public sealed class GatewayHttp : IDisposable
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");
    private readonly HttpClient _http;

    public GatewayHttp(Uri baseAddress)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 1024,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        };
        _http = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
        _http.DefaultRequestHeaders.Add("X-Api-Key", GatewayProcess.ApiKey);
    }

    /// <summary>
    /// The record every benchmark write carries: <c>sentTicks</c> is this process's Stopwatch timestamp at
    /// send time, so whoever receives the change can tell how long it took (same clock, same process).
    /// </summary>
    public static string RecordData(long n, long sentTicks) =>
        string.Create(CultureInfo.InvariantCulture, $$"""{"name":"bench","n":{{n}},"sentTicks":{{sentTicks}}}""");

    /// <summary>
    /// The 5-field record of the PUT workload at a version, exactly as Load/put.lua writes it: <c>n</c> changes with
    /// every write and <c>tier</c> with every second one.
    /// </summary>
    public static string FiveFieldRecord(string id, long version) =>
        string.Create(CultureInfo.InvariantCulture,
            $$"""{"name":"record {{id}}","region":"eu-west","tier":"{{(version / 2 % 2 == 0 ? "gold" : "silver")}}","n":{{version}},"note":"written by the benchmark"}""");

    /// <summary>PUTs one record with the given data (JSON object text).</summary>
    public async Task<HttpStatusCode> PutDataAsync(string collection, string id, long version, string data)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, $"api/v1/collections/{collection}/records/{id}")
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes(
                string.Create(CultureInfo.InvariantCulture, $$"""{"version":{{version}},"data":{{data}}}"""))) { Headers = { ContentType = Json } },
        };
        using var response = await _http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        return response.StatusCode;
    }

    /// <summary>POSTs a batch of puts, each record with its own data (JSON object text).</summary>
    public async Task<HttpStatusCode> PutBatchDataAsync(string collection, IReadOnlyList<(string Id, string Data)> records, long version)
    {
        var body = new StringBuilder(records.Count * 160).Append("""{"records":[""");
        for (var k = 0; k < records.Count; k++)
        {
            if (k > 0) body.Append(',');
            body.Append(CultureInfo.InvariantCulture, $$"""{"id":"{{records[k].Id}}","op":"put","version":{{version}},"data":{{records[k].Data}}}""");
        }
        body.Append("]}");
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/v1/collections/{collection}/records")
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body.ToString())) { Headers = { ContentType = Json } },
        };
        using var response = await _http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        return response.StatusCode;
    }

    /// <summary>GETs a path and returns its status and body.</summary>
    public async Task<(HttpStatusCode Status, byte[] Body)> GetAsync(string path)
    {
        using var response = await _http.GetAsync(path);
        return (response.StatusCode, await response.Content.ReadAsByteArrayAsync());
    }

    /// <summary>PUTs one record; <paramref name="sentTicks"/> goes into its data (see <see cref="RecordData"/>).</summary>
    public async Task<(HttpStatusCode Status, byte[] Body)> PutAsync(string collection, string id, long version, long n, long sentTicks)
    {
        var body = string.Create(CultureInfo.InvariantCulture, $$"""{"version":{{version}},"data":{{RecordData(n, sentTicks)}}}""");
        using var request = new HttpRequestMessage(HttpMethod.Put, $"api/v1/collections/{collection}/records/{id}")
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) { Headers = { ContentType = Json } },
        };
        using var response = await _http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsByteArrayAsync());
    }

    /// <summary>POSTs a batch of puts: <paramref name="ids"/>[k] at <paramref name="version"/>.</summary>
    public async Task<(HttpStatusCode Status, byte[] Body)> PutBatchAsync(string collection, IReadOnlyList<string> ids, long version)
    {
        var body = new StringBuilder(ids.Count * 110).Append("""{"records":[""");
        for (var k = 0; k < ids.Count; k++)
        {
            if (k > 0) body.Append(',');
            body.Append(CultureInfo.InvariantCulture,
                $$"""{"id":"{{ids[k]}}","op":"put","version":{{version}},"data":{{RecordData(k, Measurement.Clock.Now)}}}""");
        }
        body.Append("]}");
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/v1/collections/{collection}/records")
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body.ToString())) { Headers = { ContentType = Json } },
        };
        using var response = await _http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsByteArrayAsync());
    }

    public async Task<HttpStatusCode> GetStatusAsync(string path)
    {
        using var response = await _http.GetAsync(path);
        await response.Content.ReadAsByteArrayAsync();
        return response.StatusCode;
    }

    /// <summary>A failure label for a non-success status, or null.</summary>
    public static string? Failure(HttpStatusCode status) =>
        (int)status is >= 200 and < 300 ? null : "HTTP " + (int)status;

    /// <summary>The <c>seq</c> of a write result, or of the last item of a batch result.</summary>
    public static string? LastSeq(byte[] body)
    {
        using var doc = JsonDocument.Parse(body);
        var root = doc.RootElement;
        if (root.TryGetProperty("results", out var results)) root = results[results.GetArrayLength() - 1];
        return root.TryGetProperty("seq", out var seq) ? seq.GetString() : null;
    }

    /// <summary>True when a single write's result says it was applied (not stale, unchanged or a conflict).</summary>
    public static bool Applied(byte[] body) => body.AsSpan().IndexOf("\"outcome\":\"applied\""u8) >= 0;

    public void Dispose() => _http.Dispose();
}
