using System.Text.Json;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;
using RedisSync.Gateway.Auth;
using RedisSync.Gateway.Contracts;
using StackExchange.Redis;

namespace RedisSync.Gateway.Realtime;

/// <summary>
/// The SignalR hub at <c>/hubs/sync</c> (CONTRACT §4). Clients call Subscribe/Unsubscribe; the server
/// sends <c>change</c> and <c>resync</c>.
/// </summary>
[Authorize]
public sealed class SyncHub(ChangeFeeds feeds) : Hub
{
    public override Task OnConnectedAsync()
    {
        feeds.Connect(Context);
        return Task.CompletedTask;
    }

    public override Task OnDisconnectedAsync(Exception? exception) => feeds.DisconnectAsync(Context.ConnectionId);

    /// <summary>
    /// Subscribes to a collection. With an <c>after</c> seq, every change after it is sent first (as
    /// ordinary <c>change</c> messages), then live ones; without, live changes after the returned <c>last</c>.
    /// </summary>
    /// <remarks>Arguments arrive as raw JSON so that a wrong type is a clear validation error, not a bind failure.</remarks>
    public async Task<SubscribeResult> Subscribe(JsonElement collectionArgument, JsonElement afterArgument)
    {
        var collection = CollectionName(collectionArgument);
        string? after = afterArgument.ValueKind switch
        {
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            JsonValueKind.String when Text(afterArgument) is { } s && Api.RecordsApi.IsSeq(s) => s,
            _ => throw new HubException("validation: after must be a seq this gateway handed out, or null."),
        };
        if (!Context.User!.CanRead(collection))
            throw new HubException($"forbidden: this API key may not read collection '{collection}'.");
        try
        {
            return await feeds.SubscribeAsync(Context.ConnectionId, collection, after, Clients.Caller);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            throw new HubException("unavailable: Redis is unavailable; retry shortly.");
        }
    }

    /// <summary>Stops delivery of a collection's changes to this connection.</summary>
    public Task Unsubscribe(JsonElement collection) => feeds.UnsubscribeAsync(Context.ConnectionId, CollectionName(collection));

    private static string CollectionName(JsonElement argument) =>
        Text(argument) is { } name && Names.Collection().IsMatch(name)
            ? name
            : throw new HubException($"validation: collection must be a string matching {Names.Collection()}.");

    // A JSON string's text, or null for anything else, including a string with an unpaired surrogate escape.
    private static string? Text(JsonElement argument)
    {
        if (argument.ValueKind != JsonValueKind.String) return null;
        try { return argument.GetString(); }
        catch (InvalidOperationException) { return null; }
    }
}
