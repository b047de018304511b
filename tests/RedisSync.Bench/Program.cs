using System.Diagnostics;
using RedisSync.Bench;
using RedisSync.Bench.Infrastructure;
using RedisSync.Bench.Reporting;
using RedisSync.Bench.Workloads;

// Issues #6 and 11: RedisSync next to the textbook baseline gateway, every measured phase on both, alternately,
// each gateway with its own redis-server, all on 127.0.0.1 and stopped at the end; and the raw Redis ceiling.

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
    Console.Error.WriteLine($"This program was built in {BuildInfo.Configuration}, and so were the gateways it would run. Use:");
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
    BaselineAssembly = Path.GetRelativePath(BuildInfo.RepoRoot, BuildInfo.BaselineDll),
    GatewaySettingsChanged = GatewayProcess.Overrides.Concat(options.GatewayEnvironment).ToDictionary(),
};

BenchContext.Progress($"starting RedisSync ({results.GatewayAssembly}) and the baseline ({results.BaselineAssembly}), each with its own redis-server; logs in {options.OutDir}");
await using (var redisSyncRedis = await RedisServerProcess.StartAsync(options.OutDir, "redis-server.log", budget.Token))
await using (var redisSyncGateway = await GatewayProcess.StartAsync(GatewayKind.RedisSync, gatewayDll, redisSyncRedis.ConnectionString, options.OutDir, options.GatewayEnvironment, budget.Token))
await using (var baselineRedis = await RedisServerProcess.StartAsync(options.OutDir, "baseline-redis-server.log", budget.Token))
await using (var baselineGateway = await GatewayProcess.StartAsync(GatewayKind.Baseline, BuildInfo.BaselineDll, baselineRedis.ConnectionString, options.OutDir, new Dictionary<string, string>(), budget.Token))
{
    var redisSync = new BenchContext(options, redisSyncRedis, redisSyncGateway, budget.Token);
    var baseline = new BenchContext(options, baselineRedis, baselineGateway, budget.Token);
    var both = new Alternation(redisSync, baseline, results.Errors);

    // Memory first: "idle" must mean a gateway that has not yet grown its heap under load.
    if (options.Runs("memory")) results.Memory = await both.BothAsync("memory", MemoryBench.RunAsync);
    if (options.Runs("redis-benchmark")) results.RedisBenchmark = await both.OneAsync("redis-benchmark", redisSync, RedisBenchmark.RunAsync);
    if (options.Runs("ceiling")) results.Ceiling = await both.OneAsync("ceiling", redisSync, CeilingBench.RunAsync);
    if (options.Runs("put") || options.Runs("hot")) await both.BothAsync("put", PutBench.WarmUpAsync);
    if (options.Runs("put"))
        foreach (var connections in PutBench.Concurrencies)
            results.Puts.Add(await both.BothAsync("put", ctx => PutBench.PutAsync(ctx, connections)));
    if (options.Runs("hot")) results.Hot = await both.BothAsync("hot", PutBench.HotCollectionAsync);
    if (options.Runs("http")) results.Http = await both.OneAsync("http", redisSync, HttpWriteBench.RunAsync);
    if (options.Runs("e2e")) results.EndToEnd = await EndToEndBench.CompareAsync(both, options.StepSearchMaxSteps);
    if (options.Runs("resume")) results.Resume = await both.OneAsync("resume", redisSync, ResumeBench.RunAsync);
    if (options.Runs("cluster")) results.Cluster = await both.OneAsync("cluster", redisSync, ctx => ClusterBench.RunAsync(ctx, gatewayDll));

    results.RssAtEndKiB = new Dictionary<string, long?>
    {
        ["RedisSync"] = redisSyncGateway.RssKiB(),
        ["RedisSync's redis-server"] = redisSyncRedis.RssKiB(),
        ["baseline"] = baselineGateway.RssKiB(),
        ["baseline's redis-server"] = baselineRedis.RssKiB(),
    };
    if (redisSyncGateway.HasExited) results.Errors.Add("RedisSync exited during the run; see gateway.log");
    if (baselineGateway.HasExited) results.Errors.Add("the baseline exited during the run; see baseline.log");
}

// Two sites of their own (issues 13 and 14), once the pair above has stopped: their four processes have the cores.
if (options.Runs("sites")) results.Sites = await SitesBench.RunAsync(options, results.Errors, budget.Token);

results.LoadAverageAtEnd = MachineInfo.LoadAverage();
results.DurationSeconds = Math.Round(clock.Elapsed.TotalSeconds, 1);
await Report.WriteAsync(results, options.OutDir);
return results.Errors.Count == 0 ? 0 : 1;
