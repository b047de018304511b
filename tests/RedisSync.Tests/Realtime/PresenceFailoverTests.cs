using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using RedisSync.Gateway.Realtime.Presence;
using RedisSync.Tests.Fixtures;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace RedisSync.Tests.Realtime;

/// <summary>
/// A gateway instance that dies leaves no ghosts: its members leave within <c>Realtime:PresenceTimeout</c>
/// (CONTRACT §7), and one that stops gracefully removes its members at once. Each test owns its Redis and
/// two gateway processes, since it ends one of them.
/// </summary>
public sealed class PresenceFailoverTests(ITestOutputHelper output)
{
    [Fact]
    public async Task MembersOfAKilledInstanceLeaveWithinThePresenceTimeout()
    {
        var timeout = TimeSpan.FromSeconds(3);
        var margin = TimeSpan.FromSeconds(1); // delivery, process scheduling on a shared machine
        await using var redis = await RedisServer.StartAsync();
        var settings = new Dictionary<string, string> { ["Realtime:PresenceTimeout"] = timeout.ToString() };
        await using var doomed = await GatewayProcess.StartAsync(redis, settings);
        await using var survivor = await GatewayProcess.StartAsync(redis, settings);
        var (c1, c2) = (Unique.Collection("fail"), Unique.Collection("fail"));

        await using var watcher = await SyncClient.ConnectAsync(survivor.BaseUrl, TestKeys.Writer);
        await watcher.SubscribeAsync(c1);
        await watcher.SubscribeAsync(c2);
        var ghosts = new List<SyncClient>();
        try
        {
            // Members of two collections on the doomed instance, one with data.
            foreach (var c in new[] { c1, c1, c2 })
            {
                var client = await SyncClient.ConnectAsync(doomed.BaseUrl, TestKeys.Other);
                ghosts.Add(client);
                await client.SubscribeAsync(c);
            }
            await ghosts[0].InvokeAsync("SetPresence", c1, new { name = "Ana" });
            for (var i = 0; i < 4; i++) await watcher.Presence.NextAsync(); // three joins, one update
            Assert.Equal(3, MemberIds(await watcher.InvokeAsync("Presence", c1)).Count);

            var ids = ghosts.Select(g => g.Id).ToList(); // a client forgets its id when its connection dies
            var clock = Stopwatch.StartNew();
            doomed.Kill();
            var left = new Dictionary<string, object?>();
            while (left.Count < ghosts.Count)
            {
                var leave = await watcher.Presence.NextAsync(timeout + margin + margin);
                Assert.Equal("leave", leave.Text("action"));
                left[leave.Text("member", "connectionId")!] = leave;
            }
            var elapsed = clock.Elapsed;
            output.WriteLine($"all {ghosts.Count} leaves arrived {elapsed.TotalMilliseconds:F0} ms after SIGKILL (PresenceTimeout {timeout})");
            Assert.True(elapsed <= timeout + margin, $"the last leave came {elapsed.TotalMilliseconds:F0} ms after the kill; the timeout is {timeout}");
            Assert.Equal(ids.Order(StringComparer.Ordinal), left.Keys.Order(StringComparer.Ordinal));
            Assert.Equal("Ana", left[ids[0]].Text("member", "data", "name"));
            Assert.Equal(c2, left[ids[2]].Text("collection"));

            Assert.Equal([watcher.Id], MemberIds(await watcher.InvokeAsync("Presence", c1)));
            Assert.Equal([watcher.Id], MemberIds(await watcher.InvokeAsync("Presence", c2)));
            // Nothing of the dead instance is left in Redis: its lease, claim and index are gone.
            Assert.Equal("1", (await redis.CliAsync("ZCARD", "rs:{:presence}:leases")).Trim());
            Assert.Equal("0", (await redis.CliAsync("ZCARD", "rs:{:presence}:reaping")).Trim());
            Assert.Equal("1", (await redis.CliAsync("EVAL", "return #redis.call('KEYS', ARGV[1])", "0", "rs:{:presence}:i:*")).Trim());
        }
        finally
        {
            foreach (var ghost in ghosts) await ghost.DisposeAsync();
        }
    }

