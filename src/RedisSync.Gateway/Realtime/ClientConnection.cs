using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR;
using RedisSync.Gateway.Observability;

namespace RedisSync.Gateway.Realtime;

/// <summary>
/// One SignalR connection's outbound side: a bounded queue and one pump that sends from it. Feeds only
/// enqueue (never wait on a client), so a slow connection delays nobody; when its queue overflows it is
/// disconnected with a logged reason and resumes from its last seq.
/// </summary>
internal sealed class ClientConnection
{
    private readonly Channel<(string Method, object Payload)> _outbound;
    private readonly HubCallerContext _context;
    private readonly ILogger _log;
    private readonly SyncMetrics _metrics;
    private int _aborted;
    private int _closed;

    public ClientConnection(HubCallerContext context, IHubContext<SyncHub> hub, int bufferLength, string? key, SyncMetrics metrics, ILogger log)
    {
        _context = context;
        Key = key;
        _metrics = metrics;
        metrics.ConnectionOpened();
        _log = log;
        _outbound = Channel.CreateBounded<(string, object)>(new BoundedChannelOptions(bufferLength)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full; nothing is silently dropped
        });
        var client = hub.Clients.Client(context.ConnectionId);
        _ = Task.Run(() => PumpAsync(client));
    }

    public string Id => _context.ConnectionId;

    /// <summary>The API key's name this connection counts against, or null when auth is off.</summary>
    public string? Key { get; }

    /// <summary>A peer site's replicator: it follows every collection, so no subscription cap applies.</summary>
    public bool IsPeer => _context.User?.HasClaim(Auth.CallerClaims.Replicate, "true") == true;

    /// <summary>Subscriptions of this connection by collection. Guarded by the lock on itself.</summary>
    public Dictionary<string, Subscription> Subscriptions { get; } = new(StringComparer.Ordinal);

    public void Enqueue(string method, object payload)
    {
        if (_outbound.Writer.TryWrite((method, payload)))
        {
            if (method == "change") _metrics.Delivered();
            return;
        }
        if (Volatile.Read(ref _aborted) == 0) _metrics.DroppedSlow();
        Abort("outbound buffer full: the client reads more slowly than changes arrive");
    }

    public void Abort(string reason)
    {
        if (Interlocked.Exchange(ref _aborted, 1) == 1) return;
        RealtimeLog.Disconnecting(_log, Id, reason);
        _outbound.Writer.TryComplete();
        _context.Abort();
    }

    public void Close()
    {
        _outbound.Writer.TryComplete();
        if (Interlocked.Exchange(ref _closed, 1) == 0) _metrics.ConnectionClosed();
    }

    private async Task PumpAsync(ISingleClientProxy client)
    {
        try
        {
            await foreach (var (method, payload) in _outbound.Reader.ReadAllAsync())
                await client.SendAsync(method, payload);
        }
        catch (Exception e)
        {
            RealtimeLog.SendFailed(_log, e, Id);
            Abort("send failed");
        }
    }
}

/// <summary>One connection's subscription to one collection. Mutated only under its feed's gate.</summary>
internal sealed class Subscription(ClientConnection connection, CollectionFeed feed)
{
    public ClientConnection Connection { get; } = connection;
    public CollectionFeed Feed { get; } = feed;

    /// <summary>Seq of the last change handed to this connection; only newer ones go out.</summary>
    public string Cursor { get; set; } = "";

    /// <summary>While a replay runs, live changes wait here (in order) instead of going out.</summary>
    public List<ChangeMessage>? Pending { get; set; }

    public void Offer(ChangeMessage change, int maxPending)
    {
        if (Pending is not null)
        {
            Pending.Add(change);
            if (Pending.Count > maxPending)
            {
                Pending = null;
                Connection.Abort("too many live changes arrived while its replay ran");
            }
            return;
        }
        if (Store.Seq.Compare(change.Seq, Cursor) <= 0) return;
        Cursor = change.Seq;
        Connection.Enqueue("change", change);
    }
}
