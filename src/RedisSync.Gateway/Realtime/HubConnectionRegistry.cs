using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace RedisSync.Gateway.Realtime;

/// <summary>
/// The hub's lifetime manager: the SignalR Redis backplane, unchanged, plus a lookup of this instance's own
/// connections by id.
/// </summary>
/// <remarks>
/// Why: a change goes to every local subscriber of its collection. Through <see cref="IHubContext{THub}"/> each
/// of those sends builds its own invocation and serializes it again; written to the
/// <see cref="HubConnectionContext"/> directly, one <see cref="SerializedHubMessage"/> is serialized once per
/// protocol and the same bytes go to every connection (what the backplane itself does for a group send). SignalR
/// exposes a connection's context only to its lifetime manager, hence this wrapper. Everything else (groups,
/// signals, presence events, sends to other instances) is the backplane's.
/// </remarks>
public sealed class HubConnectionRegistry(HubLifetimeManager<SyncHub> backplane) : HubLifetimeManager<SyncHub>
{
    private readonly ConcurrentDictionary<string, HubConnectionContext> _local = new(StringComparer.Ordinal);

    /// <summary>This instance's connection with that id, from before its hub's OnConnectedAsync until after its OnDisconnectedAsync.</summary>
    public HubConnectionContext? Find(string connectionId) => _local.GetValueOrDefault(connectionId);

    public override async Task OnConnectedAsync(HubConnectionContext connection)
    {
        _local[connection.ConnectionId] = connection;
        try
        {
            await backplane.OnConnectedAsync(connection);
        }
        catch
        {
            _local.TryRemove(connection.ConnectionId, out _);
            throw;
        }
    }

    public override async Task OnDisconnectedAsync(HubConnectionContext connection)
    {
        try
        {
            await backplane.OnDisconnectedAsync(connection);
        }
        finally
        {
            _local.TryRemove(connection.ConnectionId, out _);
        }
    }

    public override Task SendAllAsync(string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        backplane.SendAllAsync(methodName, args, cancellationToken);

    public override Task SendAllExceptAsync(string methodName, object?[] args, IReadOnlyList<string> excludedConnectionIds, CancellationToken cancellationToken = default) =>
        backplane.SendAllExceptAsync(methodName, args, excludedConnectionIds, cancellationToken);

    public override Task SendConnectionAsync(string connectionId, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        backplane.SendConnectionAsync(connectionId, methodName, args, cancellationToken);

    public override Task SendConnectionsAsync(IReadOnlyList<string> connectionIds, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        backplane.SendConnectionsAsync(connectionIds, methodName, args, cancellationToken);

    public override Task SendGroupAsync(string groupName, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        backplane.SendGroupAsync(groupName, methodName, args, cancellationToken);

    public override Task SendGroupsAsync(IReadOnlyList<string> groupNames, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        backplane.SendGroupsAsync(groupNames, methodName, args, cancellationToken);

    public override Task SendGroupExceptAsync(string groupName, string methodName, object?[] args, IReadOnlyList<string> excludedConnectionIds, CancellationToken cancellationToken = default) =>
        backplane.SendGroupExceptAsync(groupName, methodName, args, excludedConnectionIds, cancellationToken);

    public override Task SendUserAsync(string userId, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        backplane.SendUserAsync(userId, methodName, args, cancellationToken);

    public override Task SendUsersAsync(IReadOnlyList<string> userIds, string methodName, object?[] args, CancellationToken cancellationToken = default) =>
        backplane.SendUsersAsync(userIds, methodName, args, cancellationToken);

    public override Task AddToGroupAsync(string connectionId, string groupName, CancellationToken cancellationToken = default) =>
        backplane.AddToGroupAsync(connectionId, groupName, cancellationToken);

    public override Task RemoveFromGroupAsync(string connectionId, string groupName, CancellationToken cancellationToken = default) =>
        backplane.RemoveFromGroupAsync(connectionId, groupName, cancellationToken);

    public override Task<T> InvokeConnectionAsync<T>(string connectionId, string methodName, object?[] args, CancellationToken cancellationToken) =>
        backplane.InvokeConnectionAsync<T>(connectionId, methodName, args, cancellationToken);

    public override Task SetConnectionResultAsync(string connectionId, CompletionMessage result) =>
        backplane.SetConnectionResultAsync(connectionId, result);

    public override bool TryGetReturnType(string invocationId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Type? type) =>
        backplane.TryGetReturnType(invocationId, out type);
}
