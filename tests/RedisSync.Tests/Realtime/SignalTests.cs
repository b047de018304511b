using System.Diagnostics;
using RedisSync.Tests.Fixtures;

namespace RedisSync.Tests.Realtime;

/// <summary>Hub <c>Signal</c> across two gateway instances on one Redis (CONTRACT §7).</summary>
[Collection(TwoGatewaysCollection.Name)]
public sealed class SignalTests(TwoGateways gateways)
{
    private const int MaxSignalBytes = 4096; // the default

    [Fact]
    public async Task SignalReachesEveryOtherSubscriberOnBothInstancesButNotTheSender()
    {
        var c = Unique.Collection("sig");
        await using var sender = await SyncClient.ConnectAsync(gateways.A.BaseUrl, TestKeys.Writer);
        await using var onA = await SyncClient.ConnectAsync(gateways.A.BaseUrl, TestKeys.Reader);
        await using var onB = await SyncClient.ConnectAsync(gateways.B.BaseUrl, TestKeys.Other);
        foreach (var client in new[] { sender, onA, onB }) await client.SubscribeAsync(c);

        var result = await sender.InvokeAsync("Signal", c, new { editing = "c-42", cursor = new[] { 3, 14 } });
        Assert.Null(result);

        foreach (var receiver in new[] { onA, onB })
        {
            var signal = await receiver.Signals.NextAsync();
            Assert.Equal(c, signal.Text("collection"));
            Assert.Equal(sender.Id, signal.Text("from", "connectionId"));
            Assert.Equal("writer", signal.Text("from", "key"));
            Assert.Equal("""{"cursor":[3,14],"editing":"c-42"}""", Wire.Canonical(signal.At("payload")));
        }

        // The sender's channel carries the signals in publish order: once a later signal from onB has reached
        // the sender, its own would have arrived before it, had it been sent to it.
        await onB.InvokeAsync("Signal", c, "marker");
        Assert.Equal("marker", (await sender.Signals.NextAsync()).Text("payload"));
        Assert.Equal("marker", (await onA.Signals.NextAsync()).Text("payload"));
    }

    [Fact]
    public async Task FromIsSetByTheServerWhateverThePayloadSays()
    {
        var c = Unique.Collection("sig");
        await using var sender = await SyncClient.ConnectAsync(gateways.B.BaseUrl, TestKeys.Reader);
        await using var receiver = await SyncClient.ConnectAsync(gateways.A.BaseUrl, TestKeys.Writer);
        await receiver.SubscribeAsync(c);

        var forged = new { from = new { connectionId = receiver.Id, key = "writer" }, key = "admin" };
        await sender.InvokeAsync("Signal", c, forged);
        var signal = await receiver.Signals.NextAsync();
        Assert.Equal(sender.Id, signal.Text("from", "connectionId"));
        Assert.Equal("reader", signal.Text("from", "key"));
        Assert.Equal(Wire.Canonical(Wire.Tree(System.Text.Json.JsonSerializer.SerializeToElement(forged))), Wire.Canonical(signal.At("payload")));
    }

