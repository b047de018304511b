using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace RedisSync.Bench.Measurement;

/// <summary>One wrk run: completed requests, failures, latency percentiles, and wrk's own CPU time.</summary>
public sealed record WrkResult(
    long Requests,
    double Seconds,
    long SocketErrors,
    long StatusErrors,
    LatencySummary Latency,
    double CpuSeconds)
{
    public double RequestsPerSecond => Seconds > 0 ? Requests / Seconds : 0;
}

/// <summary>
/// Runs wrk (Debian's /usr/bin/wrk) with a request script from Load/. wrk is C on an event loop: measured
/// here it spends about half the CPU per request of this program's own HttpClient loop, CPU the gateway and
/// Redis need on a 2-core machine (see README).
/// </summary>
public static class Wrk
{
    public const string Executable = "/usr/bin/wrk";

    public static bool Installed => File.Exists(Executable);

    /// <summary>One event-loop thread per core at most: more threads only add context switches.</summary>
    public static int Threads(int connections) => Math.Min(connections, Environment.ProcessorCount);

    public static async Task<WrkResult> RunAsync(Uri baseAddress, int connections, TimeSpan duration, string script,
        IReadOnlyList<string> scriptArguments, CancellationToken ct)
    {
        if (!Installed) throw new InvalidOperationException($"{Executable} is missing: apt-get install -y wrk");
        var seconds = Math.Max(1, (int)Math.Round(duration.TotalSeconds));
        var start = new ProcessStartInfo(Executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "-t", Threads(connections).ToString(CultureInfo.InvariantCulture), "-c", connections.ToString(CultureInfo.InvariantCulture),
                     "-d", $"{seconds}s", "--timeout", "10s", "-s", script, baseAddress.ToString().TrimEnd('/'), "--" })
            start.ArgumentList.Add(a);
        foreach (var a in scriptArguments) start.ArgumentList.Add(a);

        var cpuBefore = ChildrenCpuSeconds();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("wrk did not start");
        var output = process.StandardOutput.ReadToEndAsync(ct);
        var errors = process.StandardError.ReadToEndAsync(ct);
        try
        {
            await process.WaitForExitAsync(ct).WaitAsync(TimeSpan.FromSeconds(seconds + 30), ct);
        }
        catch
        {
            if (!process.HasExited) process.Kill();
            throw;
        }
        var cpu = ChildrenCpuSeconds() - cpuBefore;
        var text = await output;
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("WRK-RESULT ", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"wrk printed no result (exit {process.ExitCode}): {text} {await errors}");
        using var doc = JsonDocument.Parse(line["WRK-RESULT ".Length..]);
        var r = doc.RootElement;
        long L(string name) => r.GetProperty(name).GetInt64();
        double Ms(string name) => Math.Round(r.GetProperty(name).GetDouble() / 1000, 3);
        var requests = L("requests");
        return new WrkResult(requests, L("durationUs") / 1e6,
            L("connectErrors") + L("readErrors") + L("writeErrors") + L("timeouts"), L("statusErrors"),
            new LatencySummary(requests, Ms("p50Us"), Ms("p95Us"), Ms("p99Us"), Ms("maxUs"), Ms("meanUs")),
            Math.Round(cpu, 3));
    }

    // getrusage(RUSAGE_CHILDREN): CPU of every child this process has reaped, wrk included once it exits.
    private static double ChildrenCpuSeconds()
    {
        if (GetRusage(-1, out var usage) != 0) return 0;
        return usage.UserSeconds + usage.UserMicroseconds / 1e6 + usage.SystemSeconds + usage.SystemMicroseconds / 1e6;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Rusage
    {
        public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
        // The remaining 14 longs of struct rusage (maxrss, faults, switches...): not read, but written by the call.
        public long R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, R11, R12, R13;
    }

    [DllImport("libc", EntryPoint = "getrusage")]
    private static extern int GetRusage(int who, out Rusage usage);
}
