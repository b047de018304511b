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
    /// Subscribes to a collection. With <paramref name="after"/>, every change after it is sent first (as
    /// ordinary <c>change</c> messages), then live ones; without, live changes after the returned <c>last</c>.
    /// </summary>
    public async Task<SubscribeResult> Subscribe(string collection, string? after)
    {
        if (collection is null || !Names.Collection().IsMatch(collection))
            throw new HubException($"validation: collection must match {Names.Collection()}.");
        if (after is not null && !Api.RecordsApi.IsSeq(after))
            throw new HubException("validation: after must be a seq this gateway handed out, or null.");
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
    public Task Unsubscribe(string collection) => feeds.UnsubscribeAsync(Context.ConnectionId, collection ?? "");
}
