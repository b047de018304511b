using RedisSync.Gateway.Auth;
using RedisSync.Gateway.Hosting;
using RedisSync.Gateway.Repair;

// `verify URL KEY URL KEY` compares two sites and exits (README: Compare and repair).
if (args is ["verify", .. var verify]) return await VerifyCommand.RunAsync(verify, Console.Out);

var builder = WebApplication.CreateBuilder(args);

builder.AddRedisStore();
builder.AddApiKeyAuth();
builder.AddProtection();
builder.AddSyncApi();
builder.AddRealtime();
builder.AddReplication();
builder.AddRepair();
builder.AddTelemetry();

var app = builder.Build();

app.UseSyncApi();
app.UseDashboard();
app.MapRealtime();
app.MapReplication();
app.MapRepair();
app.MapMetrics();

app.Run();
return 0;

/// <summary>The gateway's entry point (public for WebApplicationFactory).</summary>
public partial class Program;
