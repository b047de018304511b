using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using RedisSync.Gateway.Store;

namespace RedisSync.Tests.Cluster;

/// <summary>What a subscriber saw, in order: where each subscription started, each change, each resync or drop.</summary>
public readonly record struct StreamEvent(StreamEventKind Kind, string? Seq = null)
{
    public override string ToString() => Seq is null ? Kind.ToString() : $"{Kind} {Seq}";
}

public enum StreamEventKind
{
    /// <summary>Subscribed from a position it held (a resume after a drop).</summary>
    Resumed,
    /// <summary>Reloaded the records and subscribed from their <c>asOf</c>.</summary>
    Reloaded,
    /// <summary>Subscribe answered <c>resyncRequired</c> for the position given.</summary>
    ResyncRequired,
    Change,
    /// <summary>The server sent <c>resync</c>.</summary>
    Resync,
    /// <summary>The connection ended (its gateway died, or the call failed).</summary>
    Dropped,
}

/// <summary>A record as a client holds it: applied from changes only when their revision is newer.</summary>
public sealed record HeldRecord(long Revision, JsonElement Data);

/// <summary>
/// A client of one collection that behaves as the README tells clients to: it loads the records (keeping the first
/// page's <c>asOf</c>), subscribes from there with the official SignalR client, applies a change only if its
/// revision is newer than what it holds, and when told <c>resync</c> (or answered <c>resyncRequired</c>) reloads
/// and subscribes again. When its connection drops it connects to an instance of the pool and resumes from the
/// last seq it applied. Each new subscription gets a new connection, so every connection carries one
/// subscription's stream, which <see cref="StreamAudit"/> checks against the final change log.
/// </summary>
public sealed class TrackedSubscriber : IAsyncDisposable
{
    private readonly GatewayPool _pool;
    private readonly HttpClient _http;
    private readonly int _preference;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<StreamEvent> _events = [];
    private readonly Dictionary<string, HeldRecord> _records = new(StringComparer.Ordinal);
    private readonly Channel<Incoming> _inbox = Channel.CreateUnbounded<Incoming>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<bool> _progress = Channel.CreateUnbounded<bool>();
    private Task _loop = Task.CompletedTask;
    private string? _position;
    private int _connection;

    private TrackedSubscriber(GatewayPool pool, HttpClient http, string collection, int preference)
    {
        _pool = pool;
        _http = http;
        Collection = collection;
        _preference = preference;
    }

    public string Collection { get; }

    /// <summary>Why the last connection or call failed (for failure messages).</summary>
    public string? LastError { get; private set; }

    /// <summary>Starts subscribing on instance <paramref name="preference"/> of the pool (round robin); returns once subscribed.</summary>
    public static async Task<TrackedSubscriber> StartAsync(GatewayPool pool, HttpClient http, string collection, int preference, TimeSpan timeout)
    {
        var subscriber = new TrackedSubscriber(pool, http, collection, preference);
        var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        subscriber._loop = Task.Run(() => subscriber.RunAsync(subscribed));
        try
        {
            await subscribed.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            await subscriber.DisposeAsync();
            throw new TimeoutException($"a subscriber of {collection} did not subscribe within {timeout}; last error: {subscriber.LastError ?? "none"}");
        }
        return subscriber;
    }

    /// <summary>The last seq applied (or the asOf of the last reload).</summary>
    public string? Position
    {
        get { lock (_events) return _position; }
    }

    public IReadOnlyList<StreamEvent> Events
    {
        get { lock (_events) return [.. _events]; }
    }

    public IReadOnlyDictionary<string, HeldRecord> Records
    {
        get { lock (_events) return new Dictionary<string, HeldRecord>(_records, StringComparer.Ordinal); }
    }

    public int Count(StreamEventKind kind)
    {
        lock (_events) return _events.Count(e => e.Kind == kind);
    }

