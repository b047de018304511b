using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace RedisSync.Bench.Infrastructure;

/// <summary>What the figures were measured on. The load average matters: the machine may be shared.</summary>
public sealed record MachineInfo(
    int Cores,
    string CpuModel,
    double MemoryGiB,
    string Os,
    string Kernel,
    string DotNet,
    string? DotNetSdk,
    string? Redis,
    string LoadAverageAtStart)
{
    public static async Task<MachineInfo> DescribeAsync()
    {
        var cpu = ReadFirst("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString();
        var memKiB = ReadFirst("/proc/meminfo", "MemTotal") is { } m ? double.Parse(m.Split(' ')[0]) : 0;
        var os = ReadFirst("/etc/os-release", "PRETTY_NAME", '=')?.Trim('"') ?? RuntimeInformation.OSDescription;
        var sdk = (await ChildProcess.RunToEndAsync("dotnet", "--version", TimeSpan.FromSeconds(20)))?.Trim();
        var redisText = await ChildProcess.RunToEndAsync(RedisServerProcess.RedisServerPath, "--version", TimeSpan.FromSeconds(5));
        var redis = redisText is null ? null : Regex.Match(redisText, @"v=(\S+)").Groups[1].Value;
        return new MachineInfo(Environment.ProcessorCount, cpu, Math.Round(memKiB / 1024 / 1024, 1), os,
            Read("/proc/sys/kernel/osrelease") ?? "?", RuntimeInformation.FrameworkDescription, sdk, redis, LoadAverage());
    }

    /// <summary>1, 5 and 15 minute load averages: above the core count, something else competes for the CPU.</summary>
    public static string LoadAverage() => string.Join(' ', (Read("/proc/loadavg") ?? "").Split(' ').Take(3));

    private static string? Read(string path)
    {
        try { return File.ReadAllText(path).Trim(); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private static string? ReadFirst(string path, string key, char separator = ':')
    {
        foreach (var line in (Read(path) ?? "").Split('\n'))
        {
            var i = line.IndexOf(separator);
            if (i > 0 && line[..i].Trim() == key) return line[(i + 1)..].Trim();
        }
        return null;
    }
}
