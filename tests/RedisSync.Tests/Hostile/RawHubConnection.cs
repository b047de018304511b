using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace RedisSync.Tests.Hostile;

/// <summary>
/// A SignalR JSON-protocol connection that sends whatever bytes it is given and records every message the
/// server sends (completions, closes, invocations), so a test can see exactly how the server answered a
/// malformed message. Parses with a generous depth limit so deeply nested records can be checked.
/// </summary>
internal sealed class RawHubConnection : IAsyncDisposable
{
    private const byte Separator = 0x1E;
    private readonly ClientWebSocket _socket = new();
    private readonly Channel<JsonElement> _messages = Channel.CreateUnbounded<JsonElement>();
    private readonly TaskCompletionSource<WebSocketCloseStatus?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _receive = Task.CompletedTask;

    public static async Task<RawHubConnection> ConnectAsync(Uri gateway, string apiKey)
    {
        var c = new RawHubConnection();
        var ws = new UriBuilder(gateway) { Scheme = "ws", Path = "/hubs/sync", Query = "access_token=" + Uri.EscapeDataString(apiKey) };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await c._socket.ConnectAsync(ws.Uri, cts.Token);
        c._receive = Task.Run(c.ReceiveAsync);
        await c.SendTextAsync("""{"protocol":"json","version":1}""");
        var handshake = await c.NextAsync(_ => true, TimeSpan.FromSeconds(10));
        Assert.False(handshake.TryGetProperty("error", out _), "handshake failed: " + handshake.GetRawText());
        return c;
    }

    /// <summary>Completes with the WebSocket close status once the server has closed the connection (null: aborted).</summary>
    public Task<WebSocketCloseStatus?> Closed => _closed.Task;

    /// <summary>The connection ended without a close handshake (reset or aborted by the server).</summary>
    public bool Aborted { get; private set; }

    /// <summary>Sends text followed by the record separator (unless told not to), as one text frame.</summary>
    public Task SendTextAsync(string text, bool separator = true) =>
        SendAsync([.. Encoding.UTF8.GetBytes(text), .. separator ? new[] { Separator } : []], WebSocketMessageType.Text);

    /// <summary>Sends raw bytes as one frame of the given type (bytes need not be valid UTF-8).</summary>
    public async Task SendAsync(byte[] payload, WebSocketMessageType type)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _socket.SendAsync(payload, type, true, cts.Token);
    }

    /// <summary>Invokes a method with raw JSON arguments and returns its completion message.</summary>
    public async Task<JsonElement> InvokeAsync(string id, string target, string argumentsJson)
    {
        await SendTextAsync($$"""{"type":1,"invocationId":"{{id}}","target":"{{target}}","arguments":{{argumentsJson}}}""");
        return await CompletionAsync(id);
    }

    public Task<JsonElement> CompletionAsync(string id, TimeSpan? timeout = null) =>
        NextAsync(m => Type(m) == 3 && m.TryGetProperty("invocationId", out var i) && i.GetString() == id, timeout ?? TimeSpan.FromSeconds(15));

    public static int Type(JsonElement message) => message.TryGetProperty("type", out var t) ? t.GetInt32() : -1;

    /// <summary>
    /// The next message (pings skipped) that matches; messages before it that do not match are returned in
    /// <paramref name="skipped"/> so a test can check nothing unexpected arrived.
    /// </summary>
    public async Task<JsonElement> NextAsync(Func<JsonElement, bool> match, TimeSpan timeout, List<JsonElement>? skipped = null)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var message = await _messages.Reader.ReadAsync(cts.Token);
                if (Type(message) == 6) continue;
                if (match(message)) return message;
                skipped?.Add(message);
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no matching hub message within {timeout}");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"the server closed the connection ({_closed.Task.Result}) before a matching message arrived");
        }
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[64 * 1024];
        var pending = new List<byte>();
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    _closed.TrySetResult(result.CloseStatus);
                    return;
                }
                pending.AddRange(buffer.AsSpan(0, result.Count));
                int end;
                while ((end = pending.IndexOf(Separator)) >= 0)
                {
                    var text = pending.GetRange(0, end).ToArray();
                    pending.RemoveRange(0, end + 1);
                    using var doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 512 });
                    _messages.Writer.TryWrite(doc.RootElement.Clone());
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            Aborted = true;
            _closed.TrySetResult(null);
        }
        finally
        {
            _messages.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException) { }
        _socket.Abort();
        await _receive.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { });
        _socket.Dispose();
    }
}
