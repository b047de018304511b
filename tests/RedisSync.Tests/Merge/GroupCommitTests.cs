using System.Globalization;
using Microsoft.Extensions.Options;
using RedisSync.Gateway.Hosting;
using RedisSync.Gateway.Merge;
using RedisSync.Gateway.Store;
using RedisSync.Tests.Fixtures;
using StackExchange.Redis;
using static RedisSync.Tests.Merge.Writes;

namespace RedisSync.Tests.Merge;

/// <summary>
/// The write path's group commit and its compare-and-set, on real redis-servers: concurrent calls to one
/// collection share script runs, a call that fails fails alone, a Redis crash leaves every call whole or absent,
/// and two instances racing on the same records lose nothing.
/// </summary>
public sealed class GroupCommitTests(MergeStoreFixture fixture) : IClassFixture<MergeStoreFixture>
{
    [Fact]
    public async Task ConcurrentCallsShareScriptRunsAndAnInvalidCallAmongThemFailsAlone()
    {
        var c = Unique.Collection("group");
        var store = fixture.Store();
        var before = store.Commits;
        const int calls = 300;
        // Every 10th call would leave its record with 300 fields (the limit is 256): refused, nothing of it written.
        var tasks = Enumerable.Range(0, calls).Select(i => Task.Run(() => store.WriteAsync(c, i % 10 == 5
            ? [Put($"bad{i}", 1, 0, "crm", [.. Enumerable.Range(0, 300).Select(k => ($"f{k}", "1"))])]
            : [Put($"r{i % 20}", i + 1, 0, "crm", ("n", i.ToString(CultureInfo.InvariantCulture))), Put($"s{i}", 1, 0, "crm", ("x", "1"))]))).ToArray();
        var outcomes = await Task.WhenAll(tasks.Select(async t => { try { return (object)await t; } catch (Exception e) { return e; } }));

        var commits = store.Commits - before;
        Assert.True(commits < calls, $"{calls} concurrent calls took {commits} group commits: nothing was grouped");
        for (var i = 0; i < calls; i++)
        {
            if (i % 10 == 5)
            {
                Assert.IsType<RecordTooLargeException>(outcomes[i]);
                Assert.False((await store.GetStoredAsync(c, $"bad{i}")).Exists);
            }
            else
            {
                var results = (IReadOnlyList<RedisSync.Gateway.Contracts.WriteResult>)outcomes[i];
                Assert.Contains(results[0].Outcome, (string[])["applied", "stale"]); // an older version may arrive after a newer one
                Assert.Equal("applied", results[1].Outcome);
            }
        }
        // r0..r19 each took 15 writes in some order: one revision and one change-log entry per applied one, and the
        // highest version's value.
        var log = Events(c, await store.ReadChangesAsync(c, null, 100_000));
        for (var k = 0; k < 20; k++)
        {
            var view = await store.GetAsync(c, $"r{k}", includeClocks: false);
            var mine = Enumerable.Range(0, calls).Where(i => i % 20 == k && i % 10 != 5).ToArray();
            if (mine.Length == 0) { Assert.Null(view); continue; } // r5, r15: only the refused calls named them
            var applied = mine.Count(i => ((IReadOnlyList<RedisSync.Gateway.Contracts.WriteResult>)outcomes[i])[0].Outcome == "applied");
            Assert.Equal(applied, view!.Revision);
            Assert.Equal(applied, log.Count(e => e.Id == $"r{k}"));
            Assert.Equal(mine.Max().ToString(CultureInfo.InvariantCulture), DataOf(view)["n"]);
        }
        Assert.Equal(calls - calls / 10, log.Count(e => e.Id.StartsWith('s')));
    }

