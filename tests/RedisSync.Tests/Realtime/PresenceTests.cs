using System.Globalization;
using System.Text.RegularExpressions;
using RedisSync.Tests.Fixtures;

namespace RedisSync.Tests.Realtime;

/// <summary>Hub presence (SetPresence, Presence, the <c>presence</c> event) across two gateway instances (CONTRACT §7).</summary>
[Collection(TwoGatewaysCollection.Name)]
public sealed partial class PresenceTests(TwoGateways gateways)
{
    [Fact]
    public async Task JoinUpdateAndLeaveReachTheOtherInstance()
    {
        var c = Unique.Collection("pres");
        await using var watcher = await SyncClient.ConnectAsync(gateways.A.BaseUrl, TestKeys.Reader);
        await watcher.SubscribeAsync(c);
        await using var member = await SyncClient.ConnectAsync(gateways.B.BaseUrl, TestKeys.Writer);
        await member.SubscribeAsync(c);

        var join = await watcher.Presence.NextAsync();
        Assert.Equal(c, join.Text("collection"));
        Assert.Equal("join", join.Text("action"));
        Assert.Equal(member.Id, join.Text("member", "connectionId"));
        Assert.Equal("writer", join.Text("member", "key"));
        Assert.Null(join.At("member", "data"));
        AssertSince(join.Text("member", "since"));

        Assert.Null(await member.InvokeAsync("SetPresence", c, new { name = "Ana", editing = new[] { "c-42" } }));
        // The update goes to every member, the member itself included; its own join never did, so the
        // update is the first presence message the member gets (both left instance B on one channel, in order).
        foreach (var client in new[] { watcher, member })
        {
            var update = await client.Presence.NextAsync();
            Assert.Equal("update", update.Text("action"));
            Assert.Equal(member.Id, update.Text("member", "connectionId"));
            Assert.Equal("""{"editing":["c-42"],"name":"Ana"}""", Wire.Canonical(update.At("member", "data")));
            Assert.Equal(join.Text("member", "since"), update.Text("member", "since"));
        }

        await member.InvokeAsync("Unsubscribe", c);
        var leave = await watcher.Presence.NextAsync();
        Assert.Equal("leave", leave.Text("action"));
        Assert.Equal(member.Id, leave.Text("member", "connectionId"));
        Assert.Equal("Ana", leave.Text("member", "data", "name"));
        Assert.StartsWith("validation:", await member.FailureAsync("SetPresence", c, new { name = "gone" }));
    }

    [Fact]
    public async Task ADisconnectedMemberLeaves()
    {
        var c = Unique.Collection("pres");
        await using var watcher = await SyncClient.ConnectAsync(gateways.B.BaseUrl, TestKeys.Writer);
        await watcher.SubscribeAsync(c);
        var member = await SyncClient.ConnectAsync(gateways.A.BaseUrl, TestKeys.Other, messagePack: true);
        await member.SubscribeAsync(c);
        var id = member.Id;
        Assert.Equal("join", (await watcher.Presence.NextAsync()).Text("action"));

        await member.DisposeAsync();
        var leave = await watcher.Presence.NextAsync();
        Assert.Equal("leave", leave.Text("action"));
        Assert.Equal(id, leave.Text("member", "connectionId"));
        Assert.Equal("other", leave.Text("member", "key"));
        Assert.Equal([watcher.Id], MemberIds(await watcher.InvokeAsync("Presence", c)));
    }

