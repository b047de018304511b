using System.Diagnostics;
using RedisSync.Soak;
using RedisSync.Tests.Cluster;

// Issue 12's soak: writers and subscribers on two gateway instances over a 3+3 Redis Cluster with Redis:AckReplicas=1,
// masters and gateways killed at random, then everything counted. Bounded: SoakOptions.Budget for the whole run.

var options = SoakOptions.Parse(args, out var error);
if (options is null)
{
    if (error is not null) Console.Error.WriteLine(error);
    Console.Error.WriteLine(SoakOptions.Usage);
    return error is null ? 0 : 2;
}

var clock = Stopwatch.StartNew();
using var budget = new CancellationTokenSource(SoakOptions.Budget);
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true; // stop, but still stop every process this program started
    budget.Cancel();
};
void Progress(string line) => Console.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  {line}");

Progress($"seed {options.Seed}; starting a Redis Cluster (3 masters, 3 replicas) and {options.Gateways} gateways with Redis:AckReplicas=1");
await using var rig = await ClusterRig.StartAsync(options.Gateways, new Dictionary<string, string>
{
    ["Redis:AckReplicas"] = "1",
    ["Redis:AckTimeout"] = "00:00:00.500",
});
var collections = await rig.CollectionsOnEveryMasterAsync("soak", options.CollectionsPerMaster);
Progress($"collections {string.Join(", ", collections)}; gateways {string.Join(", ", rig.Pool.Live)}");

await using var traffic = await SyncTraffic.StartAsync(rig.Pool, rig.Http, collections, busyWriters: 4);
var chaos = new Chaos(rig, new Random(options.Seed), clock);
Progress($"{traffic.Subscribers.Count} subscribers and {4 + collections.Count - 1} writers running; faults for {options.Chaos.TotalSeconds:0} s");

Verdict? verdict = null;
string? failure = null;
var run = Task.Run(async () =>
{
    await chaos.RunAsync(options.Chaos, budget.Token);
    Progress("faults stopped; waiting for a healthy cluster, then checking");
    await rig.Cluster.WaitUntilHealthyAsync(TimeSpan.FromSeconds(60));
    var left = SoakOptions.Budget - clock.Elapsed;
    return await traffic.FinishAsync(left > TimeSpan.FromSeconds(10) ? left : TimeSpan.FromSeconds(10));
});
// The budget holds even if a step overruns its own bound: past it, the processes are stopped and the run fails.
var remaining = SoakOptions.Budget - clock.Elapsed;
if (await Task.WhenAny(run, Task.Delay(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero)) != run)
    failure = $"the {SoakOptions.Budget.TotalMinutes:0}-minute budget ran out";
else
{
    try
    {
        verdict = await run;
    }
    catch (Exception e) when (e is TimeoutException or OperationCanceledException or InvalidOperationException or HttpRequestException)
    {
        failure = $"{e.GetType().Name}: {e.Message}";
    }
}

Console.WriteLine();
Console.WriteLine($"RedisSync soak, seed {options.Seed}, {clock.Elapsed.TotalSeconds:0} s, faults for {options.Chaos.TotalSeconds:0} s:");
Console.WriteLine($"kills: {chaos.MastersKilled} masters (each restarted), {chaos.GatewaysKilled} gateways (each replaced)");
if (verdict is not null) Console.Write(verdict.Summary());
if (failure is not null) Console.WriteLine($"ABORTED: {failure}");
var passed = failure is null && verdict is { Lost.Count: 0 } && verdict.Violations().Count == 0;
Console.WriteLine(passed ? "PASSED: nothing acknowledged was lost, no stream had a gap or a duplicate, every view converged"
                         : "FAILED");
return passed ? 0 : 1;