    /// <summary>Waits until this client has applied <paramref name="seq"/> or a later change.</summary>
    public async Task WaitForAsync(string seq, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            while (Position is not { } at || Seq.Compare(at, seq) < 0) await _progress.Reader.ReadAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"subscriber of {Collection} did not reach {seq} within {timeout}: at {Position}; last events: {string.Join(", ", Events.TakeLast(8))}");
        }
    }

    private void Record(StreamEvent e, string? position = null, bool clearPosition = false)
    {
        lock (_events)
        {
            _events.Add(e);
            if (position is not null) _position = position;
            if (clearPosition) _position = null;
        }
        _progress.Writer.TryWrite(true);
    }

    private async Task RunAsync(TaskCompletionSource subscribed)
    {
        var ct = _stop.Token;
        var turn = _preference;
        while (!ct.IsCancellationRequested)
        {
            var gateway = _pool.Pick(turn);
            if (gateway is null)
            {
                await PauseAsync(TimeSpan.FromMilliseconds(50));
                continue;
            }
            var generation = ++_connection;
            var hub = new HubConnectionBuilder()
                .WithUrl(new Uri(gateway, "/hubs/sync"), HttpTransportType.WebSockets,
                    o => o.AccessTokenProvider = () => Task.FromResult<string?>(GatewayPool.ApiKey))
                .Build();
            hub.On<JsonElement>("change", change => _inbox.Writer.TryWrite(new Incoming(generation, IncomingKind.Change, change)));
            hub.On<JsonElement>("resync", _ => _inbox.Writer.TryWrite(new Incoming(generation, IncomingKind.Resync)));
            hub.Closed += _ =>
            {
                _inbox.Writer.TryWrite(new Incoming(generation, IncomingKind.Closed));
                return Task.CompletedTask;
            };
            try
            {
                using (var connecting = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    connecting.CancelAfter(TimeSpan.FromSeconds(10));
                    await hub.StartAsync(connecting.Token);
                }
                var reload = Position is null;
                if (reload) Record(new StreamEvent(StreamEventKind.Reloaded, await ReloadAsync(gateway, ct)));
                var from = Position!;
                var result = await hub.InvokeAsync<JsonElement>("Subscribe", Collection, from, ct).WaitAsync(TimeSpan.FromSeconds(30), ct);
                if (result.GetProperty("resyncRequired").GetBoolean())
                {
                    Record(new StreamEvent(StreamEventKind.ResyncRequired, from), clearPosition: true);
                    await PauseAsync(TimeSpan.FromMilliseconds(20));
                    continue; // a new connection, a reload, a new subscription
                }
                if (!reload) Record(new StreamEvent(StreamEventKind.Resumed, from));
                subscribed.TrySetResult();
                await ConsumeAsync(generation, ct);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // Whatever ended this connection (a dead instance, a refused call), the next one resumes.
                LastError = $"{e.GetType().Name}: {e.Message}";
                Record(new StreamEvent(StreamEventKind.Dropped));
                turn++;
                await PauseAsync(TimeSpan.FromMilliseconds(50));
            }
            catch (OperationCanceledException) { }
            finally
            {
                await DisposeQuietlyAsync(hub);
            }
        }
    }

    // Applies this connection's messages until it drops or a resync calls for a new one.
    private async Task ConsumeAsync(int generation, CancellationToken ct)
    {
        while (true)
        {
            var message = await _inbox.Reader.ReadAsync(ct);
            if (message.Connection != generation) continue; // a message of a connection already given up
            switch (message.Kind)
            {
                case IncomingKind.Change:
                    Apply(message.Change);
                    break;
                case IncomingKind.Resync:
                    Record(new StreamEvent(StreamEventKind.Resync), clearPosition: true);
                    return;
                default:
                    Record(new StreamEvent(StreamEventKind.Dropped));
                    return;
            }
        }
    }

    private void Apply(JsonElement change)
    {
        var seq = change.GetProperty("seq").GetString()!;
        var id = change.GetProperty("id").GetString()!;
        var revision = change.GetProperty("revision").GetInt64();
        lock (_events)
        {
            if (!_records.TryGetValue(id, out var held) || revision > held.Revision)
            {
                if (change.GetProperty("kind").GetString() == "delete") _records.Remove(id);
                else _records[id] = new HeldRecord(revision, change.GetProperty("record").GetProperty("data").Clone());
            }
        }
        Record(new StreamEvent(StreamEventKind.Change, seq), position: seq);
    }

    // Every page of live records; the first page's asOf is where the subscription continues (CONTRACT §3).
    private async Task<string> ReloadAsync(Uri gateway, CancellationToken ct)
    {
        var records = new Dictionary<string, HeldRecord>(StringComparer.Ordinal);
        string? asOf = null, cursor = null;
        for (var page = 0; page < 1000; page++)
        {
            var url = $"/api/v1/collections/{Collection}/records?limit=1000" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}");
            var body = await _http.GetFromJsonAsync<JsonElement>(new Uri(gateway, url), ct);
            asOf ??= body.GetProperty("asOf").GetString();
            foreach (var item in body.GetProperty("items").EnumerateArray())
                records[item.GetProperty("id").GetString()!] = new HeldRecord(item.GetProperty("revision").GetInt64(), item.GetProperty("data").Clone());
            cursor = body.GetProperty("nextCursor").GetString();
            if (cursor is null) break;
        }
        lock (_events)
        {
            _records.Clear();
            foreach (var (id, record) in records) _records[id] = record;
            _position = asOf!;
        }
        return asOf!;
    }

    private async Task PauseAsync(TimeSpan pause)
    {
        try { await Task.Delay(pause, _stop.Token); }
        catch (OperationCanceledException) { }
    }

    private static async Task DisposeQuietlyAsync(HubConnection hub)
    {
        try { await hub.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)); }
        catch (Exception e) when (e is TimeoutException or IOException or System.Net.WebSockets.WebSocketException or HttpRequestException) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try { await _loop.WaitAsync(TimeSpan.FromSeconds(20)); }
        catch (OperationCanceledException) { }
    }

    private enum IncomingKind { Change, Resync, Closed }

    private readonly record struct Incoming(int Connection, IncomingKind Kind, JsonElement Change = default);
}