    [Fact]
    public async Task PresenceListsEveryMemberOnEveryInstanceBySinceThenConnectionId()
    {
        var c = Unique.Collection("pres");
        var clients = new List<SyncClient>();
        try
        {
            for (var i = 0; i < 6; i++)
            {
                var client = await SyncClient.ConnectAsync(i % 2 == 0 ? gateways.A.BaseUrl : gateways.B.BaseUrl, TestKeys.Writer, messagePack: i % 3 == 0);
                clients.Add(client);
                await client.SubscribeAsync(c);
                if (i == 2) await client.InvokeAsync("SetPresence", c, new { name = "third" });
            }
            await using var outsider = await SyncClient.ConnectAsync(gateways.B.BaseUrl, TestKeys.Reader); // not a member

            foreach (var asker in new[] { clients[0], clients[1], outsider })
            {
                var list = await asker.InvokeAsync("Presence", c);
                Assert.Equal(c, list.Text("collection"));
                var members = (List<object?>)list.At("members")!;
                Assert.Equal(clients.Select(x => x.Id).Order(StringComparer.Ordinal), members.Select(m => m.Text("connectionId")!).Order(StringComparer.Ordinal));
                var order = members.Select(m => (Since: m.Text("since")!, Id: m.Text("connectionId")!)).ToList();
                Assert.Equal(order.OrderBy(m => m.Since, StringComparer.Ordinal).ThenBy(m => m.Id, StringComparer.Ordinal), order);
                foreach (var m in members)
                {
                    AssertSince(m.Text("since"));
                    Assert.Equal("writer", m.Text("key"));
                }
                // Each joined after the one before it returned from Subscribe: never listed before it.
                var joinedAt = members.ToDictionary(m => m.Text("connectionId")!, m => m.Text("since")!);
                for (var i = 1; i < clients.Count; i++)
                    Assert.True(string.CompareOrdinal(joinedAt[clients[i - 1].Id], joinedAt[clients[i].Id]) <= 0);
                Assert.Equal("third", members.Single(m => m.Text("connectionId") == clients[2].Id).Text("data", "name"));
                Assert.All(members.Where(m => m.Text("connectionId") != clients[2].Id), m => Assert.Null(m.At("data")));
            }
        }
        finally
        {
            foreach (var client in clients) await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task SubscribingAgainKeepsTheMembershipAndItsData()
    {
        var c = Unique.Collection("pres");
        await using var watcher = await SyncClient.ConnectAsync(gateways.A.BaseUrl, TestKeys.Writer);
        await watcher.SubscribeAsync(c);
        await using var member = await SyncClient.ConnectAsync(gateways.B.BaseUrl, TestKeys.Writer);
        await member.SubscribeAsync(c);
        await member.InvokeAsync("SetPresence", c, new { name = "Bo" });
        var since = (await member.Presence.NextAsync()).Text("member", "since");

        await member.SubscribeAsync(c, null); // e.g. after a resync
        await member.InvokeAsync("SetPresence", c, new { name = "Bo 2" });

        var events = new List<object?>();
        for (var i = 0; i < 3; i++) events.Add(await watcher.Presence.NextAsync());
        Assert.Equal(["join", "update", "update"], events.Select(e => e.Text("action")));
        Assert.Equal("Bo 2", events[2].Text("member", "data", "name"));
        Assert.Equal(since, events[2].Text("member", "since"));
        Assert.Equal(new[] { watcher.Id, member.Id }.Order(StringComparer.Ordinal), MemberIds(await watcher.InvokeAsync("Presence", c)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task SetPresenceNeedsASubscriptionAndAnObjectOfAtMost1024Bytes()
    {
        var c = Unique.Collection("pres");
        await using var client = await SyncClient.ConnectAsync(gateways.A.BaseUrl, TestKeys.Writer);
        Assert.StartsWith("validation:", await client.FailureAsync("SetPresence", c, new { name = "Ana" }));
        await client.SubscribeAsync(c);

        Assert.StartsWith("validation:", await client.FailureAsync("SetPresence", c, "Ana"));
        Assert.StartsWith("validation:", await client.FailureAsync("SetPresence", c, new[] { 1, 2 }));
        Assert.StartsWith("validation:", await client.FailureAsync("SetPresence", c, null));
        Assert.StartsWith("validation:", await client.FailureAsync("SetPresence", "Bad Name", new { name = "Ana" }));

        // {"name":"…"} is 11 bytes around the name.
        var fits = new { name = new string('n', 1024 - 11) };
        Assert.Null(await client.InvokeAsync("SetPresence", c, fits));
        Assert.Equal(fits.name, (await client.Presence.NextAsync()).Text("member", "data", "name"));
        var error = await client.FailureAsync("SetPresence", c, new { name = new string('n', 1024 - 10) });
        Assert.StartsWith("payload-too-large:", error);
        Assert.Contains("1025", error);
        // The refused data changed nothing.
        var listed = (List<object?>)(await client.InvokeAsync("Presence", c)).At("members")!;
        Assert.Equal(fits.name, listed.Single().Text("data", "name"));
    }

    [Fact]
    public async Task PresenceNeedsReadScope()
    {
        await using var orders = await SyncClient.ConnectAsync(gateways.B.BaseUrl, TestKeys.OrdersOnly);
        Assert.StartsWith("forbidden:", await orders.FailureAsync("Presence", Unique.Collection("pres")));
        Assert.StartsWith("forbidden:", await orders.FailureAsync("Subscribe", Unique.Collection("pres"), null));
        Assert.StartsWith("validation:", await orders.FailureAsync("Presence", 7));
        Assert.Equal("orders", (await orders.InvokeAsync("Presence", "orders")).Text("collection"));
    }

    private static List<string> MemberIds(object? list) => [.. ((List<object?>)list.At("members")!).Select(m => m.Text("connectionId")!)];

    private static void AssertSince(string? since)
    {
        Assert.Matches(IsoMilliseconds(), since);
        var at = DateTime.Parse(since!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
        Assert.InRange(at, DateTime.UtcNow.AddMinutes(-5), DateTime.UtcNow.AddMinutes(1));
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")]
    private static partial Regex IsoMilliseconds();
}