    [Fact]
    public async Task TwoInstancesRacingOnTheSameRecordsLoseNothing()
    {
        // Two stores on two connections are two gateway instances: their merges race, the commit counter decides.
        await using var second = await ConnectionMultiplexer.ConnectAsync(fixture.ConnectionString);
        var other = new RecordStore(second, Options.Create(new SyncOptions()));
        var store = fixture.Store();
        var c = Unique.Collection("race");
        const int writes = 400;
        var tasks = Enumerable.Range(0, writes).Select(i => Task.Run(() =>
            (i % 2 == 0 ? store : other).WriteAsync(c, [Patch($"r{i % 4}", i + 1, 0, "crm", ($"f{i % 7}", i.ToString(CultureInfo.InvariantCulture)))]))).ToArray();
        var results = (await Task.WhenAll(tasks)).Select(r => r[0]).ToArray();

        var log = Events(c, await store.ReadChangesAsync(c, null, 100_000));
        for (var k = 0; k < 4; k++)
        {
            var view = (await store.GetAsync(c, $"r{k}", includeClocks: true))!;
            var mine = Enumerable.Range(0, writes).Where(i => i % 4 == k).ToArray();
            // Every field holds the value of the highest version that named it: no write was lost to the race.
            foreach (var f in mine.GroupBy(i => i % 7))
                Assert.Equal(f.Max().ToString(CultureInfo.InvariantCulture), DataOf(view)[$"f{f.Key}"]);
            var applied = mine.Count(i => results[i].Outcome == "applied");
            Assert.Equal(applied, view.Revision);
            Assert.Equal(applied, log.Count(e => e.Id == $"r{k}"));
            Assert.Equal(Enumerable.Range(1, applied).Select(n => (long)n), log.Where(e => e.Id == $"r{k}").Select(e => e.Revision));
        }
    }

    [Fact]
    public async Task ACrashOfRedisDuringGroupCommitsLeavesEveryCallWholeOrAbsent()
    {
        await using var redis = await RedisServer.StartAsync(appendFsyncAlways: true);
        var mux = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var store = new RecordStore(mux, Options.Create(new SyncOptions()));
        var c = Unique.Collection("crash");
        var started = 0;
        var acknowledged = new System.Collections.Concurrent.ConcurrentBag<int>();
        var halfway = new TaskCompletionSource();

        async Task Writer(int w)
        {
            for (var i = 0; i < 2000; i++)
            {
                var call = w * 10_000 + i;
                Interlocked.Increment(ref started);
                try
                {
                    // Each call writes three records: all three or none of them may be stored.
                    await store.WriteAsync(c, [Put($"a{call}", 1, 0, "crm", ("v", "1")), Put($"b{call}", 1, 0, "crm", ("v", "1")), Put($"c{call}", 1, 0, "crm", ("v", "1"))]);
                    acknowledged.Add(call);
                    if (acknowledged.Count == 300) halfway.TrySetResult();
                }
                catch (Exception e) when (e is RedisException or TimeoutException) { return; }
            }
        }
        var writers = Enumerable.Range(0, 16).Select(w => Task.Run(() => Writer(w))).ToArray();
        await halfway.Task.WaitAsync(TimeSpan.FromSeconds(60));
        redis.Kill();
        await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(60));
        mux.Dispose();

