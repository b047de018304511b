using RedisSync.Bench.Clients;
using RedisSync.Bench.Infrastructure;
using RedisSync.Bench.Measurement;

namespace RedisSync.Bench.Workloads;

/// <summary>
/// What every workload needs for one gateway under test: its processes (the gateway and its own redis-server),
/// a client for each, and the bounds.
/// </summary>
public sealed class BenchContext(BenchOptions options, RedisServerProcess redis, GatewayProcess gateway, CancellationToken ct)
{
    // Every run writes to collections of its own, so reruns against a reused Redis never meet old clocks.
    private readonly string _runId = Guid.NewGuid().ToString("N")[..6];

    public BenchOptions Options { get; } = options;
    public RedisServerProcess Redis { get; } = redis;
    public GatewayProcess Gateway { get; } = gateway;
    public GatewayKind Kind => Gateway.Kind;
    public GatewayHttp Http { get; } = new(gateway.BaseAddress);
    public CpuProbe Cpu { get; } = new(gateway, redis);
    public CancellationToken Ct { get; } = ct;

    /// <summary>How the report names this gateway.</summary>
    public string Name => Kind == GatewayKind.RedisSync ? "RedisSync" : "baseline";

    /// <summary>A collection name unique to this run and purpose (valid per CONTRACT §1).</summary>
    public string Collection(string purpose) => $"{purpose}-{_runId}";

    public static void Progress(string line) => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}");
}
