using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RedisSync.Tests.Api;
using Xunit.Abstractions;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.Durability;

/// <summary>A gateway over a redis-server that fsyncs its append-only file before acknowledging any write.</summary>
public sealed class FsyncAlwaysGateway : GatewayFactory
{
    public FsyncAlwaysGateway() => OwnRedisServer = true; // killed and restarted, with appendfsync always

    protected override Task<RedisServer> StartRedisAsync() => RedisServer.StartAsync(appendFsyncAlways: true);
}

/// <summary>
/// CONTRACT §2 and §5: a write and its change-log entry are one atomic step, whatever fails. Concurrent writers,
/// redis-server SIGKILLed mid-burst, restarted from its append-only file; then every acknowledged write must be
/// there, and every record must agree exactly with its change-log entries.
/// </summary>
public sealed class CrashDurabilityTests(FsyncAlwaysGateway gateway, ITestOutputHelper output) : IClassFixture<FsyncAlwaysGateway>
{
    private const int Workers = 8;
    private const int WritesPerWorker = 300;
    private const int RecordCount = 50;
    private const int KillAfterSuccesses = 500;
    private static readonly TimeSpan BurstDeadline = TimeSpan.FromSeconds(30);

    private sealed record Ack(string Id, string Outcome, long Revision, string? Seq);

