using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using RedisSync.Gateway.Observability;
using RedisSync.Tests.Fixtures;

namespace RedisSync.Tests.Observability;

/// <summary>A write is one trace: the ASP.NET Core request span, and under it the store's Redis call.</summary>
[Collection(TelemetryCollection.Name)]
public sealed class WriteTraceTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task APutIsTracedFromTheHttpRequestToTheRedisScript()
    {
        var spans = new SpanRecorder();
        await using var gateway = await LiveGateway.StartAsync(new TracedGateway(spans));
        var c = Unique.Collection();
        using var http = gateway.HttpClient();
        var path = $"/api/v1/collections/{c}/records/r1";
        Assert.Equal(HttpStatusCode.Created, (await http.PutAsJsonAsync(path, new { version = 1, data = new { a = 1 } })).StatusCode);

        var request = await spans.FirstAsync(a => a.Kind == ActivityKind.Server && (string?)a.GetTagItem("url.path") == path, Wait, $"for PUT {path}");
        Assert.Equal("Microsoft.AspNetCore", request.Source.Name);
        Assert.Equal("PUT", request.GetTagItem("http.request.method"));
        Assert.Equal("/api/v1/collections/{collection}/records/{id}", request.GetTagItem("http.route"));
        Assert.Equal(201, request.GetTagItem("http.response.status_code"));

        var redis = await spans.FirstAsync(a => a.Source.Name == SyncTelemetry.SourceName && a.TraceId == request.TraceId, Wait, "from RedisSync.Gateway in the request's trace");
        Assert.Equal(request.SpanId, redis.ParentSpanId);
        Assert.Equal(ActivityKind.Client, redis.Kind);
        Assert.Equal("EVALSHA commit.lua", redis.DisplayName);
        Assert.Equal("redis", redis.GetTagItem("db.system.name"));
        Assert.Equal(c, redis.GetTagItem("redissync.collection"));
        Assert.Equal(1, redis.GetTagItem("redissync.records"));
        Assert.Equal(ActivityStatusCode.Unset, redis.Status);
        Assert.InRange(redis.StartTimeUtc, request.StartTimeUtc, request.StartTimeUtc + request.Duration);
    }

    [Fact]
    public async Task ABatchIsOneRedisSpanCountingItsRecords()
    {
        var spans = new SpanRecorder();
        await using var gateway = await LiveGateway.StartAsync(new TracedGateway(spans));
        var c = Unique.Collection();
        using var http = gateway.HttpClient();
        var path = $"/api/v1/collections/{c}/records";
        var batch = new { records = Enumerable.Range(1, 3).Select(i => new { id = $"r{i}", op = "put", version = 1, data = new { i } }).ToArray() };
        (await http.PostAsJsonAsync(path, batch)).EnsureSuccessStatusCode();

        var request = await spans.FirstAsync(a => a.Kind == ActivityKind.Server && (string?)a.GetTagItem("url.path") == path, Wait, $"for POST {path}");
        var redis = await spans.FirstAsync(a => a.Source.Name == SyncTelemetry.SourceName && a.TraceId == request.TraceId, Wait, "from RedisSync.Gateway in the batch's trace");
        Assert.Equal(request.SpanId, redis.ParentSpanId);
        Assert.Equal(3, redis.GetTagItem("redissync.records"));
    }

    /// <summary>A live gateway that records traces (Telemetry:Traces, as with an exporter added in code) and hands every span to <see cref="SpanRecorder"/>.</summary>
    private sealed class TracedGateway : LiveGateway
    {
        private readonly SpanRecorder spans;

        public TracedGateway(SpanRecorder spans)
        {
            this.spans = spans;
            Settings["Telemetry:Traces"] = "true";
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureServices(services => services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddProcessor(spans)));
        }
    }
}
