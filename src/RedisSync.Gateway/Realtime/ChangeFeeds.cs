using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using RedisSync.Gateway.Auth;
using RedisSync.Gateway.Observability;
using RedisSync.Gateway.Store;
using StackExchange.Redis;

namespace RedisSync.Gateway.Realtime;

/// <summary>
/// This instance's SignalR delivery: its connections, and one <see cref="CollectionFeed"/> per collection
/// that has local subscribers (created with the first, stopped with the last). Each instance learns every change
/// from Redis itself (sharded pub/sub, checked against the change log): the backplane, which carries signals and
/// presence, is at most once with no replay (PITFALLS 8), so changes never ride it.
/// </summary>
public sealed class ChangeFeeds(
    RecordStore store,
    IConnectionMultiplexer redis,
    HubConnectionRegistry hubConnections,
    IOptions<RealtimeOptions> options,
    SyncMetrics metrics,
    ILogger<ChangeFeeds> log) : IHostedService
{
    // Joins and leaves are serialized by _feedsLock (starting a feed awaits Redis); every mutation also
    // takes the monitor on _feeds so the poll timer can enumerate it without waiting for a start.
    private readonly Dictionary<string, (CollectionFeed Feed, int Users)> _feeds = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _feedsLock = new(1, 1);
    private readonly Dictionary<string, ClientConnection> _connections = new(StringComparer.Ordinal);
    private Timer? _poll;

    private readonly Dictionary<string, int> _connectionsPerKey = new(StringComparer.Ordinal);

    internal void Connect(HubCallerContext context)
    {
        // With auth off every caller is the same anonymous user: there is no key to count against.
        var key = context.User?.KeyName();
        lock (_connections)
        {
            if (key is not null)
            {
                var count = _connectionsPerKey.GetValueOrDefault(key);
                if (count >= options.Value.MaxConnectionsPerKey)
                    throw new HubException($"rate-limited: at most {options.Value.MaxConnectionsPerKey} concurrent connections per API key.");
                _connectionsPerKey[key] = count + 1;
            }
            _connections[context.ConnectionId] = new ClientConnection(context,
                hubConnections.Find(context.ConnectionId) ?? throw new InvalidOperationException($"connection {context.ConnectionId} is not registered with the hub's lifetime manager"),
                options.Value.OutboundBufferLength, key, metrics, log);
        }
    }

    internal async Task DisconnectAsync(string connectionId)
    {
        ClientConnection? connection;
        lock (_connections)
        {
            if (!_connections.Remove(connectionId, out connection)) return;
            if (connection.Key is { } key && --_connectionsPerKey[key] == 0) _connectionsPerKey.Remove(key);
        }
        connection.Close();
        Subscription[] subs;
        lock (connection.Subscriptions)
        {
            subs = [.. connection.Subscriptions.Values];
            connection.Subscriptions.Clear();
        }
        foreach (var sub in subs) await LeaveAsync(sub);
    }

    internal async Task<SubscribeResult> SubscribeAsync(string connectionId, string collection, string? after, IClientProxy caller)
    {
        ClientConnection connection;
        lock (_connections)
            connection = _connections.GetValueOrDefault(connectionId) ?? throw new HubException("unavailable: the connection is closing.");

        Subscription? previous;
        lock (connection.Subscriptions)
        {
            connection.Subscriptions.Remove(collection, out previous);
            if (connection.Subscriptions.Count >= options.Value.MaxSubscriptionsPerConnection && !connection.IsPeer)
                throw new HubException($"rate-limited: at most {options.Value.MaxSubscriptionsPerConnection} subscriptions per connection; unsubscribe from one first.");
        }
        // Subscribing again (e.g. after a resync) replaces the old subscription.
        if (previous is not null) await LeaveAsync(previous);

        var feed = await JoinFeedAsync(collection);
        var sub = new Subscription(connection, feed);
        lock (connection.Subscriptions) connection.Subscriptions[collection] = sub;
        try
        {
            var result = await feed.SubscribeAsync(sub, after, caller);
            RealtimeLog.Subscribed(log, connectionId, collection, after, result.Replayed, result.Last, result.ResyncRequired);
            return result;
        }
        catch
        {
            lock (connection.Subscriptions) connection.Subscriptions.Remove(collection);
            await LeaveFeedAsync(collection);
            throw;
        }
    }

    internal async Task UnsubscribeAsync(string connectionId, string collection)
    {
        ClientConnection? connection;
        lock (_connections) connection = _connections.GetValueOrDefault(connectionId);
        if (connection is null) return;
        Subscription? sub;
        lock (connection.Subscriptions) connection.Subscriptions.Remove(collection, out sub);
        if (sub is not null) await LeaveAsync(sub);
    }

    private async Task LeaveAsync(Subscription sub)
    {
        await sub.Feed.RemoveAsync(sub);
        await LeaveFeedAsync(sub.Feed.Collection);
    }

    private async Task<CollectionFeed> JoinFeedAsync(string collection)
    {
        await _feedsLock.WaitAsync();
        try
        {
            if (_feeds.TryGetValue(collection, out var entry))
            {
                lock (_feeds) _feeds[collection] = (entry.Feed, entry.Users + 1);
                return entry.Feed;
            }
            var feed = await CollectionFeed.StartAsync(collection, store, redis.GetSubscriber(), options.Value, metrics, log);
            lock (_feeds) _feeds[collection] = (feed, 1);
            return feed;
        }
        finally { _feedsLock.Release(); }
    }

    private async Task LeaveFeedAsync(string collection)
    {
        await _feedsLock.WaitAsync();
        try
        {
            if (!_feeds.TryGetValue(collection, out var entry)) return;
            lock (_feeds)
            {
                if (entry.Users > 1) { _feeds[collection] = (entry.Feed, entry.Users - 1); return; }
                _feeds.Remove(collection);
            }
            await entry.Feed.StopAsync();
        }
        finally { _feedsLock.Release(); }
    }

    private void NudgeAll()
    {
        CollectionFeed[] feeds;
        lock (_feeds) feeds = [.. _feeds.Values.Select(f => f.Feed)];
        foreach (var feed in feeds) feed.Nudge();
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        // Everything published while the subscription was down is gone; the change log has it.
        int count;
        lock (_feeds) count = _feeds.Count;
        RealtimeLog.BackfillAfterReconnect(log, count);
        NudgeAll();
    }

    // On a cluster, a failover or a slot migration moves a collection's sharded subscription to another node, and
    // what was published meanwhile is lost; no ConnectionRestored fires for the new node. So: read the topology again
    // at once (which moves the subscription sooner), and catch up from the change log now and twice more as the
    // subscription settles, so nothing waits for the periodic poll.
    private void OnTopologyChanged(object? sender, EventArgs e)
    {
        if (Interlocked.Exchange(ref _settling, 1) == 1) return;
        _ = Task.Run(async () =>
        {
            try
            {
                if (e is ConnectionFailedEventArgs) await redis.ConfigureAsync();
                foreach (var delay in (int[])[0, 1000, 3000])
                {
                    await Task.Delay(delay);
                    NudgeAll();
                }
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException) { } // the poll carries on
            finally { Volatile.Write(ref _settling, 0); }
        });
    }

    private int _settling;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionRestored += OnConnectionRestored;
        redis.ConnectionFailed += OnTopologyChanged;
        redis.ConfigurationChanged += OnTopologyChanged;
        redis.HashSlotMoved += OnTopologyChanged;
        var every = options.Value.BackfillInterval;
        _poll = new Timer(_ => NudgeAll(), null, every, every);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionRestored -= OnConnectionRestored;
        redis.ConnectionFailed -= OnTopologyChanged;
        redis.ConfigurationChanged -= OnTopologyChanged;
        redis.HashSlotMoved -= OnTopologyChanged;
        if (_poll is not null) await _poll.DisposeAsync();
    }
}
