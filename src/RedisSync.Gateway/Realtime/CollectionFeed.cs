using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using RedisSync.Gateway.Observability;
using RedisSync.Gateway.Store;
using StackExchange.Redis;

namespace RedisSync.Gateway.Realtime;

/// <summary>
/// This instance's view of one collection's changes: one Redis subscription, fanned out to the local
/// subscribers in strict seq order, exactly once.
/// <para>
/// Pub/sub is at most once (PITFALLS 3), so the feed never trusts it alone: every published change carries
/// the seq of the change before it, and when that is not the last seq this feed delivered, the feed first
/// reads the missing changes from the change log. Redis reconnects and a periodic poll do the same, which
/// also covers a change whose message was lost with nothing after it.
/// </para>
/// </summary>
internal sealed class CollectionFeed
{
    private readonly RecordStore _store;
    private readonly RealtimeOptions _options;
    private readonly ILogger _log;
    private readonly SyncMetrics _metrics;
    // Bounded: if it ever overflows, the dropped messages show up as a gap and are read from the log.
    private readonly Channel<byte[]?> _inbox = Channel.CreateBounded<byte[]?>(
        new BoundedChannelOptions(10_000) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly List<Subscription> _subscriptions = [];
    private ChannelMessageQueue? _messages;
    private string _last = "";
    private Task _loop = Task.CompletedTask;

    private CollectionFeed(string collection, RecordStore store, RealtimeOptions options, SyncMetrics metrics, ILogger log)
    {
        _metrics = metrics;
        Collection = collection;
        _store = store;
        _options = options;
        _log = log;
    }

    public string Collection { get; }

    /// <summary>Subscribes to Redis first and reads the position second, so nothing falls between the two.</summary>
    public static async Task<CollectionFeed> StartAsync(string collection, RecordStore store, ISubscriber redis, RealtimeOptions options, SyncMetrics metrics, ILogger log)
    {
        var feed = new CollectionFeed(collection, store, options, metrics, log);
        // A queue, not a handler: StackExchange.Redis runs each call of a handler as a thread-pool work item of its
        // own, so two commits published back to back could reach the inbox in either order, and each inversion
        // looked like a lost message (a read of the change log before the delivery). The queue keeps Redis's order,
        // and holds what arrives before the loop below takes it over.
        var messages = await redis.SubscribeAsync(RedisKeys.Changes(collection));
        try
        {
            feed._last = await store.LastSeqAsync(collection) ?? "";
        }
        catch
        {
            await messages.UnsubscribeAsync();
            throw;
        }
        feed._messages = messages;
        messages.OnMessage(message => feed._inbox.Writer.TryWrite((byte[])message.Message!));
        feed._loop = Task.Run(feed.RunAsync);
        RealtimeLog.FeedStarted(log, collection, feed._last);
        return feed;
    }

    /// <summary>Asks the feed to look in the change log for anything it has not delivered.</summary>
    public void Nudge() => _inbox.Writer.TryWrite(null);

    public async Task StopAsync()
    {
        if (_messages is not null) await _messages.UnsubscribeAsync();
        _inbox.Writer.TryComplete();
        await _loop;
        RealtimeLog.FeedStopped(_log, Collection);
    }

    /// <summary>
    /// Adds a subscriber. With <paramref name="after"/>, the changes after it are replayed to
    /// <paramref name="caller"/> first; live changes that arrive meanwhile wait in the subscription and go
    /// out after the replay, minus what the replay already sent (PITFALLS 5).
    /// </summary>
    public async Task<SubscribeResult> SubscribeAsync(Subscription sub, string? after, IClientProxy caller)
    {
        // "0-0" (the asOf of an empty collection) is the position before the first change, as "" is here.
        if (after == "0-0") after = "";
        string joinedAt;
        await _gate.WaitAsync();
        try
        {
            joinedAt = _last;
            if (after is null)
            {
                sub.Cursor = joinedAt;
                _subscriptions.Add(sub);
                _metrics.SubscriptionOpened();
                return new SubscribeResult(Collection, NullIfEmpty(joinedAt), 0, false);
            }
            sub.Pending = [];
            _subscriptions.Add(sub);
            _metrics.SubscriptionOpened();
        }
        finally { _gate.Release(); }

        var cursor = after;
        var replayed = 0;
        var resync = false;
        try
        {
            if (Seq.Compare(after, joinedAt) < 0)
            {
                // Replay (after, joinedAt] straight to the caller, so it arrives before Subscribe's result.
                var policy = _store.PolicyOf(Collection);
                while (true)
                {
                    var read = await _store.ReadChangesAsync(Collection, cursor, _options.ReplayPageSize);
                    if (read.ResyncRequired) { resync = true; break; }
                    var done = read.Entries.Count < _options.ReplayPageSize;
                    foreach (var entry in read.Entries)
                    {
                        if (Seq.Compare(entry.Seq, joinedAt) > 0) { done = true; break; }
                        cursor = entry.Seq;
                        if (entry.Kind == EntryKind.State) continue; // for peers, not subscribers
                        await caller.SendAsync("change", ChangeMessage.From(RecordViews.Change(Collection, entry, policy)));
                        replayed++;
                    }
                    if (done) break;
                }
            }
            else if (Seq.Compare(after, joinedAt) > 0)
            {
                // The client is ahead of this instance: either this feed has not caught up yet (it will),
                // or the position comes from a change log that no longer exists (Redis was wiped).
                var last = await _store.LastSeqAsync(Collection) ?? "";
                if (Seq.Compare(after, last) > 0) resync = true;
                else Nudge();
            }
        }
        catch
        {
            await RemoveAsync(sub);
            throw;
        }

        _metrics.Replayed(replayed);
        await _gate.WaitAsync();
        try
        {
            var pending = sub.Pending ?? [];
            sub.Pending = null;
            if (resync)
            {
                sub.Cursor = _last; // live from now: what arrived meanwhile is part of the snapshot to reload
            }
            else
            {
                sub.Cursor = cursor;
                foreach (var change in pending) sub.Offer(change, int.MaxValue);
            }
            return new SubscribeResult(Collection, NullIfEmpty(sub.Cursor), replayed, resync);
        }
        finally { _gate.Release(); }
    }

    /// <summary>Removes a subscriber; returns how many remain.</summary>
    public async Task<int> RemoveAsync(Subscription sub)
    {
        await _gate.WaitAsync();
        try
        {
            if (_subscriptions.Remove(sub)) _metrics.SubscriptionClosed();
            return _subscriptions.Count;
        }
        finally { _gate.Release(); }
    }

    private async Task RunAsync()
    {
        await foreach (var message in _inbox.Reader.ReadAllAsync())
        {
            await _gate.WaitAsync();
            try
            {
                if (message is null) await CatchUpAsync();
                else await ApplyAsync(RecordCodec.DecodeMessage(message));
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                // Redis is away; the reconnect event or the next poll brings the feed up to date.
                RealtimeLog.FeedReadFailed(_log, e, Collection);
            }
            finally { _gate.Release(); }
        }
    }

    private async Task ApplyAsync(List<ChangeEntry> entries)
    {
        foreach (var entry in entries)
        {
            // Already delivered (a backfill got there first). After a failover took entries back, new entries can
            // reuse old positions: those are not delivered either, and the next catch-up (on reconnect, on the next
            // entry, or on the poll) finds that the log no longer continues from _last and sends resync.
            if (Seq.Compare(entry.Seq, _last) <= 0) continue;
            if (entry.Prev != _last)
            {
                await CatchUpAsync(); // something before this entry never reached us
                continue;             // the catch-up read everything up to the log's end, this one included
            }
            Deliver(entry);
        }
    }

    private async Task CatchUpAsync()
    {
        var from = _last;
        var count = 0;
        while (true)
        {
            var read = await _store.ReadChangesAsync(Collection, _last.Length == 0 ? "0-0" : _last, _options.ReplayPageSize);
            if (read.ResyncRequired)
            {
                RealtimeLog.FeedResync(_log, Collection, _last, _subscriptions.Count);
                _metrics.Resync();
                _last = read.Last ?? "";
                var notice = new SerializedHubMessage(new InvocationMessage("resync", [new ResyncMessage(Collection,
                    "The change log no longer continues from what this gateway last delivered (trimmed, or taken back by a failover); reload the records and subscribe from their asOf.")]));
                foreach (var sub in _subscriptions)
                {
                    sub.Cursor = _last;
                    if (sub.Pending is not null) sub.Pending.Clear();
                    sub.Connection.Enqueue(notice, isChange: false);
                }
                return;
            }
            foreach (var entry in read.Entries)
            {
                if (Deliver(entry)) count++;
            }
            if (read.Entries.Count < _options.ReplayPageSize) break;
        }
        if (count > 0)
        {
            RealtimeLog.Backfilled(_log, Collection, count, from);
            _metrics.Backfilled(count);
        }
    }

    // Advances the feed's position; hands the entry to the subscribers unless it is state-only (for peers).
    private bool Deliver(ChangeEntry entry)
    {
        _last = entry.Seq;
        if (entry.Kind == EntryKind.State) return false;
        var change = ChangeMessage.From(RecordViews.Change(Collection, entry, _store.PolicyOf(Collection)));
        foreach (var sub in _subscriptions) sub.Offer(change, _options.OutboundBufferLength);
        return true;
    }

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;
}
