using RedisSync.Bench.Infrastructure;

namespace RedisSync.Bench;

/// <summary>Command-line options and the durations and sizes they imply.</summary>
public sealed class BenchOptions
{
    public bool Quick { get; private init; }
    /// <summary>Where results go; by default artifacts/bench at the repository's root (gitignored).</summary>
    public string OutDir { get; private init; } = Path.Combine(BuildInfo.RepoRoot, "artifacts", "bench");

    /// <summary>The gateway to run; by default the one built next to this program (same configuration).</summary>
    public string? GatewayDll { get; private init; }

    /// <summary>Extra environment for the gateway (e.g. runtime knobs for an experiment); listed in the report.</summary>
    public IReadOnlyDictionary<string, string> GatewayEnvironment { get; private init; } = new Dictionary<string, string>();

    /// <summary>The phases to run (all by default).</summary>
    public IReadOnlySet<string> Phases { get; private init; } = AllPhases;

    public static readonly IReadOnlySet<string> AllPhases = new HashSet<string> { "memory", "redis-benchmark", "ceiling", "put", "hot", "http", "e2e", "resume", "cluster", "sites" };

    public bool Runs(string phase) => Phases.Contains(phase);

    // Closed-loop phases (ceiling, HTTP): a warm-up that is not recorded, then the measured window. wrk's
    // runs (put, hot) measure for Measure too; wrk takes whole seconds.
    public TimeSpan Warmup => Quick ? TimeSpan.FromMilliseconds(300) : TimeSpan.FromSeconds(1);
    public TimeSpan Measure => Quick ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(5);

    /// <summary>Load on a write path before it is measured: each wrk PUT run's warm-up, and HttpWriteBench's.</summary>
    public TimeSpan HttpWarmup => Quick ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(3);

    // End-to-end load points: shorter than the closed loops because there are many of them.
    public TimeSpan EndToEndWarmup => Quick ? TimeSpan.FromMilliseconds(300) : TimeSpan.FromMilliseconds(700);
    public TimeSpan EndToEndMeasure => Quick ? TimeSpan.FromMilliseconds(700) : TimeSpan.FromSeconds(4);
    public int StepSearchMaxSteps => Quick ? 1 : 5;

    /// <summary>Idle subscribers held for the memory measurement (the figure is 1,000).</summary>
    public int IdleSubscribers => Quick ? 200 : 1000;
    public int SettleMaxReads => Quick ? 4 : 15;

    public int ResumeChanges => 10_000;
    public int ResumeRuns => Quick ? 1 : 3;

    // Two sites (issues 13 and 14): replication lag runs, and a repair of a collection of SitesRepairRecords.
    public TimeSpan SitesLagWarmup => Quick ? TimeSpan.FromMilliseconds(500) : TimeSpan.FromSeconds(2);
    public TimeSpan SitesLagMeasure => Quick ? TimeSpan.FromSeconds(2) : TimeSpan.FromSeconds(10);
    public int SitesRepairRecords => Quick ? 20_000 : 100_000;
    /// <summary>The sites phase's own bound (it took 102 s here); it stops there and reports what finished.</summary>
    public TimeSpan SitesBudget => Quick ? TimeSpan.FromMinutes(2) : TimeSpan.FromMinutes(5);

    /// <summary>
    /// Hard bound on the whole run; every phase also bounds itself. A full run takes about 5 minutes here (two
    /// gateways, every measured phase on each); the budget leaves room for a slow, shared machine.
    /// </summary>
    public TimeSpan Budget => Quick ? TimeSpan.FromMinutes(4) : TimeSpan.FromMinutes(12);

    public const string Usage = """
        RedisSync benchmark: starts RedisSync and the textbook baseline gateway, each with its own redis-server, on
        127.0.0.1; measures both alternately; writes results.md and results.json.

          dotnet run -c Release --project tests/RedisSync.Bench -- [--quick] [--out DIR] [options]

          --quick              a short smoke run (a few minutes) to check that everything works
          --out DIR            where results go (default artifacts/bench)
          --only P1,P2         run only these phases: memory, redis-benchmark, ceiling, put, hot, http, e2e, resume, cluster, sites
          --gateway PATH.dll   the RedisSync assembly to run (default: the one built with this program)
          --gateway-env K=V    extra environment variable for RedisSync (repeatable), for experiments
        """;

    /// <summary>Parses the arguments, or returns null (with the reason) when they make no sense.</summary>
    public static BenchOptions? Parse(string[] args, out string? error)
    {
        error = null;
        var quick = false;
        string? outDir = null, gateway = null;
        var environment = new Dictionary<string, string>();
        var phases = new HashSet<string>(AllPhases);
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick": quick = true; break;
                case "--out" when i + 1 < args.Length: outDir = args[++i]; break;
                case "--gateway" when i + 1 < args.Length: gateway = args[++i]; break;
                case "--gateway-env" when i + 1 < args.Length && args[i + 1].IndexOf('=') > 0:
                    var pair = args[++i];
                    environment[pair[..pair.IndexOf('=')]] = pair[(pair.IndexOf('=') + 1)..];
                    break;
                case "--only" when i + 1 < args.Length:
                    phases = [.. args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                    if (phases.FirstOrDefault(p => !AllPhases.Contains(p)) is { } unknown)
                    {
                        error = $"unknown phase '{unknown}'";
                        return null;
                    }
                    break;
                case "-h" or "--help": return null;
                default: error = $"unknown argument '{args[i]}'"; return null;
            }
        }
        return new BenchOptions
        {
            Quick = quick,
            OutDir = Path.GetFullPath(outDir ?? Path.Combine(BuildInfo.RepoRoot, "artifacts", "bench")),
            GatewayDll = gateway is null ? null : Path.GetFullPath(gateway),
            GatewayEnvironment = environment,
            Phases = phases,
        };
    }
}
