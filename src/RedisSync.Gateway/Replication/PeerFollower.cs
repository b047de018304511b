using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using RedisSync.Gateway.Merge;
using RedisSync.Gateway.Store;

namespace RedisSync.Gateway.Replication;

/// <summary>Where this site stands with one collection of one peer (CONTRACT §9 status).</summary>
public sealed class CollectionFollow(string collection)
{
    public string Collection { get; } = collection;
    public string? Cursor { get; set; }
    public long LagChanges { get; set; }
    public long LagMs { get; set; }
    public string State { get; set; } = "catching-up";
    public string? LastError { get; set; }
}

/// <summary>
/// Follows one peer site: for every collection the peer has, reads its change log from this site's cursor and joins
/// the record states in (<see cref="RecordStore.ApplyStatesAsync"/>), the cursor advancing in the same commit as the
/// apply (PITFALLS 15). The peer's hub only rings the bell (a change arrived: read now); the HTTP change log is what
/// is applied, so a lost notification costs latency, never data. A cursor the peer no longer retains starts a full
/// copy of that collection (deleted records included), after which following resumes from where the copy began.
/// </summary>
internal sealed class PeerFollower(
    PeerOptions peer, PeerClient client, RecordStore store, ReplicationOptions options, ReplicationMetrics metrics, ILogger log) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, CollectionFollow> _collections = new(StringComparer.Ordinal);
    private readonly Channel<string> _bell = Channel.CreateBounded<string>(new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly HashSet<string> _subscribed = new(StringComparer.Ordinal);
    private HubConnection? _hub;

    public string Name => peer.Name!;
    public string Url => peer.Url!;
    public PeerClient Client => client;

    public IReadOnlyList<CollectionFollow> Collections => [.. _collections.Values.OrderBy(c => c.Collection, StringComparer.Ordinal)];

    public async Task RunAsync(CancellationToken ct)
    {
        await StartHubAsync(ct);
        var nextPoll = DateTime.UtcNow;
        while (!ct.IsCancellationRequested)
        {
            if (DateTime.UtcNow >= nextPoll)
            {
                await PollAsync(ct);
                nextPoll = DateTime.UtcNow + options.PollInterval;
            }
            // Sleep until the poll is due or the peer's hub says a collection changed.
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(Max(nextPoll - DateTime.UtcNow, TimeSpan.Zero));
            try
            {
                var rung = new HashSet<string>(StringComparer.Ordinal) { await _bell.Reader.ReadAsync(wait.Token) };
                while (_bell.Reader.TryRead(out var more)) rung.Add(more);
                foreach (var collection in rung) await FollowAsync(collection, ct);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { }
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    // Every collection of the peer: new ones are found here.
    private async Task PollAsync(CancellationToken ct)
    {
        IReadOnlyList<PeerCollection> collections;
        try
        {
            collections = await client.CollectionsAsync(ct);
        }
        catch (Exception e) when (IsTransient(e, ct))
        {
            foreach (var c in _collections.Values) Fail(c, e);
            ReplicationLog.PeerUnreachable(log, Name, e.Message);
            return;
        }
        foreach (var c in collections)
        {
            if (_collections.TryAdd(c.Name, new CollectionFollow(c.Name))) ReplicationLog.NewCollection(log, Name, c.Name);
            await FollowAsync(c.Name, ct);
        }
        await SubscribeHubAsync(ct);
    }

    private async Task FollowAsync(string collection, CancellationToken ct)
    {
        var follow = _collections.GetOrAdd(collection, c => new CollectionFollow(c));
        try
        {
            // Read from this site's Redis every time, never only remembered: a Redis that came back without its
            // latest writes (restarted without fsync, failed over, restored from a backup) lost the states the lost
            // cursor covered too, and following from the remembered one would never bring them back.
            follow.Cursor = (await store.CursorsAsync(collection)).GetValueOrDefault(Name);
            while (!ct.IsCancellationRequested)
            {
                var after = follow.Cursor ?? "0-0";
                var page = await client.ChangesAsync(collection, after, options.PageSize, ct);
                if (page is null)
                {
                    await CopyAsync(follow, ct);
                    continue;
                }
                // States only grow (a join is monotone), so the last entry of a record in the page covers its earlier ones.
                var states = new Dictionary<string, IncomingState>(StringComparer.Ordinal);
                foreach (var item in page.Items) states[item.Id] = new IncomingState(item.Id, item.ToState(Name, collection));
                if (page.Next != after)
                {
                    var outcomes = await store.ApplyStatesAsync(collection, [.. states.Values], [KeyValuePair.Create(Name, page.Next)]);
                    metrics.Applied(Name, outcomes);
                }
                follow.Cursor = page.Next;
                var ordinal = page.Items.Count > 0 ? page.Items[^1].Ordinal : 0;
                follow.LagChanges = page.HasMore ? Math.Max(0, page.Count - ordinal) : 0;
                follow.LagMs = follow.LagChanges > 0 && follow.Cursor is { } cur && cur != "0-0"
                    ? Math.Max(0, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - Seq.Milliseconds(cur)) : 0;
                follow.State = page.HasMore ? "catching-up" : "following";
                follow.LastError = null;
                if (!page.HasMore) break;
            }
        }
        catch (Exception e) when (IsTransient(e, ct) || e is InvalidDataException)
        {
            Fail(follow, e);
            ReplicationLog.FollowFailed(log, Name, collection, e.Message);
        }
    }

    // The peer no longer retains what follows our cursor: take its whole state, deleted records included, then follow
    // on from the position read before the first page (everything after it is replayed; joins make that harmless).
    private async Task CopyAsync(CollectionFollow follow, CancellationToken ct)
    {
        follow.State = "copying";
        ReplicationLog.CopyStarted(log, Name, follow.Collection, follow.Cursor);
        metrics.Copy(Name);
        string? cursor = null;
        string? asOf = null;
        var records = 0;
        do
        {
            var page = await client.RecordsAsync(follow.Collection, cursor, options.PageSize, ct);
            asOf ??= page.AsOf;
            var states = page.Items.Select(item => new IncomingState(item.Id, item.ToState(Name, follow.Collection))).ToList();
            if (states.Count > 0) metrics.Applied(Name, await store.ApplyStatesAsync(follow.Collection, states));
            records += states.Count;
            cursor = page.NextCursor;
        } while (cursor is not null);
        await store.ApplyStatesAsync(follow.Collection, [], [KeyValuePair.Create(Name, asOf)]);
        follow.Cursor = asOf;
        ReplicationLog.CopyFinished(log, Name, follow.Collection, records, asOf);
    }

    private void Fail(CollectionFollow follow, Exception e)
    {
        follow.State = "failing";
        follow.LastError = e.Message;
        metrics.Failed(Name);
    }

    // What a round can meet and the next round may not: the peer or this site's Redis away, replicas behind
    // (AckReplicas), other instances' commits racing ours.
    private static bool IsTransient(Exception e, CancellationToken ct) =>
        e is HttpRequestException or TimeoutException or StackExchange.Redis.RedisException or System.Text.Json.JsonException
            or ReplicaAckException or CommitContentionException
        || (e is OperationCanceledException && !ct.IsCancellationRequested);

    // ---------------------------------------------------------------- the doorbell

    private async Task StartHubAsync(CancellationToken ct)
    {
        _hub = new HubConnectionBuilder()
            .WithUrl(new Uri(client.BaseAddress, "/hubs/sync"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(peer.ApiKey))
            .WithAutomaticReconnect(new ForeverRetry())
            .Build();
        _hub.On<System.Text.Json.JsonElement>("change", e =>
        {
            if (e.TryGetProperty("collection", out var c) && c.GetString() is { } name) _bell.Writer.TryWrite(name);
        });
        _hub.On<System.Text.Json.JsonElement>("resync", e =>
        {
            if (e.TryGetProperty("collection", out var c) && c.GetString() is { } name) _bell.Writer.TryWrite(name);
        });
        _hub.Reconnected += async _ =>
        {
            lock (_subscribed) _subscribed.Clear();
            await SubscribeHubAsync(CancellationToken.None);
        };
        try { await _hub.StartAsync(ct); }
        catch (Exception e) when (e is HttpRequestException or System.Net.WebSockets.WebSocketException or TimeoutException or InvalidOperationException)
        {
            // The peer is not there yet: polling carries on, and the next poll tries the hub again.
            ReplicationLog.HubUnavailable(log, Name, e.Message);
        }
    }

    private async Task SubscribeHubAsync(CancellationToken ct)
    {
        if (_hub is null) return;
        if (_hub.State == HubConnectionState.Disconnected)
        {
            try { await _hub.StartAsync(ct); }
            catch (Exception e) when (e is HttpRequestException or System.Net.WebSockets.WebSocketException or TimeoutException or InvalidOperationException)
            {
                ReplicationLog.HubUnavailable(log, Name, e.Message);
                return;
            }
            lock (_subscribed) _subscribed.Clear();
        }
        if (_hub.State != HubConnectionState.Connected) return;
        foreach (var collection in _collections.Keys)
        {
            lock (_subscribed) if (_subscribed.Contains(collection)) continue;
            try
            {
                await _hub.InvokeAsync<System.Text.Json.JsonElement>("Subscribe", collection, null, ct);
                lock (_subscribed) _subscribed.Add(collection);
            }
            catch (Exception e) when (e is HubException or InvalidOperationException or TaskCanceledException)
            {
                ReplicationLog.HubUnavailable(log, Name, e.Message);
                return;
            }
        }
    }

    private sealed class ForeverRetry : IRetryPolicy
    {
        public TimeSpan? NextRetryDelay(RetryContext context) =>
            TimeSpan.FromMilliseconds(Math.Min(5000, 250 * (1 << (int)Math.Min(context.PreviousRetryCount, 5))));
    }

    public async ValueTask DisposeAsync()
    {
        if (_hub is not null) await _hub.DisposeAsync();
    }
}
