using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using RedisSync.Bench.Measurement;

namespace RedisSync.Bench.Clients;

/// <summary>Called on the receive loop for every <c>change</c> message, with the time its frame arrived.</summary>
public delegate void ChangeReceived(ReadOnlySpan<byte> message, long receivedTicks);

/// <summary>
/// A SignalR client speaking the JSON hub protocol over a raw WebSocket (the .NET SignalR client cannot be
/// restored here, TOOLCHAIN.md). Built for measuring: the receive timestamp is taken when the frame
/// arrives, and a change is handed over as raw UTF-8 so the client spends as little CPU as possible on
/// each delivery; on this machine the load generator competes with the gateway for the same two cores.
/// </summary>
public sealed class HubClient : IAsyncDisposable
{
    private const byte RecordSeparator = 0x1E;
    private const int MaxBufferedBytes = 16 * 1024 * 1024;

    private readonly ClientWebSocket _socket = new();
    private readonly Dictionary<string, TaskCompletionSource<JsonElement>> _invocations = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<string?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private byte[] _buffer = new byte[16 * 1024];
    private int _length;
    private Task _receive = Task.CompletedTask;
    private Timer? _ping;
    private int _nextId;
    private int _disposed;

    private HubClient() { }

    /// <summary>Set before subscribing; runs on the receive loop, so it must be quick.</summary>
    public ChangeReceived? OnChange { get; set; }

    /// <summary>Completes when the connection ends, with the server's close error if it gave one.</summary>
    public Task<string?> Closed => _closed.Task;

    public int Resyncs { get; private set; }

    public static async Task<HubClient> ConnectAsync(Uri hub, CancellationToken ct)
    {
        var client = new HubClient();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(15));
            await client._socket.ConnectAsync(hub, timeout.Token);
            await client.SendAsync("""{"protocol":"json","version":1}""");
            var handshake = await client.ReadHandshakeAsync(timeout.Token);
            if (handshake.Contains("\"error\"", StringComparison.Ordinal))
                throw new InvalidOperationException("SignalR handshake refused: " + handshake);
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
        client._receive = Task.Run(client.ReceiveLoopAsync, CancellationToken.None);
        // The server drops a client it has not heard from in 30 s (SignalR's ClientTimeoutInterval).
        client._ping = new Timer(_ => _ = client.SendAsync("""{"type":6}"""), null, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
        return client;
    }

    /// <summary>Hub <c>Subscribe(collection, after)</c>; returns its result, or throws with the hub's error.</summary>
    public Task<JsonElement> SubscribeAsync(string collection, string? after, TimeSpan timeout) =>
        InvokeAsync("Subscribe", [collection, after], timeout);

