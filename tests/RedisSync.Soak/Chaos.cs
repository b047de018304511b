using System.Diagnostics;
using RedisSync.Tests.Cluster;
using RedisSync.Tests.Fixtures;

namespace RedisSync.Soak;

/// <summary>
/// Faults at random while the load runs: a master SIGKILLed, its replica's promotion awaited, the master restarted
/// (it returns as a replica); or a gateway SIGKILLed and, a moment later, a new one started. One fault at a time, each
/// waited on until the cluster is whole again, every wait bounded.
/// </summary>
public sealed class Chaos(ClusterRig rig, Random random, Stopwatch clock)
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(60);

    public int MastersKilled { get; private set; }
    public int GatewaysKilled { get; private set; }

    /// <summary>What happened, with when (seconds since the run started).</summary>
    public List<string> Log { get; } = [];

    public async Task RunAsync(TimeSpan duration, CancellationToken ct)
    {
        var until = clock.Elapsed + duration;
        for (var step = 0; step < 100 && clock.Elapsed < until; step++)
        {
            var pause = TimeSpan.FromMilliseconds(random.Next(2000, 6000));
            var left = until - clock.Elapsed;
            await Task.Delay(pause < left ? pause : left, ct);
            if (clock.Elapsed >= until) break;
            if (random.NextDouble() < 0.6) await KillMasterAsync();
            else await KillGatewayAsync(ct);
        }
    }

    private async Task KillMasterAsync()
    {
        var masters = await rig.Cluster.MastersAsync();
        var victim = masters[random.Next(masters.Count)];
        var at = clock.Elapsed;
        await rig.Cluster.KillAsync(victim);
        MastersKilled++;
        var promoted = await rig.Cluster.WaitForFailoverAsync(victim, StepTimeout);
        var failedOver = clock.Elapsed - at;
        await rig.Cluster.RestartAsync(victim, StepTimeout);
        Note(at, $"master {victim} killed; {promoted} promoted after {failedOver.TotalSeconds:0.0} s; {victim} back as its replica after {(clock.Elapsed - at).TotalSeconds:0.0} s");
    }

    private async Task KillGatewayAsync(CancellationToken ct)
    {
        var gateways = rig.Gateways;
        var victim = gateways[random.Next(gateways.Count)];
        var at = clock.Elapsed;
        await rig.KillGatewayAsync(victim);
        GatewaysKilled++;
        await Task.Delay(random.Next(0, 2000), ct);
        var started = await rig.StartGatewayAsync();
        Note(at, $"gateway {victim.BaseUrl} killed; {started.BaseUrl} started {(clock.Elapsed - at).TotalSeconds:0.0} s later");
    }

    private void Note(TimeSpan at, string what)
    {
        var line = $"{at.TotalSeconds,6:0.0} s  {what}";
        Log.Add(line);
        Console.WriteLine(line);
    }
}
