using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Realtime.RealtimeHelpers;

namespace RedisSync.Tests.Realtime;

/// <summary>
/// The delivery guarantee of CONTRACT §4 under stress: strictly increasing seq, each change exactly once,
/// none missing after `after` — across the replay/live boundary, gateway instances, a Redis restart and a
/// lost Redis subscription. Each test owns its gateways; those that kill Redis or its connections own their redis-server.
/// </summary>
public sealed class DeliveryGuaranteeTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task AChangeWrittenThroughOneInstanceReachesSubscribersOfAnother()
    {
        await using var a = await LiveGateway.StartAsync(new LiveGateway());
        await using var b = await LiveGateway.StartAsync(LiveGateway.Beside(a));
        var c = Unique.Collection();

        await using var onB = await b.ConnectHubAsync();
        await using var onA = await a.ConnectHubAsync();
        await onB.SubscribeAsync(c);
        await onA.SubscribeAsync(c);
        var seq = await PutAsync(a.HttpClient(), c, "r1", new { via = "a" });

        Assert.Equal(seq, (await onB.NextChangesAsync(1, Wait))[0].Seq());
        Assert.Equal(seq, (await onA.NextChangesAsync(1, Wait))[0].Seq());
        var seq2 = await PutAsync(b.HttpClient(), c, "r2", new { via = "b" });
        Assert.Equal(seq2, (await onA.NextChangesAsync(1, Wait))[0].Seq());
    }

    [Fact]
    public async Task SubscribersJoiningDuringConcurrentWritesGetExactlyTheLogAfterTheirPosition()
    {
        await using var gw1 = await LiveGateway.StartAsync(new LiveGateway());
        await using var gw2 = await LiveGateway.StartAsync(LiveGateway.Beside(gw1));
        var gateways = new[] { gw1, gw2 };
        var c = Unique.Collection();
        const int Writers = 10, WritesEach = 1000;

        var written = 0;
        var seqsSoFar = new List<string>();
        var milestones = Enumerable.Range(1, 5).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            var http = gateways[w % 2].HttpClient();
            for (var i = 0; i < WritesEach && !deadline.IsCancellationRequested; i++)
            {
                var seq = await PutAsync(http, c, $"w{w}-r{i % 20}", new { w, i });
                lock (seqsSoFar) seqsSoFar.Add(seq!);
                var n = Interlocked.Increment(ref written);
                if (n % 1500 == 0 && n / 1500 <= milestones.Length) milestones[n / 1500 - 1].TrySetResult();
            }
        })).ToList();

        // Five clients join at different moments, each from a position well behind the writers (so it
        // replays while live changes keep arriving), alternating between the two instances.
        var clients = new List<(HubTestClient Client, string After)>();
        for (var k = 0; k < milestones.Length; k++)
        {
            await milestones[k].Task.WaitAsync(Wait);
            string after;
            lock (seqsSoFar) after = seqsSoFar.Order(SeqComparer.Instance).ElementAt(seqsSoFar.Count / 3);
            var client = await gateways[k % 2].ConnectHubAsync();
            var sub = await client.SubscribeAsync(c, after);
            Assert.False(sub.GetProperty("resyncRequired").GetBoolean());
            clients.Add((client, after));
        }
        await Task.WhenAll(writers).WaitAsync(Wait);
        Assert.Equal(Writers * WritesEach, written);
        var marker = await PutAsync(gateways[0].HttpClient(), c, "marker", new { end = true });

        foreach (var (client, after) in clients)
        {
            var expected = await LogSeqsAsync(gateways[0].HttpClient(), c, after);
            Assert.Equal(marker, expected[^1]);
            var received = (await client.ChangesUntilAsync("marker", Wait)).Select(ch => ch.Seq()).ToList();
            Assert.Equal(expected.Count, received.Count);
            Assert.Equal(expected, received);
            await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task SubscribersEndWithEveryChangeInOrderAcrossARedisRestart()
    {
        await using var gw = await LiveGateway.StartAsync(new RestartableGateway());
        var c = Unique.Collection();
        var http = gw.HttpClient();
        var first = await PutAsync(http, c, "seed", new { x = 0 });
        var clients = new[] { await gw.ConnectHubAsync(), await gw.ConnectHubAsync() };
        await clients[0].SubscribeAsync(c);
        await clients[1].SubscribeAsync(c, first);

        var acknowledged = 0;
        var halfway = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            var client = gw.HttpClient();
            for (var i = 0; i < 150 && !deadline.IsCancellationRequested; i++)
            {
                try
                {
                    var response = await client.PutAsJsonAsync($"/api/v1/collections/{c}/records/w{w}-{i % 10}",
                        new { version = 1_000_000 + w * 1000 + i, data = new { w, i } });
                    if (response.IsSuccessStatusCode && Interlocked.Increment(ref acknowledged) == 200) halfway.TrySetResult();
                    if (response.StatusCode == HttpStatusCode.ServiceUnavailable) await Task.Delay(20);
                }
                catch (HttpRequestException) { }
            }
        })).ToList();

        await halfway.Task.WaitAsync(Wait);
        gw.Redis.Kill();
        await gw.Redis.RestartAsync();
        await Task.WhenAll(writers).WaitAsync(Wait);

        // The gateway recovers by itself; a marker written after the restart must reach both clients.
        string? marker = null;
        using (var recover = new CancellationTokenSource(Wait))
            while (marker is null)
            {
                try { marker = await PutAsync(http, c, "marker", new { end = true }); }
                catch (HttpRequestException) { await Task.Delay(50, recover.Token); }
            }

        var log = await LogSeqsAsync(http, c);
        foreach (var client in clients)
        {
            var received = (await client.ChangesUntilAsync("marker", Wait)).Select(ch => ch.Seq()).ToList();
            Assert.Equal(log.SkipWhile(s => s != first).Skip(1).ToList(), received);
            await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task ALostRedisSubscriptionIsBackfilledFromTheChangeLog()
    {
        // Its own server: CLIENT KILL TYPE pubsub on a shared cluster would cut every other test's subscriptions.
        await using var gw = await LiveGateway.StartAsync(new LiveGateway { OwnRedisServer = true });
        var c = Unique.Collection();
        var http = gw.HttpClient();
        await using var client = await gw.ConnectHubAsync();
        await client.SubscribeAsync(c);
        var before = await PutAsync(http, c, "before", new { x = 1 });
        Assert.Equal(before, (await client.NextChangesAsync(1, Wait))[0].Seq());

        // Kill the gateway's pub/sub connection inside Redis; writes made now are published to nobody.
        var killed = await gw.Redis.CliAsync("CLIENT", "KILL", "TYPE", "pubsub");
        Assert.NotEqual("0", killed.Trim());
        var expected = new List<string>();
        for (var i = 0; i < 20; i++) expected.Add((await PutAsync(http, c, $"gap{i}", new { i }))!);
        expected.Add((await PutAsync(http, c, "marker", new { end = true }))!);

        var received = (await client.ChangesUntilAsync("marker", Wait)).Select(ch => ch.Seq()).ToList();
        Assert.Equal(expected, received);
    }

    [Fact]
    public async Task AfterOlderThanTheRetainedLogReturnsResyncRequired()
    {
        var factory = new LiveGateway();
        factory.Settings["Sync:ChangeLogMaxLength"] = "10";
        await using var gateway = await LiveGateway.StartAsync(factory);
        var c = Unique.Collection();
        var http = factory.HttpClient();
        var first = await PutAsync(http, c, "r0", new { i = 0 });
        // XADD MAXLEN ~ trims whole stream nodes (100 entries each by default): write well past that.
        var batch = new { records = Enumerable.Range(1, 400).Select(i => new { id = $"r{i}", op = "put", version = i, data = new { i } }).ToArray() };
        (await http.PostAsJsonAsync($"/api/v1/collections/{c}/records", batch)).EnsureSuccessStatusCode();
        Assert.NotEqual(first, (await LogSeqsAsync(http, c))[0]);

        await using var client = await factory.ConnectHubAsync();
        var sub = await client.SubscribeAsync(c, first);
        Assert.True(sub.GetProperty("resyncRequired").GetBoolean());
        Assert.Equal(0, sub.GetProperty("replayed").GetInt32());
        var live = await PutAsync(http, c, "after-resync", new { x = 1 });
        Assert.Equal(live, (await client.NextChangesAsync(1, Wait))[0].Seq());
    }

    [Fact]
    public async Task ASlowClientIsDisconnectedWithoutDelayingOthers()
    {
        var factory = new LiveGateway();
        factory.Settings["Realtime:OutboundBufferLength"] = "16";
        await using var gateway = await LiveGateway.StartAsync(factory);
        var c = Unique.Collection();
        var http = factory.HttpClient();
        await using var slow = await factory.ConnectHubAsync();
        await using var fast = await factory.ConnectHubAsync();
        await slow.SubscribeAsync(c);
        await fast.SubscribeAsync(c);
        slow.PauseReceiving();

        // 150 changes of 200 KB (30 MB) are far more than the socket buffers and the 16-message queue hold.
        var payload = new string('x', 200_000);
        const int Writes = 150;
        for (var i = 0; i < Writes; i++)
        {
            var seq = await PutAsync(http, c, $"r{i % 5}", new { i, payload });
            Assert.Equal(seq, (await fast.NextChangesAsync(1, Wait))[0].Seq()); // the fast client is never held up
        }

        // Reading again, the slow client finds what was buffered before it was cut off, then the end.
        slow.ResumeReceiving();
        await slow.Closed.Task.WaitAsync(Wait);
        var drained = 0;
        while (slow.Changes.Reader.TryRead(out _)) drained++;
        Assert.InRange(drained, 0, Writes - 1);
    }

    private sealed class RestartableGateway : LiveGateway
    {
        public RestartableGateway() => OwnRedisServer = true; // killed and restarted

        protected override Task<RedisServer> StartRedisAsync() => RedisServer.StartAsync(appendFsyncAlways: true);
    }
}

/// <summary>Orders seqs ('ms-n') numerically, as the change log does.</summary>
internal sealed class SeqComparer : IComparer<string>
{
    public static readonly SeqComparer Instance = new();
    public int Compare(string? x, string? y) => RedisSync.Gateway.Store.Seq.Compare(x ?? "", y ?? "");
}
