using System.Diagnostics;
using RedisSync.Bench;
using RedisSync.Bench.Infrastructure;
using RedisSync.Bench.Reporting;
using RedisSync.Bench.Workloads;

// Issue #6: throughput, latency, fan-out, resume and memory of the gateway, each next to the raw Redis
// ceiling measured in the same run. Starts its own redis-server and gateway on 127.0.0.1 and stops them.

var options = BenchOptions.Parse(args, out var argumentError);
if (options is null)
{
    if (argumentError is not null) Console.Error.WriteLine(argumentError);
    Console.Error.WriteLine(BenchOptions.Usage);
    return argumentError is null ? 0 : 2;
}
if (options.GatewayDll is null && BuildInfo.Configuration != "Release")
{
    // A Debug gateway is several times slower: its figures would mislead anyone who reads them.
    Console.Error.WriteLine($"This program was built in {BuildInfo.Configuration}, and so was the gateway it would run. Use:");
    Console.Error.WriteLine("  dotnet run -c Release --project tests/RedisSync.Bench -- [--quick]");
    return 2;
}

using var budget = new CancellationTokenSource(options.Budget);
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true; // stop measuring, but still stop the processes this program started
    budget.Cancel();
};

Directory.CreateDirectory(options.OutDir);
var started = DateTimeOffset.Now;
var clock = Stopwatch.StartNew();
var gatewayDll = options.GatewayDll ?? BuildInfo.DefaultGatewayDll;
var results = new BenchResults
{
    Command = "dotnet run -c Release --project tests/RedisSync.Bench --" + (args.Length > 0 ? " " + string.Join(' ', args) : ""),
    Quick = options.Quick,
    StartedAt = started,
    Machine = await MachineInfo.DescribeAsync(),
    GatewayAssembly = Path.GetRelativePath(BuildInfo.RepoRoot, gatewayDll),
    GatewaySettingsChanged = GatewayProcess.Overrides.Concat(options.GatewayEnvironment).ToDictionary(),
};

BenchContext.Progress($"starting redis-server and the gateway ({results.GatewayAssembly}); logs in {options.OutDir}");
await using (var redis = await RedisServerProcess.StartAsync(options.OutDir, budget.Token))
await using (var gateway = await GatewayProcess.StartAsync(gatewayDll, redis.ConnectionString, options.OutDir, options.GatewayEnvironment, budget.Token))
{
    var ctx = new BenchContext(options, redis, gateway, budget.Token);

    // Memory first: "idle" must mean a gateway that has not yet grown its heap under load.
    results.Memory = await Phase("memory", () => MemoryBench.RunAsync(ctx));
    results.RedisBenchmark = await Phase("redis-benchmark", () => RedisBenchmark.RunAsync(ctx));
    results.Ceiling = await Phase("ceiling", () => CeilingBench.RunAsync(ctx));
    results.Http = await Phase("http", () => HttpWriteBench.RunAsync(ctx));
    results.EndToEnd = await Phase("e2e", () => EndToEndBench.RunAsync(ctx));
    results.Resume = await Phase("resume", () => ResumeBench.RunAsync(ctx));

    results.GatewayRssAtEndKiB = gateway.RssKiB();
    results.RedisRssAtEndKiB = redis.RssKiB();
    if (gateway.HasExited) results.Errors.Add("the gateway process exited during the run; see gateway.log");
}

results.LoadAverageAtEnd = MachineInfo.LoadAverage();
results.DurationSeconds = Math.Round(clock.Elapsed.TotalSeconds, 1);
await Report.WriteAsync(results, options.OutDir);
return results.Errors.Count == 0 ? 0 : 1;

// A phase that fails is reported as such; the phases after it still run, against the same processes.
async Task<T?> Phase<T>(string name, Func<Task<T>> run) where T : class?
{
    if (!options.Runs(name)) return null;
    if (budget.IsCancellationRequested)
    {
        results.Errors.Add($"{name}: skipped, the run's time budget ({options.Budget}) was used up or it was interrupted");
        return null;
    }
    try
    {
        return await run();
    }
    catch (Exception e)
    {
        results.Errors.Add($"{name}: {e.GetType().Name}: {e.Message}");
        BenchContext.Progress($"{name} failed: {e}");
        return null;
    }
}
