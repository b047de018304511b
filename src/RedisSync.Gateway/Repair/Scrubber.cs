using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using RedisSync.Gateway.Observability;
using RedisSync.Gateway.Store;
using StackExchange.Redis;

namespace RedisSync.Gateway.Repair;

/// <summary>What a scrub found in one collection.</summary>
public sealed record ScrubReport(string Collection, long Records, IReadOnlyList<string> Lost, IReadOnlyList<string> Altered);

/// <summary><c>POST /api/v1/digests/rebuild</c>: the scrub of every collection.</summary>
public sealed record ScrubResult(IReadOnlyList<ScrubReport> Collections);

/// <summary>
/// Rebuilds digests from the stored records (CONTRACT §10), so a record lost or altered in Redis behind the
/// gateway's back is found: every <c>Repair:ScrubInterval</c> (one instance of a site at a time), and on demand
/// before a repair. Paced to <c>Repair:ScrubRecordsPerSecond</c>; it only reads, except to set the index straight
/// where it found damage (<see cref="DigestStore.ScrubAsync"/>). Findings: the metric
/// <c>redissync.scrub.damaged</c> and a log line with the ids.
/// </summary>
public sealed class Scrubber : BackgroundService
{
    private readonly DigestStore _index;
    private readonly RecordStore _records;
    private readonly IConnectionMultiplexer _redis;
    private readonly RepairOptions _options;
    private readonly ILogger<Scrubber> _log;
    private readonly Counter<long> _checked;
    private readonly Counter<long> _damaged;

    public Scrubber(DigestStore index, RecordStore records, IConnectionMultiplexer redis, IOptions<RepairOptions> options, IMeterFactory meters, ILogger<Scrubber> log)
    {
        (_index, _records, _redis, _options, _log) = (index, records, redis, options.Value, log);
        var meter = meters.Create(SyncMetrics.MeterName);
        _checked = meter.CreateCounter<long>("redissync.scrub.records", "{record}", "Records a scrub compared with the digest index.");
        _damaged = meter.CreateCounter<long>("redissync.scrub.damaged", "{record}", "Records a scrub found lost or altered behind the gateway's back, by kind.");
    }

    /// <summary>Scrubs every collection now, at the configured pace.</summary>
    public async Task<ScrubResult> ScrubAllAsync(CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var reports = new List<ScrubReport>();
        foreach (var (name, _, _) in await _records.ListCollectionsAsync())
            reports.Add(await ScrubAsync(name, ct));
        RepairLog.Scrubbed(_log, reports.Count, reports.Sum(r => r.Records), reports.Sum(r => r.Lost.Count + r.Altered.Count), clock.ElapsedMilliseconds);
        return new ScrubResult(reports);
    }

    public async Task<ScrubReport> ScrubAsync(string collection, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        // Pace: never ahead of the allowed rate.
        async Task Pace(long done)
        {
            var due = TimeSpan.FromSeconds(done / (double)_options.ScrubRecordsPerSecond) - clock.Elapsed;
            if (due > TimeSpan.FromMilliseconds(1)) await Task.Delay(due, ct);
        }
        var (records, found) = await _index.ScrubAsync(collection, Pace);
        var lost = found.Where(f => f.Damage == Damage.Lost).Select(f => f.Id).ToList();
        var altered = found.Where(f => f.Damage == Damage.Altered).Select(f => f.Id).ToList();
        _checked.Add(records);
        if (lost.Count > 0)
        {
            _damaged.Add(lost.Count, new KeyValuePair<string, object?>("kind", "lost"));
            RepairLog.Lost(_log, collection, lost.Count, string.Join(",", lost));
        }
        if (altered.Count > 0)
        {
            _damaged.Add(altered.Count, new KeyValuePair<string, object?>("kind", "altered"));
            RepairLog.Altered(_log, collection, altered.Count, string.Join(",", altered));
        }
        return new ScrubReport(collection, records, lost, altered);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Periodic.RunAsync(_redis, "rs:scrub:lock", _options.ScrubInterval, "scrub", ct => ScrubAllAsync(ct), _log, stoppingToken);
}

/// <summary>A task every interval, run by one instance of a site at a time (a lease in Redis).</summary>
internal static class Periodic
{
    public static async Task RunAsync(IConnectionMultiplexer redis, string lockKey, TimeSpan interval, string name,
        Func<CancellationToken, Task> task, ILogger log, CancellationToken ct)
    {
        var owner = Guid.NewGuid().ToString("N");
        using var timer = new PeriodicTimer(interval);
        while (await timer.WaitForNextTickAsync(ct))
        {
            try
            {
                // The lease outlives a run and expires before the next one: one instance per interval does the work.
                if (!await redis.GetDatabase().StringSetAsync(lockKey, owner, interval * 0.9, When.NotExists)) continue;
                await task(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
            catch (Exception e)
            {
                RepairLog.PeriodicFailed(log, e, name);
            }
        }
    }
}
