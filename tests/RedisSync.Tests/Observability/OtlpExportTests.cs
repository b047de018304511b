using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using RedisSync.Tests.Fixtures;

namespace RedisSync.Tests.Observability;

/// <summary>With <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> set, traces, metrics and logs leave over OTLP.</summary>
[Collection(TelemetryCollection.Name)]
public sealed class OtlpExportTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task WithAnOtlpEndpointTheWriteTraceTheMetersAndTheLogsAreExported()
    {
        await using var collector = await OtlpReceiver.StartAsync();
        var factory = new LiveGateway();
        factory.Settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.Address.ToString();
        factory.Settings["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
        // Export within a fraction of a second instead of the defaults' 5 s (spans) and 60 s (metrics).
        factory.Settings["OTEL_BSP_SCHEDULE_DELAY"] = "100";
        factory.Settings["OTEL_METRIC_EXPORT_INTERVAL"] = "200";
        factory.Settings["OTEL_BLRP_SCHEDULE_DELAY"] = "100";
        await using var gateway = await LiveGateway.StartAsync(factory);
        var c = Unique.Collection();
        using var http = gateway.HttpClient();
        Assert.Equal(HttpStatusCode.Created, (await http.PutAsJsonAsync($"/api/v1/collections/{c}/records/r1", new { version = 1, data = new { a = 1 } })).StatusCode);

        // A subscription starts the collection's feed, which logs that it started.
        await using var hub = await gateway.ConnectHubAsync();
        await hub.SubscribeAsync(c);

        // OTLP is protobuf; its strings (scope names, attribute values, metric names) travel as plain UTF-8.
        await collector.FirstAsync("/v1/traces", body => Has(body, c) && Has(body, "RedisSync.Gateway") && Has(body, "EVALSHA commit.lua"), Wait);
        await collector.FirstAsync("/v1/metrics", body => Has(body, "redissync.writes") && Has(body, "applied"), Wait);
        await collector.FirstAsync("/v1/logs", body => Has(body, "RedisSync.Gateway.") && Has(body, c), Wait);
    }

    private static bool Has(byte[] body, string text) => body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0;

    /// <summary>
    /// An OTLP/HTTP endpoint on loopback standing in for a collector: it keeps what each POST carried and answers
    /// with an empty (valid) protobuf response.
    /// </summary>
    private sealed class OtlpReceiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly Channel<(string Path, byte[] Body)> _received = Channel.CreateUnbounded<(string, byte[])>();
        private readonly List<(string Path, byte[] Body)> _kept = [];

        private OtlpReceiver(WebApplication app) => _app = app;

        public Uri Address { get; private set; } = null!;

        public static async Task<OtlpReceiver> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var receiver = new OtlpReceiver(app);
            app.MapPost("/v1/{signal}", async (HttpContext context) =>
            {
                using var body = new MemoryStream();
                await context.Request.Body.CopyToAsync(body);
                receiver._received.Writer.TryWrite((context.Request.Path.Value!, body.ToArray()));
                return Results.Bytes([], "application/x-protobuf");
            });
            await app.StartAsync();
            receiver.Address = new Uri(app.Urls.First());
            return receiver;
        }

        /// <summary>Waits for a POST to <paramref name="path"/> that matches, among those already received or to come.</summary>
        public async Task FirstAsync(string path, Func<byte[], bool> match, TimeSpan timeout)
        {
            if (_kept.Any(r => r.Path == path && match(r.Body))) return;
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                while (true)
                {
                    var received = await _received.Reader.ReadAsync(cts.Token);
                    _kept.Add(received);
                    if (received.Path == path && match(received.Body)) return;
                }
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no matching POST {path} within {timeout}; received: {string.Join(", ", _kept.Select(r => $"{r.Path} ({r.Body.Length} bytes)"))}");
            }
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
