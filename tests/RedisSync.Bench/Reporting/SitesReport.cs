using System.Globalization;
using System.Text;
using RedisSync.Bench.Workloads;

namespace RedisSync.Bench.Reporting;

/// <summary>The "Multiple sites" section of results.md: replication lag rows and the repair cost.</summary>
public static class SitesReport
{
    public static void Append(StringBuilder md, SitesResult s)
    {
        md.AppendLine("## Multiple sites (two RedisSync sites on this machine)");
        md.AppendLine();
        md.AppendLine("Sites a and b, each its own redis-server and gateway process, replicating both ways with the gateway's defaults (" +
                      string.Join(", ", s.SiteSettings.Select(kv => $"`{kv.Key}={kv.Value}`")) + "); the four processes and this program share the cores. " +
                      "a reaches b through a TCP relay in this program that counts the bytes on the wire; b reaches a directly. " +
                      $"The phase took {s.Seconds:0} s; load average at its start {s.LoadAverageAtStart}, at its end {s.LoadAverageAtEnd}.");
        md.AppendLine();
        if (s.Lag.Count > 0)
        {
            md.AppendLine("**Replication lag**: PUTs of new records paced open-loop at the origin, each carrying its send time; a subscriber at the other site " +
                          "(official .NET SignalR client) takes its receipt time when the client hands the `change` over. Lag = receipt − send, one clock. " +
                          "The PUT column is the origin's own answer (the write is stored there). CPU: µs per replicated write in the window (both directions' writes when both write).");
            md.AppendLine();
            md.AppendLine("| direction | writes/s per site (target) | achieved | written | received | duplicates | lag p50 / p95 / p99 / max ms | PUT at origin p50 / p99 ms | complete | CPU µs/write: gateway a / b, redis a / b, bench | machine cores busy |");
            md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |");
            foreach (var r in s.Lag)
            {
                var cpu = r.Cpu;
                md.AppendLine($"| {r.Direction}{(r.BothWays ? " (both ways at once)" : "")} | {r.TargetWritesPerSecond:N0} | {r.WritesPerSecond:N0} | {r.Written:N0} | {r.Received:N0} | {r.Duplicates} | " +
                              $"{r.Lag.P50Ms:0.00} / {r.Lag.P95Ms:0.00} / {r.Lag.P99Ms:0.00} / {r.Lag.MaxMs:0.0} | {r.PutResponse.P50Ms:0.00} / {r.PutResponse.P99Ms:0.00} | " +
                              $"{(r.Complete ? "yes" : $"**no** ({r.WritesFailed} writes failed, {r.Resyncs} resyncs)")} | " +
                              (cpu is null ? "– | –" : $"{cpu.GatewayA:0} / {cpu.GatewayB:0}, {cpu.RedisA:0} / {cpu.RedisB:0}, {cpu.Bench:0} | {cpu.MachineCores:0.00}") + " |");
            }
            md.AppendLine();
        }

        if (s.Repair is not { } rp) return;
        md.AppendLine($"**Repair cost**: a collection of {rp.Records:N0} records (5 fields each) seeded through a in batches of 1,000 ({rp.SeedSeconds:0.0} s); " +
                      $"b held them all with an equal digest root {rp.ReplicatedSeconds:0.0} s after the seeding began. Then `POST /api/v1/replication/repair` on a, " +
                      $"first with equal sites, then after {rp.Damage}. Each repair starts by rebuilding the digests on both sites (a scrub, paced; one site's alone took {rp.ScrubSeconds:0.0} s here). " +
                      "Bodies = the answer's `bytesSent`/`bytesReceived` (bodies of the calls to the peer after the scrubs); wire = bytes through the relay both ways, HTTP headers and the peer's scrub call included, " +
                      "while replication keeps polling: its rate in a quiet window just before is the background, and net = wire − background × time.");
        md.AppendLine();
        md.AppendLine("| what | time | requests | bodies sent / received | wire to b / from b | background | net on the wire | differing | repaired | roots equal after |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        foreach (var r in rp.Repairs)
            md.AppendLine($"| repair, {r.Case}{(r.Error is null ? "" : $" (**error**: {r.Error})")}{(r.OtherCollections.Count == 0 ? "" : $" (also differed: {string.Join(", ", r.OtherCollections)})")} | {r.Seconds:0.00} s | {r.Requests} | {Bytes(r.BodyBytesSent)} / {Bytes(r.BodyBytesReceived)} | " +
                          $"{Bytes(r.WireBytesToPeer)} / {Bytes(r.WireBytesFromPeer)} | {Bytes((long)r.BackgroundWireBytesPerSecond)}/s | {Bytes((long)r.NetWireBytes)} | {r.Differing.Count} | {r.Repaired.Count} | {(r.RootsEqualAfter ? "yes" : "**no**")} |");
        if (rp.Copy is { } c)
            md.AppendLine($"| full copy: GET `/replication/collections/{{c}}/records`, {c.Pages} pages of {c.PageSize} ({c.Records:N0} records) | {c.Seconds:0.00} s | {c.Pages} | – / {Bytes(c.BodyBytes)} | " +
                          $"{Bytes(c.WireBytesToPeer)} / {Bytes(c.WireBytesFromPeer)} | {Bytes((long)c.BackgroundWireBytesPerSecond)}/s | {Bytes((long)c.NetWireBytes)} | | | |");
        md.AppendLine();
        if (rp.Copy is { } copy && rp.Repairs.FirstOrDefault(r => r.Differing.Count > 0) is { } diff && copy.NetWireBytes > 0)
        {
            md.AppendLine($"Repair of {diff.Differing.Count} differing records against the full copy: {Ratio(diff.NetWireBytes, copy.NetWireBytes)} of the bytes on the wire (net), " +
                          $"{Ratio(diff.BodyBytesSent + diff.BodyBytesReceived, copy.BodyBytes)} of the bodies; the copy's time is the transfer alone (the copying site's apply comes on top). " +
                          $"Differing ids: {string.Join(", ", diff.Differing)}.");
            md.AppendLine();
        }
    }

    private static string Ratio(double part, double whole) =>
        whole <= 0 ? "–" : (part / whole).ToString(part / whole < 0.01 ? "0.000%" : "0.0%", CultureInfo.InvariantCulture);

    private static string Bytes(long n) => n switch
    {
        >= 10_000_000 => (n / 1e6).ToString("N1", CultureInfo.InvariantCulture) + " MB",
        >= 10_000 => (n / 1e3).ToString("N1", CultureInfo.InvariantCulture) + " kB",
        _ => n.ToString("N0", CultureInfo.InvariantCulture) + " B",
    };
}