    public async Task<JsonElement> InvokeAsync(string target, object?[] arguments, TimeSpan timeout)
    {
        var id = Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var completion = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_invocations) _invocations[id] = completion;
        await SendAsync(JsonSerializer.Serialize(new { type = 1, invocationId = id, target, arguments }));
        return await completion.Task.WaitAsync(timeout);
    }

    private async Task SendAsync(string json)
    {
        await _sendLock.WaitAsync();
        try
        {
            if (_socket.State != WebSocketState.Open) return;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _socket.SendAsync(Encoding.UTF8.GetBytes(json + (char)RecordSeparator), WebSocketMessageType.Text, true, timeout.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException) { }
        finally { _sendLock.Release(); }
    }

    private async Task<string> ReadHandshakeAsync(CancellationToken ct)
    {
        while (true)
        {
            var end = _buffer.AsSpan(0, _length).IndexOf(RecordSeparator);
            if (end >= 0)
            {
                var text = Encoding.UTF8.GetString(_buffer, 0, end);
                Consume(end + 1);
                return text;
            }
            if (!await ReceiveMoreAsync(ct)) throw new WebSocketException("closed during the handshake");
        }
    }

    private async Task<bool> ReceiveMoreAsync(CancellationToken ct)
    {
        if (_buffer.Length - _length < 4096)
        {
            if (_buffer.Length * 2 > MaxBufferedBytes) throw new InvalidOperationException("a hub message exceeds 16 MiB");
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }
        var result = await _socket.ReceiveAsync(_buffer.AsMemory(_length), ct);
        if (result.MessageType == WebSocketMessageType.Close) return false;
        _length += result.Count;
        return true;
    }

    private void Consume(int count)
    {
        Buffer.BlockCopy(_buffer, count, _buffer, 0, _length - count);
        _length -= count;
    }

    private async Task ReceiveLoopAsync()
    {
        string? closeError = null;
        try
        {
            while (await ReceiveMoreAsync(_stop.Token))
            {
                var received = Clock.Now;
                var start = 0;
                while (true)
                {
                    var end = _buffer.AsSpan(start, _length - start).IndexOf(RecordSeparator);
                    if (end < 0) break;
                    if (!Handle(_buffer.AsSpan(start, end), received, ref closeError)) return;
                    start += end + 1;
                }
                if (start > 0) Consume(start);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or JsonException or InvalidOperationException)
        {
            closeError ??= e.GetType().Name + ": " + e.Message;
        }
        finally
        {
            _closed.TrySetResult(closeError);
            lock (_invocations)
                foreach (var pending in _invocations.Values) pending.TrySetException(new InvalidOperationException("connection closed"));
        }
    }

    /// <summary>Dispatches one hub message; false when the server closed the connection.</summary>
    private bool Handle(ReadOnlySpan<byte> message, long received, ref string? closeError)
    {
        var (type, target) = Peek(message);
        switch (type)
        {
            case 1 when target == "change":
                OnChange?.Invoke(message, received);
                return true;
            case 1 when target == "resync":
                Resyncs++;
                return true;
            case 3:
                using (var doc = JsonDocument.Parse(message.ToArray()))
                {
                    var root = doc.RootElement;
                    TaskCompletionSource<JsonElement>? completion;
                    lock (_invocations) _invocations.Remove(root.GetProperty("invocationId").GetString()!, out completion);
                    if (root.TryGetProperty("error", out var error)) completion?.TrySetException(new InvalidOperationException(error.GetString()));
                    else completion?.TrySetResult(root.TryGetProperty("result", out var r) ? r.Clone() : default);
                }
                return true;
            case 7:
                using (var doc = JsonDocument.Parse(message.ToArray()))
                    closeError = doc.RootElement.TryGetProperty("error", out var e) ? e.GetString() : null;
                return false;
            default:
                return true; // pings (6) and anything this client does not use
        }
    }

    /// <summary>
    /// Reads only the leading "type" and "target" of a message (the server writes them before the arguments),
    /// so a change costs one short scan, not a parse of the whole event.
    /// </summary>
    private static (int Type, string? Target) Peek(ReadOnlySpan<byte> message)
    {
        var reader = new Utf8JsonReader(message);
        int type = -1;
        string? target = null;
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return (type, target);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8)) { reader.Read(); type = reader.GetInt32(); }
            else if (reader.ValueTextEquals("target"u8)) { reader.Read(); target = reader.GetString(); }
            else if (reader.ValueTextEquals("arguments"u8) || reader.ValueTextEquals("result"u8)) break;
            else { reader.Read(); reader.Skip(); }
            if (type >= 0 && target is not null) break;
        }
        return (type, target);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        if (_ping is not null) await _ping.DisposeAsync();
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException) { }
        await _receive.WaitAsync(TimeSpan.FromSeconds(3)).ContinueWith(_ => { }, TaskScheduler.Default);
        _stop.Cancel();
        await _receive.WaitAsync(TimeSpan.FromSeconds(3)).ContinueWith(_ => { }, TaskScheduler.Default);
        _socket.Dispose();
        _stop.Dispose();
    }
}
