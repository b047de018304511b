using RedisSync.Gateway.Auth;
using RedisSync.Gateway.Hosting;

var builder = WebApplication.CreateBuilder(args);

builder.AddRedisStore();
builder.AddApiKeyAuth();
builder.AddProtection();
builder.AddSyncApi();
builder.AddRealtime();
builder.AddReplication();
builder.AddTelemetry();

var app = builder.Build();

app.UseSyncApi();
app.UseDashboard();
app.MapRealtime();
app.MapReplication();
app.MapMetrics();

app.Run();

/// <summary>The gateway's entry point (public for WebApplicationFactory).</summary>
public partial class Program;