    [Fact]
    public async Task AnyJsonValueIsAPayloadAndTheSenderNeedNotBeSubscribed()
    {
        var c = Unique.Collection("sig");
        await using var sender = await SyncClient.ConnectAsync(gateways.A.BaseUrl, TestKeys.Writer);
        await using var second = await SyncClient.ConnectAsync(gateways.A.BaseUrl, TestKeys.Writer);
        await using var receiver = await SyncClient.ConnectAsync(gateways.B.BaseUrl, TestKeys.Writer);
        await receiver.SubscribeAsync(c);

        object?[] payloads = [null, true, 42L, -1.5, "typing", new object?[] { 1, "two", null }, new Dictionary<string, object?>()];
        // Two senders, to stay within each connection's burst.
        for (var i = 0; i < payloads.Length; i++)
            Assert.Null(await (i < TwoGateways.SignalsPerSecond ? sender : second).InvokeAsync("Signal", c, payloads[i]));
        foreach (var payload in payloads)
            Assert.Equal(Wire.Canonical(Wire.Tree(System.Text.Json.JsonSerializer.SerializeToElement(payload))), Wire.Canonical((await receiver.Signals.NextAsync()).At("payload")));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task APayloadOfMaxSignalBytesAsJsonPassesAndOneByteMoreIsTooLarge(bool messagePack)
    {
        var c = Unique.Collection("sig");
        await using var sender = await SyncClient.ConnectAsync(gateways.A.BaseUrl, TestKeys.Writer, messagePack);
        await using var receiver = await SyncClient.ConnectAsync(gateways.B.BaseUrl, TestKeys.Writer);
        await receiver.SubscribeAsync(c);

        // A JSON string is its characters plus two quotes; "é" is two bytes in UTF-8.
        var fits = new string('é', (MaxSignalBytes - 2) / 2);
        Assert.Null(await sender.InvokeAsync("Signal", c, fits));
        Assert.Equal(fits, (await receiver.Signals.NextAsync()).Text("payload"));

        var error = await sender.FailureAsync("Signal", c, fits + "x");
        Assert.StartsWith("payload-too-large:", error);
        Assert.Contains("4097", error);
        var nested = new { list = Enumerable.Range(0, 1000).ToArray() }; // {"list":[0,1,…,999]} is 3,899 bytes
        Assert.Null(await sender.InvokeAsync("Signal", c, nested));
        Assert.Equal(999L, ((List<object?>)(await receiver.Signals.NextAsync()).At("payload", "list")!)[^1]);
    }

    [Fact]
    public async Task PayloadsAndPresenceDataMayNestFiveLevelsLessThanMaxJsonDepthWhicheverProtocolSendsThem()
    {
        const int maxDepth = 64 - 5; // Sync:MaxJsonDepth (default 64) less what the messages around them take
        var c = Unique.Collection("sig");
        await using var messagePack = await SyncClient.ConnectAsync(gateways.A.BaseUrl, TestKeys.Writer, messagePack: true);
        await using var json = await SyncClient.ConnectAsync(gateways.B.BaseUrl, TestKeys.Writer);
        await json.SubscribeAsync(c);
        await messagePack.SubscribeAsync(c);

        Assert.Null(await messagePack.InvokeAsync("Signal", c, Nested(maxDepth)));
        Assert.Equal(maxDepth, Depth((await json.Signals.NextAsync()).At("payload")));
        Assert.Null(await messagePack.InvokeAsync("SetPresence", c, new Dictionary<string, object?> { ["deep"] = Nested(maxDepth - 1) }));
        var update = await json.Presence.NextWhereAsync(p => p.Text("action") == "update");
        Assert.Equal(maxDepth - 1, Depth(update.At("member", "data", "deep")));

        Assert.StartsWith("validation:", await messagePack.FailureAsync("Signal", c, Nested(maxDepth + 1)));
        Assert.StartsWith("validation:", await messagePack.FailureAsync("SetPresence", c, new Dictionary<string, object?> { ["deep"] = Nested(maxDepth) }));
        Assert.StartsWith("validation:", await json.FailureAsync("Signal", c, Nested(maxDepth + 1)));
    }

    private static object Nested(int depth) => depth == 1 ? new List<object?> { "core" } : new List<object?> { Nested(depth - 1) };

    private static int Depth(object? tree)
    {
        var depth = 0;
        for (; tree is List<object?> list; tree = list[0]) depth++;
        Assert.Equal("core", tree);
        return depth;
    }

    [Fact]
    public async Task SignalWithoutReadScopeIsForbiddenAndBadArgumentsAreValidationErrors()
    {
        await using var orders = await SyncClient.ConnectAsync(gateways.A.BaseUrl, TestKeys.OrdersOnly);
        Assert.StartsWith("forbidden:", await orders.FailureAsync("Signal", Unique.Collection("sig"), "hello"));
        Assert.Null(await orders.InvokeAsync("Signal", "orders", "hello"));
        Assert.StartsWith("validation:", await orders.FailureAsync("Signal", "Not A Collection", "hello"));
        Assert.StartsWith("validation:", await orders.FailureAsync("Signal", 42, "hello"));
    }

    [Fact]
    public async Task EachConnectionMaySendABurstOfItsRateThenIsRateLimitedUntilTheBucketRefills()
    {
        var c = Unique.Collection("sig");
        await using var sender = await SyncClient.ConnectAsync(gateways.A.BaseUrl, TestKeys.Writer);
        await using var other = await SyncClient.ConnectAsync(gateways.A.BaseUrl, TestKeys.Writer);

        var clock = Stopwatch.StartNew();
        var accepted = 0;
        string? refusal = null;
        for (var i = 0; i < 3 * TwoGateways.SignalsPerSecond && refusal is null; i++)
        {
            try
            {
                await sender.InvokeAsync("Signal", c, i);
                accepted++;
            }
            catch (Microsoft.AspNetCore.SignalR.HubException e)
            {
                refusal = SyncClient.ServerMessage(e);
            }
        }
        var elapsed = clock.Elapsed;
        Assert.NotNull(refusal);
        Assert.StartsWith("rate-limited:", refusal);
        // The burst is the rate; a token comes back every 1/rate s, and these calls took `elapsed`.
        Assert.InRange(accepted, TwoGateways.SignalsPerSecond, TwoGateways.SignalsPerSecond + (int)Math.Ceiling(elapsed.TotalSeconds * TwoGateways.SignalsPerSecond));

        // The limit is per connection: another connection of the same key still has its burst.
        Assert.Null(await other.InvokeAsync("Signal", c, "other"));

        // A token returns within 1/rate s (polled: no event says when a bucket refills).
        var refilled = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await sender.InvokeAsync("Signal", c, "again");
                break;
            }
            catch (Microsoft.AspNetCore.SignalR.HubException) when (refilled.Elapsed < SyncClient.Wait)
            {
                await Task.Delay(20);
            }
        }
        Assert.True(refilled.Elapsed < TimeSpan.FromSeconds(1.0 / TwoGateways.SignalsPerSecond) + TimeSpan.FromSeconds(1), $"refilled after {refilled.Elapsed}");
    }

    [Fact]
    public async Task RefusedSignalsTakeNoToken()
    {
        var c = Unique.Collection("sig");
        await using var sender = await SyncClient.ConnectAsync(gateways.B.BaseUrl, TestKeys.OrdersOnly);
        var tooLarge = new string('x', MaxSignalBytes);
        // Many more refused calls than the burst, each refused for its own reason before the rate is counted.
        for (var i = 0; i < 3 * TwoGateways.SignalsPerSecond; i++)
        {
            Assert.StartsWith("payload-too-large:", await sender.FailureAsync("Signal", "orders", tooLarge));
            Assert.StartsWith("forbidden:", await sender.FailureAsync("Signal", c, "x"));
        }
        // The whole burst is still there.
        for (var i = 0; i < TwoGateways.SignalsPerSecond; i++) Assert.Null(await sender.InvokeAsync("Signal", "orders", i));
    }

    [Fact]
    public async Task AfterUnsubscribeAConnectionGetsNoMoreSignals()
    {
        var c = Unique.Collection("sig");
        await using var sender = await SyncClient.ConnectAsync(gateways.A.BaseUrl, TestKeys.Writer);
        await using var leaving = await SyncClient.ConnectAsync(gateways.B.BaseUrl, TestKeys.Writer);
        await using var staying = await SyncClient.ConnectAsync(gateways.B.BaseUrl, TestKeys.Writer);
        await leaving.SubscribeAsync(c);
        await staying.SubscribeAsync(c);

        await sender.InvokeAsync("Signal", c, 1);
        Assert.Equal(1L, (await leaving.Signals.NextAsync()).At("payload"));
        await leaving.InvokeAsync("Unsubscribe", c);
        await sender.InvokeAsync("Signal", c, 2);
        Assert.Equal(1L, (await staying.Signals.NextAsync()).At("payload"));
        Assert.Equal(2L, (await staying.Signals.NextAsync()).At("payload"));

        // Subscribing again makes it a receiver again; signal 2 never arrives, 3 does.
        await leaving.SubscribeAsync(c);
        await sender.InvokeAsync("Signal", c, 3);
        Assert.Equal(3L, (await leaving.Signals.NextAsync()).At("payload"));
    }
}
