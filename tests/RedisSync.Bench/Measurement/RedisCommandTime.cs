using System.Globalization;
using System.Net.Sockets;
using StackExchange.Redis;

namespace RedisSync.Bench.Measurement;

/// <summary>One command as Redis counted it over a window, per applied write.</summary>
public sealed record CommandShare(string Command, double CallsPerWrite, double UsPerWrite, bool InsideScripts);

/// <summary>
/// Redis's own accounting (INFO commandstats) over a window, per applied write: µs inside commands that
/// clients sent (a script or a MULTI/EXEC counted once, with what runs inside it), and each command's share.
/// </summary>
public sealed record RedisCommandTime(double UsPerWrite, IReadOnlyList<CommandShare> Commands);

/// <summary>
/// Reads INFO commandstats. Redis counts a command a script (or EXEC) runs under its own name as well as
/// inside the script's time, so adding up every line counts those twice. Which commands run inside scripts
/// is learned from a short MONITOR sample taken outside the measured window (MONITOR shows a script's
/// commands as "[0 lua]" and a transaction's between its MULTI and EXEC); their share of calls is then left
/// out of the total. The sample describes the workload, not the gateway's code, so this keeps working
/// whatever the gateway sends.
/// </summary>
public static class RedisCommandStats
{
    /// <summary>Commands this program sends itself, never the gateway's work.</summary>
    private static readonly string[] OwnCommands = ["config", "info", "monitor", "hello", "client", "cluster", "echo", "script"];

    public static Task ResetAsync(IServer server) => server.ConfigResetStatisticsAsync();

    /// <summary>calls and usec of every command since the last reset.</summary>
    public static async Task<Dictionary<string, (long Calls, long Usec)>> ReadAsync(IServer server)
    {
        var stats = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        foreach (var group in await server.InfoAsync("commandstats"))
            foreach (var (key, value) in group)
            {
                // cmdstat_evalsha:calls=12,usec=345,usec_per_call=28.75,rejected_calls=0,failed_calls=0
                if (!key.StartsWith("cmdstat_", StringComparison.Ordinal)) continue;
                var fields = value.Split(',').Select(f => f.Split('=')).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1]);
                if (fields.TryGetValue("calls", out var calls) && fields.TryGetValue("usec", out var usec))
                    stats[key["cmdstat_".Length..]] = (long.Parse(calls, CultureInfo.InvariantCulture), long.Parse(usec, CultureInfo.InvariantCulture));
            }
        return stats;
    }

    /// <summary>Per applied write, leaving out the share of each command that ran inside a script or transaction.</summary>
    public static RedisCommandTime PerWrite(Dictionary<string, (long Calls, long Usec)> stats, IReadOnlyDictionary<string, double> insideShare, long writes)
    {
        var shares = new List<CommandShare>();
        double total = 0;
        foreach (var (name, (calls, usec)) in stats)
        {
            if (OwnCommands.Any(own => name == own || name.StartsWith(own + "|", StringComparison.Ordinal))) continue;
            var inside = insideShare.GetValueOrDefault(name.Split('|')[0]);
            total += usec * (1 - inside);
            if (writes > 0 && calls > 0)
                shares.Add(new CommandShare(name, Math.Round(calls / (double)writes, 3), Math.Round(usec / (double)writes, 2), inside >= 0.5));
        }
        return new RedisCommandTime(writes == 0 ? 0 : Math.Round(total / writes, 2), [.. shares.OrderByDescending(s => s.UsPerWrite)]);
    }

    /// <summary>
    /// Watches MONITOR for at most <paramref name="duration"/> or <paramref name="maxLines"/> commands and returns,
    /// per command name, the share of its calls that ran inside a script or a MULTI/EXEC.
    /// </summary>
    public static async Task<Dictionary<string, double>> SampleNestingAsync(int port, TimeSpan duration, int maxLines, CancellationToken ct)
    {
        var counts = new Dictionary<string, (int Inside, int All)>(StringComparer.Ordinal);
        var inTransaction = new HashSet<string>(StringComparer.Ordinal);
        using var tcp = new TcpClient();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stop.CancelAfter(duration);
        try
        {
            await tcp.ConnectAsync("127.0.0.1", port, stop.Token);
            var stream = tcp.GetStream();
            await stream.WriteAsync("MONITOR\r\n"u8.ToArray(), stop.Token);
            using var reader = new StreamReader(stream);
            for (var n = 0; n < maxLines; n++)
            {
                var line = await reader.ReadLineAsync(stop.Token);
                if (line is null) break;
                // +1732262400.123456 [0 127.0.0.1:50123] "EVALSHA" "..."   or   [0 lua] "HSET" ...
                var open = line.IndexOf('[');
                var close = line.IndexOf(']', open + 1);
                if (open < 0 || close < 0 || close + 3 > line.Length) continue;
                var source = line[(open + 1)..close];
                var nameEnd = line.IndexOf('"', close + 3);
                if (nameEnd < 0) continue;
                var command = line[(close + 3)..nameEnd].ToLowerInvariant();
                var client = source[(source.IndexOf(' ') + 1)..];
                bool inside;
                if (command == "multi") { inTransaction.Add(client); inside = false; }
                else if (command is "exec" or "discard") { inTransaction.Remove(client); inside = false; }
                else inside = client == "lua" || inTransaction.Contains(client);
                var c = counts.GetValueOrDefault(command);
                counts[command] = (c.Inside + (inside ? 1 : 0), c.All + 1);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested) { } // the sample's time is up
        catch (IOException) when (stop.IsCancellationRequested) { }
        return counts.ToDictionary(c => c.Key, c => c.Value.Inside / (double)c.Value.All);
    }
}