    [Fact]
    public async Task AfterASigkillEveryAcknowledgedWriteIsKeptAndEveryRecordMatchesItsChangeLog()
    {
        var c = Unique.Collection("durable");
        var ids = Enumerable.Range(0, RecordCount).Select(i => $"r{i:D2}").ToArray();
        var acks = new ConcurrentBag<Ack>();
        var unexpected = new ConcurrentBag<string>();
        var successes = 0;
        var failuresAfterKill = 0;
        var killed = 0;
        long clock = 0; // one version counter for all workers: no two writes share a clock, so none conflicts
        var killPoint = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var deadline = DateTime.UtcNow + BurstDeadline;

        async Task WorkerAsync(int worker)
        {
            var client = gateway.ClientWithKey(worker % 2 == 0 ? TestKeys.Writer : TestKeys.Other);
            var random = new Random(worker);
            for (var i = 0; i < WritesPerWorker && DateTime.UtcNow < deadline; i++)
            {
                var id = ids[random.Next(RecordCount)];
                var version = Interlocked.Increment(ref clock);
                var roll = random.Next(10);
                HttpResponseMessage response;
                try
                {
                    response = roll switch
                    {
                        < 5 => await client.PutAsJsonAsync(Record(c, id), new { version, data = new { worker, i, v = version } }),
                        < 8 => await client.PatchAsJsonAsync(Record(c, id), new { version, data = new Dictionary<string, long> { [$"f{random.Next(4)}"] = version } }),
                        _ => await client.DeleteAsync($"{Record(c, id)}?version={version}"),
                    };
                }
                catch (HttpRequestException e)
                {
                    if (Volatile.Read(ref killed) == 0) unexpected.Add($"before the kill: {e.Message}");
                    else { Interlocked.Increment(ref failuresAfterKill); return; }
                    continue;
                }

                if (response.IsSuccessStatusCode)
                {
                    var body = await response.Content.ReadFromJsonAsync<JsonElement>();
                    acks.Add(new Ack(body.GetProperty("id").GetString()!, body.GetProperty("outcome").GetString()!,
                        body.GetProperty("revision").GetInt64(), body.GetProperty("seq").GetString()));
                    if (Interlocked.Increment(ref successes) >= KillAfterSuccesses) killPoint.TrySetResult();
                }
                else if (Volatile.Read(ref killed) == 0 || response.StatusCode != HttpStatusCode.ServiceUnavailable)
                {
                    unexpected.Add($"{(int)response.StatusCode} (killed: {Volatile.Read(ref killed)}): {await response.Content.ReadAsStringAsync()}");
                }
                else
                {
                    Interlocked.Increment(ref failuresAfterKill);
                    return; // Redis is gone: this worker has seen the outage
                }
            }
        }

        var workers = Enumerable.Range(0, Workers).Select(w => Task.Run(() => WorkerAsync(w))).ToArray();
        var all = Task.WhenAll(workers);
        await Task.WhenAny(killPoint.Task, all).WaitAsync(BurstDeadline + TimeSpan.FromSeconds(5));
        Assert.True(killPoint.Task.IsCompleted, $"only {successes} writes succeeded before the burst ended; unexpected: {string.Join(" | ", unexpected.Take(3))}");

        Volatile.Write(ref killed, 1);
        gateway.Redis.Kill();
        await all.WaitAsync(TimeSpan.FromSeconds(60));

        output.WriteLine($"acknowledged {successes} writes ({acks.Count(a => a.Outcome == "applied")} applied); {failuresAfterKill} workers saw the outage");
        Assert.Empty(unexpected);
        Assert.True(failuresAfterKill > 0, "no request saw the outage: the kill did not happen mid-burst");

        await gateway.Redis.RestartAsync();
        var client = gateway.ClientWithKey();
        await EventuallyAsync(async () =>
            (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK
            && (await client.GetAsync(Changes(c) + "?limit=1")).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(30), "the gateway answers again after Redis restarted");

        var entries = await AssertRecordsMatchTheirChangeLogAsync(client, c, ids, acks.ToArray());
        output.WriteLine($"after the restart: {entries} change-log entries, all matching their records");
    }

    private static async Task<int> AssertRecordsMatchTheirChangeLogAsync(HttpClient client, string c, string[] ids, Ack[] acks)
    {
        var log = await client.AllChangesAsync(c);
        Assert.NotEmpty(log);
        for (var i = 1; i < log.Count; i++)
            Assert.True(CompareSeq(log[i - 1].GetProperty("seq").GetString()!, log[i].GetProperty("seq").GetString()!) < 0, $"log out of order at {i}");
        var bySeq = log.ToDictionary(e => e.GetProperty("seq").GetString()!);
        var byId = log.GroupBy(e => e.GetProperty("id").GetString()!).ToDictionary(g => g.Key, g => g.ToList());

        // No entry without its record.
        Assert.Empty(byId.Keys.Except(ids));

        var live = new List<string>();
        foreach (var id in ids)
        {
            var response = await client.GetAsync(Record(c, id));
            var entries = byId.GetValueOrDefault(id) ?? [];
            long revision;
            string? seq;
            bool deleted;
            JsonElement? data = null;
            if (response.StatusCode == HttpStatusCode.OK)
            {
                var view = await response.JsonAsync(HttpStatusCode.OK);
                (revision, seq, deleted, data) = (view.GetProperty("revision").GetInt64(), view.GetProperty("seq").GetString(), false, view.GetProperty("data"));
                live.Add(id);
            }
            else
            {
                var problem = await response.ProblemAsync(HttpStatusCode.NotFound, "not-found");
                if (!problem.TryGetProperty("deleted", out _))
                {
                    Assert.True(entries.Count == 0, $"{id} has {entries.Count} change-log entries but no record");
                    Assert.DoesNotContain(acks, a => a.Id == id);
                    continue;
                }
                (revision, seq, deleted) = (problem.GetProperty("revision").GetInt64(), problem.GetProperty("seq").GetString(), true);
            }

            // The record's revision counts exactly its change-log entries, and they run 1..n in seq order.
            Assert.True(entries.Count == revision, $"{id}: revision {revision} but {entries.Count} change-log entries");
            Assert.Equal(Enumerable.Range(1, entries.Count).Select(n => (long)n), entries.Select(e => e.GetProperty("revision").GetInt64()));
            var last = entries[^1];
            Assert.Equal(seq, last.GetProperty("seq").GetString());
            Assert.Equal(deleted ? "delete" : "upsert", last.GetProperty("kind").GetString());
            if (data is { } d) Assert.Equal(d.GetRawText(), last.GetProperty("record").GetProperty("data").GetRawText());

            // Every acknowledged write is reflected: the record is at least as new as any answer given for it,
            // and every applied write's change is in the log under its seq, id and revision.
            foreach (var ack in acks.Where(a => a.Id == id))
            {
                Assert.True(revision >= ack.Revision, $"{id}: revision {revision} is older than an acknowledged revision {ack.Revision}");
                if (ack.Outcome != "applied") continue;
                JsonElement entry = default;
                Assert.True(ack.Seq is not null && bySeq.TryGetValue(ack.Seq, out entry), $"{id}: acknowledged change {ack.Seq} is missing from the log");
                Assert.Equal(id, entry.GetProperty("id").GetString());
                Assert.Equal(ack.Revision, entry.GetProperty("revision").GetInt64());
            }
        }

        // The live index and the collection's last seq agree with the records and the log.
        var listed = new List<string>();
        string? cursor = null;
        for (var page = 0; page < 100; page++)
        {
            var body = await (await client.GetAsync($"{Records(c)}?limit=20" + (cursor is null ? "" : $"&cursor={cursor}"))).JsonAsync(HttpStatusCode.OK);
            listed.AddRange(body.GetProperty("items").EnumerateArray().Select(r => r.GetProperty("id").GetString()!));
            if (body.GetProperty("nextCursor").ValueKind == JsonValueKind.Null) break;
            cursor = body.GetProperty("nextCursor").GetString();
        }
        Assert.Equal(live.Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
        var info = (await (await client.GetAsync(Collections)).JsonAsync(HttpStatusCode.OK)).EnumerateArray().Single(x => x.GetProperty("name").GetString() == c);
        // lastSeq is the log's last position, which may be a state-only entry (clocks moved, no change) that /changes
        // steps over: reading on from the last change shows nothing more and ends exactly there.
        var rest = await (await client.GetAsync($"{Changes(c)}?after={log[^1].GetProperty("seq").GetString()}&limit=1000")).JsonAsync(HttpStatusCode.OK);
        Assert.Empty(rest.GetProperty("items").EnumerateArray());
        Assert.False(rest.GetProperty("hasMore").GetBoolean());
        Assert.Equal(rest.GetProperty("next").GetString(), info.GetProperty("lastSeq").GetString());
        Assert.Equal(live.Count, info.GetProperty("records").GetInt64());
        return log.Count;
    }
}
