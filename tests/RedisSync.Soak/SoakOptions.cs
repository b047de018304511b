using System.Globalization;

namespace RedisSync.Soak;

/// <summary>The soak's bounds and randomness, from the command line.</summary>
public sealed record SoakOptions
{
    /// <summary>How long faults are injected under load (the whole run adds start-up and the final check).</summary>
    public TimeSpan Chaos { get; init; } = TimeSpan.FromSeconds(150);

    /// <summary>The whole run's hard bound: past it the soak stops, cleans up and fails.</summary>
    public static readonly TimeSpan Budget = TimeSpan.FromMinutes(5);

    /// <summary>Longest allowed <see cref="Chaos"/>: start-up and the final check need the rest of the budget.</summary>
    public static readonly TimeSpan MaxChaos = TimeSpan.FromSeconds(210);

    /// <summary>Seed of every random choice (which fault, which victim, how long between): a run can be repeated.</summary>
    public int Seed { get; init; } = Environment.TickCount & 0x7fffffff;

    public int Gateways { get; init; } = 2;

    /// <summary>Collections per master: they spread over the three shards.</summary>
    public int CollectionsPerMaster { get; init; } = 2;

    public const string Usage = """
        RedisSync soak: a local Redis Cluster (3 masters, 3 replicas) and two gateway processes with Redis:AckReplicas=1,
        writers and subscribers on both; masters and gateways are killed (SIGKILL) and restarted at random; at the end
        every acknowledged write, every subscriber's stream and both gateways' views are checked. At most 5 minutes.

          dotnet run -c Release --project tests/RedisSync.Soak -- [--chaos SECONDS] [--seed N]

          --chaos SECONDS   how long faults are injected under load (default 150, at most 210)
          --seed N          seed of the random choices (default: from the clock; printed, so a run can be repeated)
        """;

    public static SoakOptions? Parse(string[] args, out string? error)
    {
        error = null;
        var options = new SoakOptions();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--chaos" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
                                                        && seconds > 0 && seconds <= MaxChaos.TotalSeconds:
                    options = options with { Chaos = TimeSpan.FromSeconds(seconds) };
                    i++;
                    break;
                case "--seed" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var seed):
                    options = options with { Seed = seed };
                    i++;
                    break;
                case "-h" or "--help":
                    return null;
                default:
                    error = $"unknown or invalid argument '{args[i]}'";
                    return null;
            }
        }
        return options;
    }
}
