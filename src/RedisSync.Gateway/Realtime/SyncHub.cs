using System.Text.Json;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using RedisSync.Gateway.Auth;
using RedisSync.Gateway.Contracts;
using RedisSync.Gateway.Hosting;
using RedisSync.Gateway.Realtime.Payloads;
using RedisSync.Gateway.Realtime.Presence;
using StackExchange.Redis;

namespace RedisSync.Gateway.Realtime;

/// <summary>
/// The SignalR hub at <c>/hubs/sync</c>. Changes (CONTRACT §4): clients call Subscribe/Unsubscribe; the
/// server sends <c>change</c> and <c>resync</c>. Signals and presence (§7): Signal, SetPresence, Presence;
/// the server sends <c>signal</c> and <c>presence</c>.
/// </summary>
/// <remarks>
/// Arguments are typed <c>object</c>: the JSON protocol hands over a JsonElement and MessagePack its
/// primitive objects, so that a wrong type is a clear <c>validation:</c> error in both, not a bind failure.
/// </remarks>
[Authorize]
public sealed class SyncHub(
    ChangeFeeds feeds,
    PresenceTracker presence,
    IOptions<RealtimeOptions> realtime,
    IOptions<SyncOptions> sync,
    IOptions<AuthOptions> auth) : Hub
{
    public override Task OnConnectedAsync()
    {
        feeds.Connect(Context);
        // With auth off every caller is the same anonymous user, who has no key name to show.
        presence.Connect(Context.ConnectionId, auth.Value.Enabled ? Context.User?.Identity?.Name : null);
        return Task.CompletedTask;
    }

    public override async Task OnDisconnectedAsync(Exception? exception)
    {
        await feeds.DisconnectAsync(Context.ConnectionId);
        await presence.DisconnectAsync(Context.ConnectionId);
    }

    /// <summary>
    /// Subscribes to a collection. With an <c>after</c> seq, every change after it is sent first (as
    /// ordinary <c>change</c> messages), then live ones; without, live changes after the returned <c>last</c>.
    /// The connection becomes a member of the collection (presence) until it unsubscribes or disconnects.
    /// </summary>
    public async Task<SubscribeResult> Subscribe(object? collectionArgument, object? afterArgument)
    {
        var collection = CollectionName(collectionArgument);
        string? after = afterArgument switch
        {
            null => null,
            JsonElement { ValueKind: JsonValueKind.Null or JsonValueKind.Undefined } => null,
            _ when Text(afterArgument) is { } s && Api.RecordsApi.IsSeq(s) => s,
            _ => throw new HubException("validation: after must be a seq this gateway handed out, or null."),
        };
        RequireRead(collection);
        try
        {
            var result = await feeds.SubscribeAsync(Context.ConnectionId, collection, after, Clients.Caller);
            try
            {
                await presence.JoinAsync(Context.ConnectionId, collection);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                await feeds.UnsubscribeAsync(Context.ConnectionId, collection);
                throw;
            }
            return result;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            throw new HubException("unavailable: Redis is unavailable; retry shortly.");
        }
    }

    /// <summary>Stops delivery of a collection's changes to this connection, and ends its membership.</summary>
    public async Task Unsubscribe(object? collectionArgument)
    {
        var collection = CollectionName(collectionArgument);
        await feeds.UnsubscribeAsync(Context.ConnectionId, collection);
        await presence.LeaveAsync(Context.ConnectionId, collection);
    }

    /// <summary>
    /// Sends <paramref name="payload"/> (any JSON value) to every other subscriber of the collection on every
    /// instance, at most once. The sender needs read scope, not a subscription. Returns null.
    /// </summary>
    public async Task<object?> Signal(object? collectionArgument, object? payload)
    {
        var collection = CollectionName(collectionArgument);
        RequireRead(collection);
        var tree = Payload(payload, "payload");
        var bytes = JsonTree.ToUtf8(tree).Length;
        if (bytes > realtime.Value.MaxSignalBytes)
            throw new HubException($"payload-too-large: the payload is {bytes} bytes as JSON; at most {realtime.Value.MaxSignalBytes} are allowed.");
        // Only a call that passed every other check takes a token.
        var (key, allowed) = presence.TakeSignal(Context.ConnectionId);
        if (!allowed)
            throw new HubException($"rate-limited: at most {realtime.Value.SignalsPerSecond} signals per second per connection.");
        var message = new SignalMessage(collection, new SignalSender(Context.ConnectionId, key), tree);
        try
        {
            await Clients.GroupExcept(PresenceTracker.GroupOf(collection), Context.ConnectionId).SendAsync("signal", message);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            throw new HubException("unavailable: Redis is unavailable; retry shortly.");
        }
        return null;
    }

    /// <summary>Sets what this member says about itself in the collection (a JSON object); every member gets an <c>update</c>. Returns null.</summary>
    public async Task<object?> SetPresence(object? collectionArgument, object? data)
    {
        var collection = CollectionName(collectionArgument);
        if (Payload(data, "data") is not Dictionary<string, object?> fields)
            throw new HubException("validation: data must be a JSON object, e.g. { \"name\": \"Ana\" }.");
        var bytes = JsonTree.ToUtf8(fields).Length;
        if (bytes > PresenceTracker.MaxDataBytes)
            throw new HubException($"payload-too-large: data is {bytes} bytes as JSON; at most {PresenceTracker.MaxDataBytes} are allowed.");
        try
        {
            await presence.UpdateAsync(Context.ConnectionId, collection, fields);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            throw new HubException("unavailable: Redis is unavailable; retry shortly.");
        }
        return null;
    }

    /// <summary>Every member of the collection across all instances, ordered by <c>since</c>, then <c>connectionId</c>.</summary>
    public async Task<PresenceList> Presence(object? collectionArgument)
    {
        var collection = CollectionName(collectionArgument);
        RequireRead(collection);
        try
        {
            return await presence.ListAsync(collection);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            throw new HubException("unavailable: Redis is unavailable; retry shortly.");
        }
    }

    private void RequireRead(string collection)
    {
        if (!Context.User!.CanRead(collection))
            throw new HubException($"forbidden: this API key may not read collection '{collection}'.");
    }

    // The JSON protocol writes hub messages with Sync:MaxJsonDepth as its limit, counted from the message
    // envelope ({"arguments":[{"member":{"data":…}}]}): measured, a presence data object may nest 5 levels
    // less and a signal payload 4. One limit for both, so that whatever is accepted can be sent to everyone.
    private int MaxPayloadDepth => sync.Value.MaxJsonDepth - 5;

    private object? Payload(object? argument, string name)
    {
        try
        {
            return JsonTree.FromArgument(argument, MaxPayloadDepth);
        }
        catch (InvalidPayloadException e)
        {
            throw new HubException($"validation: {name} is not a JSON value the gateway can pass on: {e.Message}.");
        }
    }

    private static string CollectionName(object? argument) =>
        Text(argument) is { } name && Names.Collection().IsMatch(name)
            ? name
            : throw new HubException($"validation: collection must be a string matching {Names.Collection()}.");

    // A string argument's text, or null for anything else, including a JSON string with an unpaired surrogate escape.
    private static string? Text(object? argument)
    {
        switch (argument)
        {
            case string s:
                return s;
            case JsonElement { ValueKind: JsonValueKind.String } element:
                try { return element.GetString(); }
                catch (InvalidOperationException) { return null; }
            default:
                return null;
        }
    }
}
