using System.Globalization;
using RedisSync.Bench.Infrastructure;

namespace RedisSync.Bench.Workloads;

/// <summary>redis-benchmark's SET figures on the same server: what Redis does without Lua, for context only.</summary>
public sealed record RedisBenchmarkResult(double? SetPerSecond, double? SetPipelinedPerSecond, string Command);

public static class RedisBenchmark
{
    /// <summary>Null when redis-benchmark is not on PATH.</summary>
    public static async Task<RedisBenchmarkResult?> RunAsync(BenchContext ctx)
    {
        var requests = ctx.Options.Quick ? 20_000 : 200_000;
        var common = $"-h 127.0.0.1 -p {ctx.Redis.Port} -t set -c 50 -n {requests} --csv";
        BenchContext.Progress("redis-benchmark: SET, 50 clients");
        var plain = await RunOneAsync(common);
        if (plain is null) return null; // not installed, or it failed: the report says so
        BenchContext.Progress("redis-benchmark: SET, 50 clients, pipeline 16");
        var pipelined = await RunOneAsync(common + " -P 16");
        return new RedisBenchmarkResult(plain, pipelined, "redis-benchmark " + common.Replace($"-p {ctx.Redis.Port}", "-p <port>") + " [-P 16]");
    }

    // --csv prints a header line and then "SET","<requests per second>",...
    private static async Task<double?> RunOneAsync(string arguments)
    {
        var output = await ChildProcess.RunToEndAsync("redis-benchmark", arguments, TimeSpan.FromSeconds(60));
        var line = output?.Split('\n').FirstOrDefault(l => l.StartsWith("\"SET\"", StringComparison.Ordinal));
        if (line is null) return null;
        var fields = line.Split(',');
        return fields.Length > 1 && double.TryParse(fields[1].Trim('"'), CultureInfo.InvariantCulture, out var rps) ? rps : null;
    }
}
