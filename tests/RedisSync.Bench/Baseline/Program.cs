using RedisSync.Bench.Baseline;

// The textbook gateway: a record store with a version check, and change notifications through the SignalR
// Redis backplane. No field merge, no change log, no resume, no auth (issue 11).
var builder = WebApplication.CreateBuilder(args);

builder.AddRecordStore();
builder.AddChangeNotifications();

var app = builder.Build();

app.MapRecords();
app.MapGet("/health/live", () => TypedResults.Ok(new { status = "live" }));
app.MapHub<SyncHub>("/hubs/sync");

app.Run();
