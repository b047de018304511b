using System.Net;
using System.Text;
using System.Text.Json;

namespace RedisSync.Tests.Api;

/// <summary>URLs of the API (CONTRACT §3) and assertions on its responses, shared by the API and durability tests.</summary>
internal static class Http
{
    public static string Records(string c) => $"/api/v1/collections/{c}/records";
    public static string Record(string c, string id) => $"/api/v1/collections/{c}/records/{id}";
    public static string Changes(string c) => $"/api/v1/collections/{c}/changes";
    public const string Collections = "/api/v1/collections";

    /// <summary>A body sent exactly as written (raw JSON text, or anything else under another media type).</summary>
    public static StringContent Body(string text, string mediaType = "application/json") => new(text, Encoding.UTF8, mediaType);

    public static Task<HttpResponseMessage> PutRawAsync(this HttpClient client, string url, string json) => client.PutAsync(url, Body(json));
    public static Task<HttpResponseMessage> PatchRawAsync(this HttpClient client, string url, string json) => client.PatchAsync(url, Body(json));
    public static Task<HttpResponseMessage> PostRawAsync(this HttpClient client, string url, string json) => client.PostAsync(url, Body(json));

    /// <summary>The response's JSON body, after asserting its status.</summary>
    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {(text.Length > 600 ? text[..600] + "…" : text)}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Asserts an RFC 9457 problem with this status and <c>code</c>, and returns it.</summary>
    public static async Task<JsonElement> ProblemAsync(this HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var problem = await response.JsonAsync(status);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        return problem;
    }

    /// <summary>Asserts a 400 validation problem whose <c>errors</c> hold exactly these fields.</summary>
    public static async Task<JsonElement> ValidationProblemAsync(this HttpResponseMessage response, params string[] fields)
    {
        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest, "validation");
        var named = problem.GetProperty("errors").EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(fields.Order(StringComparer.Ordinal).ToArray(), named);
        foreach (var e in problem.GetProperty("errors").EnumerateObject())
            Assert.Contains(e.Value.EnumerateArray(), m => !string.IsNullOrWhiteSpace(m.GetString()));
        return problem;
    }

    /// <summary>Every retained change-log entry of a collection, following <c>next</c> until <c>hasMore</c> is false.</summary>
    public static async Task<List<JsonElement>> AllChangesAsync(this HttpClient client, string c, int pageSize = 1000)
    {
        var all = new List<JsonElement>();
        string? after = null;
        for (var page = 0; ; page++)
        {
            Assert.True(page < 100_000, "the change log never ended");
            var url = $"{Changes(c)}?limit={pageSize}" + (after is null ? "" : $"&after={after}");
            var body = await (await client.GetAsync(url)).JsonAsync(HttpStatusCode.OK);
            all.AddRange(body.GetProperty("items").EnumerateArray());
            after = body.GetProperty("next").GetString();
            if (!body.GetProperty("hasMore").GetBoolean()) return all;
        }
    }

    /// <summary>A timestamp as RFC 3339 UTC with milliseconds.</summary>
    public static string Rfc3339(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);

    public static string[] Strings(this JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToArray();

    /// <summary>Names of an object's properties, in ordinal order.</summary>
    public static string[] Names(this JsonElement obj) => obj.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();

    /// <summary>Compares two stream ids ("ms-n") numerically; tests may, clients should not.</summary>
    public static int CompareSeq(string a, string b)
    {
        static (ulong, ulong) Parse(string s) => (ulong.Parse(s[..s.IndexOf('-')]), ulong.Parse(s[(s.IndexOf('-') + 1)..]));
        return Parse(a).CompareTo(Parse(b));
    }

    /// <summary>Polls <paramref name="attempt"/> (each a real request) until it returns true, or fails after <paramref name="timeout"/>.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> attempt, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await attempt()) return;
            Assert.True(DateTime.UtcNow < deadline, $"timed out after {timeout}: {what}");
            await Task.Delay(25);
        }
    }
}
