using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace RedisSync.Tests.Fixtures;

/// <summary>
/// A minimal SignalR client for tests: the JSON hub protocol over a raw WebSocket (the .NET SignalR client
/// package cannot be restored here). Messages are JSON texts ended by the record separator 0x1E.
/// </summary>
public sealed class HubTestClient : IAsyncDisposable
{
    private const char RecordSeparator = '\u001e';
    private readonly ClientWebSocket _socket = new();
    private readonly Dictionary<string, TaskCompletionSource<JsonElement>> _invocations = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private Task _receive = Task.CompletedTask;
    private Timer? _ping;
    private int _nextId;

    /// <summary>Every <c>change</c> the server sent, in arrival order.</summary>
    public Channel<JsonElement> Changes { get; } = Channel.CreateUnbounded<JsonElement>();

    /// <summary>Every <c>resync</c> the server sent.</summary>
    public Channel<JsonElement> Resyncs { get; } = Channel.CreateUnbounded<JsonElement>();

    /// <summary>Completes when the server closes the connection (with its close message's error, if any).</summary>
    public TaskCompletionSource<string?> Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static async Task<HubTestClient> ConnectAsync(Uri gateway, string? apiKey, TimeSpan? timeout = null)
    {
        var client = new HubTestClient();
        var ws = new UriBuilder(gateway) { Scheme = gateway.Scheme == "https" ? "wss" : "ws", Path = "/hubs/sync" };
        if (apiKey is not null) ws.Query = "access_token=" + Uri.EscapeDataString(apiKey);
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        await client._socket.ConnectAsync(ws.Uri, cts.Token);
        await client.SendRawAsync("{\"protocol\":\"json\",\"version\":1}");
        var handshake = await client.ReadFrameAsync(cts.Token);
        if (handshake is null || handshake.Contains("\"error\"", StringComparison.Ordinal))
            throw new InvalidOperationException("SignalR handshake failed: " + handshake);
        client._receive = Task.Run(client.ReceiveLoopAsync);
        client._ping = new Timer(_ => _ = client.SendRawAsync("{\"type\":6}"), null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
        return client;
    }

    /// <summary>Invokes a hub method and waits for its completion; a hub error throws <see cref="HubError"/>.</summary>
    public async Task<JsonElement> InvokeAsync(string method, params object?[] args)
    {
        var id = Interlocked.Increment(ref _nextId).ToString();
        var tcs = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_invocations) _invocations[id] = tcs;
        await SendRawAsync(JsonSerializer.Serialize(new { type = 1, invocationId = id, target = method, arguments = args }));
        return await tcs.Task.WaitAsync(TimeSpan.FromSeconds(60));
    }

    public Task<JsonElement> SubscribeAsync(string collection, string? after = null) => InvokeAsync("Subscribe", collection, after);

    /// <summary>Sends a raw protocol message (for malformed-message tests).</summary>
    public async Task SendRawAsync(string json)
    {
        await _sendLock.WaitAsync();
        try
        {
            if (_socket.State != WebSocketState.Open) return;
            await _socket.SendAsync(Encoding.UTF8.GetBytes(json + RecordSeparator), WebSocketMessageType.Text, true, CancellationToken.None);
        }
        catch (WebSocketException) { }
        finally { _sendLock.Release(); }
    }

    /// <summary>Reads the next <paramref name="count"/> changes, failing after <paramref name="timeout"/>.</summary>
    public async Task<List<JsonElement>> NextChangesAsync(int count, TimeSpan timeout)
    {
        var list = new List<JsonElement>(count);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (list.Count < count) list.Add(await Changes.Reader.ReadAsync(cts.Token));
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"got {list.Count} of {count} changes within {timeout}");
        }
        return list;
    }

    private volatile TaskCompletionSource? _paused;

    /// <summary>Stops reading from the socket, so the server's sends back up (a slow client).</summary>
    public void PauseReceiving() => _paused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Reads from the socket again.</summary>
    public void ResumeReceiving()
    {
        var paused = _paused;
        _paused = null;
        paused?.TrySetResult();
    }

    /// <summary>Drops the connection abruptly (no close handshake), like a lost network.</summary>
    public void Abort() => _socket.Abort();

    private async Task ReceiveLoopAsync()
    {
        string? closeError = null;
        try
        {
            while (true)
            {
                var frame = await ReadFrameAsync(_stop.Token);
                if (frame is null) break;
                using var doc = JsonDocument.Parse(frame);
                var msg = doc.RootElement;
                switch (msg.GetProperty("type").GetInt32())
                {
                    case 1:
                        var target = msg.GetProperty("target").GetString();
                        var arg = msg.GetProperty("arguments")[0].Clone();
                        if (target == "change") Changes.Writer.TryWrite(arg);
                        else if (target == "resync") Resyncs.Writer.TryWrite(arg);
                        break;
                    case 3:
                        var id = msg.GetProperty("invocationId").GetString()!;
                        TaskCompletionSource<JsonElement>? tcs;
                        lock (_invocations) _invocations.Remove(id, out tcs);
                        if (msg.TryGetProperty("error", out var error)) tcs?.TrySetException(new HubError(error.GetString()!));
                        else tcs?.TrySetResult(msg.TryGetProperty("result", out var r) ? r.Clone() : default);
                        break;
                    case 7:
                        closeError = msg.TryGetProperty("error", out var e) ? e.GetString() : null;
                        return;
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or JsonException) { }
        finally
        {
            Closed.TrySetResult(closeError);
            Changes.Writer.TryComplete();
            lock (_invocations)
                foreach (var tcs in _invocations.Values) tcs.TrySetException(new HubError("connection closed"));
        }
    }

    private readonly StringBuilder _buffer = new();

    // One SignalR message per call; a WebSocket frame may hold several, or part of one.
    private async Task<string?> ReadFrameAsync(CancellationToken ct)
    {
        var chunk = new byte[16 * 1024];
        while (true)
        {
            var text = _buffer.ToString();
            var end = text.IndexOf(RecordSeparator);
            if (end >= 0)
            {
                _buffer.Remove(0, end + 1);
                return text[..end];
            }
            if (_paused is { } paused) await paused.Task.WaitAsync(ct);
            var result = await _socket.ReceiveAsync(chunk, ct);
            if (result.MessageType == WebSocketMessageType.Close) return null;
            _buffer.Append(Encoding.UTF8.GetString(chunk, 0, result.Count));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_ping is not null) await _ping.DisposeAsync();
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException) { }
        _stop.Cancel();
        await _receive.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { });
        _socket.Dispose();
    }
}

/// <summary>A hub invocation that completed with an error.</summary>
public sealed class HubError(string message) : Exception(message);
