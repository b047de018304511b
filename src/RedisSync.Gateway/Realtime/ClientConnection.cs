using Microsoft.AspNetCore.SignalR;
using RedisSync.Gateway.Observability;

namespace RedisSync.Gateway.Realtime;

/// <summary>
/// One SignalR connection's outbound side. Feeds only enqueue and never wait on a client, so a slow connection
/// delays nobody; when more than the outbound bound is waiting it is disconnected with a logged reason and resumes
/// from its last seq. An idle connection holds no queue and no task: a send starts on the feed's own thread (most
/// complete at once, the socket having room), and only a send that has to wait for the client gets a queue for what
/// comes meanwhile and a continuation that drains it. Messages arrive serialized (<see cref="SerializedHubMessage"/>,
/// shared by every connection they go to) and are written to the connection as they are.
/// </summary>
internal sealed class ClientConnection
{
    private readonly HubCallerContext _context;
    private readonly HubConnectionContext _connection;
    private readonly int _bound;
    private readonly ILogger _log;
    private readonly SyncMetrics _metrics;
    private readonly Lock _gate = new();
    private Queue<(SerializedHubMessage Message, bool IsChange)>? _waiting; // only while a send is in flight
    private bool _sending;
    private bool _aborted;
    private int _closed;

    public ClientConnection(HubCallerContext context, HubConnectionContext connection, int bound, string? key, SyncMetrics metrics, ILogger log)
    {
        _context = context;
        _connection = connection;
        _bound = bound;
        Key = key;
        _metrics = metrics;
        metrics.ConnectionOpened();
        _log = log;
    }

    public string Id => _context.ConnectionId;

    /// <summary>The API key's name this connection counts against, or null when auth is off.</summary>
    public string? Key { get; }

    /// <summary>A peer site's replicator: it follows every collection, so no subscription cap applies.</summary>
    public bool IsPeer => _context.User?.HasClaim(Auth.CallerClaims.Replicate, "true") == true;

    /// <summary>Subscriptions of this connection by collection. Guarded by the lock on itself.</summary>
    public Dictionary<string, Subscription> Subscriptions { get; } = new(StringComparer.Ordinal);

    /// <summary>Queues a hub message for this connection; <paramref name="isChange"/> counts it as a delivered change.</summary>
    public void Enqueue(SerializedHubMessage message, bool isChange)
    {
        lock (_gate)
        {
            if (_aborted) return;
            if (_sending)
            {
                var waiting = _waiting ??= new Queue<(SerializedHubMessage, bool)>();
                if (waiting.Count >= _bound)
                {
                    _metrics.DroppedSlow();
                    AbortLocked("outbound buffer full: the client reads more slowly than changes arrive");
                    return;
                }
                waiting.Enqueue((message, isChange));
                if (isChange) _metrics.Delivered();
                return;
            }
            _sending = true;
        }
        if (isChange) _metrics.Delivered();
        _ = SendAsync(message);
    }

    // Sends, then whatever queued up meanwhile, in order; returns when nothing is left.
    private async Task SendAsync(SerializedHubMessage message)
    {
        try
        {
            while (true)
            {
                await _connection.WriteAsync(message);
                lock (_gate)
                {
                    if (_aborted || _waiting is not { Count: > 0 } waiting)
                    {
                        _sending = false;
                        _waiting = null; // an idle connection keeps no queue
                        return;
                    }
                    message = waiting.Dequeue().Message;
                }
            }
        }
        catch (Exception e)
        {
            RealtimeLog.SendFailed(_log, e, Id);
            Abort("send failed");
        }
    }

    public void Abort(string reason)
    {
        lock (_gate) AbortLocked(reason);
    }

    private void AbortLocked(string reason)
    {
        if (_aborted) return;
        _aborted = true;
        _waiting = null;
        RealtimeLog.Disconnecting(_log, Id, reason);
        _context.Abort();
    }

    public void Close()
    {
        lock (_gate)
        {
            _aborted = true;
            _waiting = null;
        }
        if (Interlocked.Exchange(ref _closed, 1) == 0) _metrics.ConnectionClosed();
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
        Connection.Enqueue(change.Invocation, isChange: true);
    }
}
