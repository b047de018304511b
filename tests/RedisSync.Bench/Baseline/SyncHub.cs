using Microsoft.AspNetCore.SignalR;

namespace RedisSync.Bench.Baseline;

/// <summary>Result of <c>Subscribe</c>: live changes only, there is nothing to replay.</summary>
public sealed record SubscribeResult(string Collection, int Replayed);

/// <summary>
/// The hub at <c>/hubs/sync</c>: a subscriber joins the collection's group, and the backplane carries each group
/// send to every instance. <c>after</c> is accepted for the gateway's signature and ignored: there is no change log.
/// </summary>
public sealed class SyncHub : Hub
{
    public async Task<SubscribeResult> Subscribe(string collection, string? after)
    {
        await Groups.AddToGroupAsync(Context.ConnectionId, collection);
        return new SubscribeResult(collection, 0);
    }

    public Task Unsubscribe(string collection) => Groups.RemoveFromGroupAsync(Context.ConnectionId, collection);
}
