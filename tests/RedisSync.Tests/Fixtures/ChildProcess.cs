using System.Diagnostics;

namespace RedisSync.Tests.Fixtures;

/// <summary>Runs a command to completion (redis-cli, the gateway's own commands), bounded in time.</summary>
internal static class ChildProcess
{
    /// <summary>
    /// Starts <paramref name="psi"/> with both outputs redirected and waits for it to exit, for at most
    /// <paramref name="timeout"/> (then kills it and throws, naming it <paramref name="what"/>).
    /// Returns its exit code and everything it printed, standard output first.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(ProcessStartInfo psi, TimeSpan timeout, string what)
    {
        psi.UseShellExecute = false;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {what}");
        // Both streams are drained while it runs, so a chatty process never blocks on a full pipe.
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill();
            throw new TimeoutException($"{what} did not finish within {timeout.TotalSeconds:0} s");
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