    [Fact]
    public async Task AGracefullyStoppedInstanceRemovesItsMembersAtOnce()
    {
        // The default timeout (30 s): a leave within a few seconds can only come from the stopping instance.
        await using var redis = await RedisServer.StartAsync();
        await using var stopping = await GatewayProcess.StartAsync(redis);
        await using var staying = await GatewayProcess.StartAsync(redis);
        var c = Unique.Collection("stop");

        await using var watcher = await SyncClient.ConnectAsync(staying.BaseUrl, TestKeys.Writer);
        await watcher.SubscribeAsync(c);
        await using var member = await SyncClient.ConnectAsync(stopping.BaseUrl, TestKeys.Reader);
        await member.SubscribeAsync(c);
        var id = member.Id;
        Assert.Equal("join", (await watcher.Presence.NextAsync()).Text("action"));

        var clock = Stopwatch.StartNew();
        await stopping.StopAsync();
        var leave = await watcher.Presence.NextAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("leave", leave.Text("action"));
        Assert.Equal(id, leave.Text("member", "connectionId"));
        output.WriteLine($"the leave arrived {clock.Elapsed.TotalMilliseconds:F0} ms after SIGTERM");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"{clock.Elapsed}");
        Assert.Equal([watcher.Id], MemberIds(await watcher.InvokeAsync("Presence", c)));
        Assert.Equal("1", (await redis.CliAsync("ZCARD", "rs:{:presence}:leases")).Trim());
    }

    [Fact]
    public async Task AStopThatComesAfterTheReleaseAndTheConnectionAreGoneDoesNothing()
    {
        // Under WebApplicationFactory the host is stopped twice at once: by the factory, and by Program's app.Run(),
        // which disposes the services (the Redis connection too) as soon as its own stop returns. The slower stop
        // used to release presence again, on a disposed connection, and failed the fixture's cleanup.
        await using var redis = await RedisServer.StartAsync();
        await using var gateway = await LiveGateway.StartAsync(LiveGateway.On(redis));
        var c = Unique.Collection("stop");
        await using (var member = await SyncClient.ConnectAsync(gateway.Address, TestKeys.Reader))
        {
            await member.SubscribeAsync(c);
            Assert.Equal([member.Id], MemberIds(await member.InvokeAsync("Presence", c)));
            var tracker = gateway.Services.GetRequiredService<PresenceTracker>();
            await tracker.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal("0", (await redis.CliAsync("ZCARD", "rs:{:presence}:leases")).Trim());
            Assert.Equal("0", (await redis.CliAsync("EVAL", "return #redis.call('KEYS', ARGV[1])", "0", "rs:{*presence*")).Trim());

            await gateway.Services.GetRequiredService<IConnectionMultiplexer>().DisposeAsync();
            await tracker.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public async Task AnInstanceWhoseRedisIsGoneStillStopsAndLeavesItsMembersToTheLease()
    {
        // SIGTERM after the redis-server was SIGKILLed: the release cannot get through; the gateway must still stop,
        // and say that its members are left to the lease (a survivor reaps them once it expires).
        await using var redis = await RedisServer.StartAsync();
        await using var gateway = await GatewayProcess.StartAsync(redis);
        await using var member = await SyncClient.ConnectAsync(gateway.BaseUrl, TestKeys.Reader);
        await member.SubscribeAsync(Unique.Collection("gone"));
        await member.SubscribeAsync(Unique.Collection("gone"));

        redis.Kill();
        await gateway.LineAsync(l => l.Contains("(Interactive) failed", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "its Redis connection's failure");
        var clock = Stopwatch.StartNew();
        // Every Redis call on the way waits out the client's 5 s timeout; the host gives its services 30 s in all.
        await gateway.StopAsync(TimeSpan.FromSeconds(90));
        output.WriteLine($"exited {clock.ElapsedMilliseconds} ms after SIGTERM");
        Assert.Contains("could not remove this instance's members at shutdown", gateway.Output);
    }

    private static List<string> MemberIds(object? list) => [.. ((List<object?>)list.At("members")!).Select(m => m.Text("connectionId")!)];
}
