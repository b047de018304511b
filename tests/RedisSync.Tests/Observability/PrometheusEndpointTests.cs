using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RedisSync.Tests.Fixtures;

namespace RedisSync.Tests.Observability;

/// <summary><c>/metrics</c> (CONTRACT §8): the gateway's meters in Prometheus text format, behind the API key.</summary>
[Collection(TelemetryCollection.Name)]
public sealed class PrometheusEndpointTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task AScrapeCountsWritesByOutcomeAndTheChangesDeliveredToASubscriber()
    {
        await using var gateway = await StartAsync(metricsEnabled: true);
        var c = Unique.Collection();
        using var http = gateway.HttpClient();

        // Before anyone subscribes: 3 applied, 2 stale, 2 unchanged, 1 conflict.
        Assert.Equal("applied", await PutAsync(http, c, "a", 5, new { x = 1 }));
        Assert.Equal("applied", await PutAsync(http, c, "b", 5, new { x = 1 }));
        Assert.Equal("applied", await PutAsync(http, c, "a", 6, new { x = 2 }));
        Assert.Equal("stale", await PutAsync(http, c, "a", 4, new { x = 0 }));
        Assert.Equal("stale", await PutAsync(http, c, "b", 1, new { x = 0 }));
        Assert.Equal("unchanged", await PutAsync(http, c, "a", 6, new { x = 2 }));
        Assert.Equal("unchanged", await PutAsync(http, c, "b", 5, new { x = 1 }));
        Assert.Equal("conflict", await PutAsync(http, c, "b", 5, new { x = 9 }));

        // Then a subscriber receives M changes; a delivery is counted when a change is queued to it.
        const int M = 4;
        await using var hub = await gateway.ConnectHubAsync();
        await hub.SubscribeAsync(c);
        for (var i = 0; i < M; i++) Assert.Equal("applied", await PutAsync(http, c, $"live{i}", 1, new { i }));
        await hub.NextChangesAsync(M, Wait);

        var response = await http.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var scrape = new PrometheusScrape(await response.Content.ReadAsStringAsync());
        Assert.Equal("counter", scrape.TypeOf("redissync_writes_total"));
        Assert.Equal(3 + M, scrape.Value("redissync_writes_total", ("outcome", "applied")));
        Assert.Equal(2, scrape.Value("redissync_writes_total", ("outcome", "stale")));
        Assert.Equal(2, scrape.Value("redissync_writes_total", ("outcome", "unchanged")));
        Assert.Equal(1, scrape.Value("redissync_writes_total", ("outcome", "conflict")));
        Assert.Equal(3 + M, scrape.Value("redissync_changes_published_total"));
        Assert.Equal("counter", scrape.TypeOf("redissync_changes_delivered_total"));
        Assert.Equal(M, scrape.Value("redissync_changes_delivered_total"));
        Assert.Equal(1, scrape.Value("redissync_subscriptions_active"));
        Assert.Equal(1, scrape.Value("redissync_connections_active"));
    }

    [Fact]
    public async Task ASecondScrapeSeesWritesMadeAfterTheFirst()
    {
        await using var gateway = await StartAsync(metricsEnabled: true);
        var c = Unique.Collection();
        using var http = gateway.HttpClient();
        Assert.Equal("applied", await PutAsync(http, c, "a", 1, new { x = 1 }));
        Assert.Equal(1, await AppliedAsync(http));
        Assert.Equal("applied", await PutAsync(http, c, "a", 2, new { x = 2 }));
        Assert.Equal(2, await AppliedAsync(http));

        static async Task<double> AppliedAsync(HttpClient http) =>
            new PrometheusScrape(await http.GetStringAsync("/metrics")).Value("redissync_writes_total", ("outcome", "applied"));
    }

    [Fact]
    public async Task MetricsIsNotServedUnlessEnabled()
    {
        await using var gateway = await StartAsync(metricsEnabled: false);
        using var http = gateway.HttpClient();
        var response = await http.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task WithAuthOnMetricsNeedsAValidKeyOfAnyScope()
    {
        await using var gateway = await StartAsync(metricsEnabled: true);

        foreach (var key in new[] { null, "not-a-key-at-all-000000" })
        {
            using var anonymous = gateway.HttpClient(key);
            var refused = await anonymous.GetAsync("/metrics");
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("unauthorized", problem.GetProperty("code").GetString());
            Assert.DoesNotContain("redissync_", await refused.Content.ReadAsStringAsync());
        }

        // A key that may read one collection, or read but not write, still may scrape.
        foreach (var key in new[] { TestKeys.Reader, TestKeys.OrdersOnly })
        {
            using var scoped = gateway.HttpClient(key);
            var response = await scoped.GetAsync("/metrics");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("# TYPE target_info gauge", await response.Content.ReadAsStringAsync());
        }

        // Prometheus's own way to send a credential: "authorization: { credentials: … }", a bearer token.
        using var prometheus = gateway.HttpClient(apiKey: null);
        prometheus.DefaultRequestHeaders.Authorization = new("Bearer", TestKeys.Reader);
        Assert.Equal(HttpStatusCode.OK, (await prometheus.GetAsync("/metrics")).StatusCode);
    }

    [Fact]
    public async Task WithAuthOffMetricsIsServedWithoutAKey()
    {
        var factory = new LiveGateway();
        factory.Settings["Metrics:Enabled"] = "true";
        factory.Settings["Auth:Enabled"] = "false";
        await using var gateway = await LiveGateway.StartAsync(factory);
        using var http = gateway.HttpClient(apiKey: null);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/metrics")).StatusCode);
    }

    private static Task<LiveGateway> StartAsync(bool metricsEnabled)
    {
        var factory = new LiveGateway();
        factory.Settings["Metrics:Enabled"] = metricsEnabled ? "true" : "false";
        return LiveGateway.StartAsync(factory);
    }

    /// <summary>PUTs a record at this version; returns the outcome (a 409 is "conflict").</summary>
    private static async Task<string> PutAsync(HttpClient http, string collection, string id, long version, object data)
    {
        var response = await http.PutAsJsonAsync($"/api/v1/collections/{collection}/records/{id}", new { version, data });
        if (response.StatusCode == HttpStatusCode.Conflict) return "conflict";
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("outcome").GetString()!;
    }
}