        await redis.RestartAsync();
        using var check = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var reader = new RecordStore(check, Options.Create(new SyncOptions()));
        var calls = Enumerable.Range(0, 16).SelectMany(w => Enumerable.Range(0, 2000).Select(i => w * 10_000 + i)).ToArray();
        var present = new Dictionary<int, int>();
        foreach (var chunk in calls.Chunk(500))
        {
            var ids = chunk.SelectMany(n => new[] { $"a{n}", $"b{n}", $"c{n}" }).ToArray();
            var stored = await reader.GetStoredAsync(c, ids);
            for (var k = 0; k < chunk.Length; k++) present[chunk[k]] = stored.Skip(3 * k).Take(3).Count(s => s.Exists);
        }
        Assert.All(present, p => Assert.True(p.Value is 0 or 3, $"call {p.Key} is half written: {p.Value} of 3 records"));
        Assert.All(acknowledged, call => Assert.Equal(3, present[call])); // appendfsync always: every acknowledged call survived
        var log = await reader.ReadChangesAsync(c, null, 1_000_000);
        Assert.Equal(present.Values.Sum(), log.Entries.Count); // one entry per stored record, none without its record
    }

    [Fact]
    public async Task NewRecordsAreCreatedWithoutAReadOnceUnseenRecordsHaveBeenNew()
    {
        // Its own redis-server: the test counts the commands the store sends.
        await using var redis = await RedisServer.StartAsync();
        using var mux = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var store = new RecordStore(mux, Options.Create(new SyncOptions()));
        var c = Unique.Collection("create");
        const int creates = 50;

        var before = await CommandsAsync(redis);
        var results = new List<RedisSync.Gateway.Contracts.WriteResult>();
        for (var i = 0; i < creates; i++) results.AddRange(await store.WriteAsync(c, [Put($"r{i}", 1, 0, "crm", ("n", "1"))]));
        var sent = (await CommandsAsync(redis)).Minus(before);

        Assert.All(results, r => Assert.True(r is { Outcome: "applied", Created: true, Revision: 1 }, $"{r.Id}: {r.Outcome}"));
        Assert.Equal(creates, sent.ScriptRuns);
        // The first unseen record is read (the collection's first); from then on they are taken as new.
        Assert.Equal(1, sent.Reads);
    }

    [Fact]
    public async Task RecordsAnInstanceHasNotSeenAreMergedNotOverwrittenAndItSoonReadsThemFirst()
    {
        await using var redis = await RedisServer.StartAsync();
        using var mux = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        using var otherMux = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var store = new RecordStore(mux, Options.Create(new SyncOptions()));
        var other = new RecordStore(otherMux, Options.Create(new SyncOptions())); // another instance, its own cache
        var c = Unique.Collection("unseen");
        const int existing = 20;

        // This instance learns that unseen records of c are new ones...
        for (var i = 0; i < 10; i++) await store.WriteAsync(c, [Put($"new{i}", 1, 0, "crm", ("n", "1"))]);
        // ...then meets records another instance created.
        for (var i = 0; i < existing + 2; i++) await other.WriteAsync(c, [Put($"e{i}", 5, 0, "crm", ("a", "1"))]);

        // A delete, a stale write and patches of those records, through the instance that takes unseen records for new.
        var before = await CommandsAsync(redis);
        var deleted = (await store.WriteAsync(c, [Delete($"e{existing}", 6, 0, "crm")]))[0];
        var stale = (await store.WriteAsync(c, [Put($"e{existing + 1}", 4, 0, "crm", ("z", "1"))]))[0];
        var patched = new List<RedisSync.Gateway.Contracts.WriteResult>();
        for (var i = 0; i < existing; i++) patched.AddRange(await store.WriteAsync(c, [Patch($"e{i}", 6, 0, "crm", ("b", "2"))]));
        var sent = (await CommandsAsync(redis)).Minus(before);

        // Each was merged with the record the other instance wrote, none taken for a create.
        Assert.True(deleted is { Outcome: "applied", Created: false, Revision: 2 }, $"delete: {deleted.Outcome}, revision {deleted.Revision}");
        Assert.True((await store.GetAsync(c, $"e{existing}", includeClocks: false))!.Deleted);
        Assert.True(stale is { Outcome: "stale", Created: false, Revision: 1 }, $"stale write: {stale.Outcome}, revision {stale.Revision}");
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1" }, DataOf((await store.GetAsync(c, $"e{existing + 1}", includeClocks: false))!));
        Assert.All(patched, r => Assert.True(r is { Outcome: "applied", Created: false, Revision: 2 }, $"{r.Id}: {r.Outcome}, created {r.Created}, revision {r.Revision}"));
        foreach (var r in patched) Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" }, DataOf((await store.GetAsync(c, r.Id, includeClocks: false))!));

        // A wrong guess costs one script run that writes nothing (the delete and the patches need one each that
        // does, the stale write none); after a few, the instance reads unseen records first.
        var wasted = sent.ScriptRuns - (1 + existing);
        Assert.InRange(wasted, 1, 3);
        Assert.InRange(sent.Reads, existing - 3, existing);
    }

    // Script runs (EVALSHA, EVAL) and reads (MGET not from inside commit.lua, which runs one per script run) so far.
    // A call that failed (the first EVALSHA of a script Redis does not hold yet: NOSCRIPT) ran nothing.
    private static async Task<Commands> CommandsAsync(RedisServer redis)
    {
        var stats = await redis.InfoAsync("commandstats");
        long Calls(string command)
        {
            if (!stats.TryGetValue($"cmdstat_{command}", out var line)) return 0;
            var counts = line.Split(',').Select(pair => pair.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]);
            long Count(string name) => counts.TryGetValue(name, out var n) ? long.Parse(n, CultureInfo.InvariantCulture) : 0;
            return Count("calls") - Count("failed_calls") - Count("rejected_calls");
        }
        var scripts = Calls("evalsha") + Calls("eval");
        return new Commands(scripts, Calls("mget") - scripts);
    }

    private readonly record struct Commands(long ScriptRuns, long Reads)
    {
        public Commands Minus(Commands earlier) => new(ScriptRuns - earlier.ScriptRuns, Reads - earlier.Reads);
    }
}
