using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.Http.Connections.Client;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace RedisSync.Tests.Fixtures;

/// <summary>
/// The official .NET SignalR client (<see cref="HubConnection"/>: negotiate, then JSON over WebSockets) with what
/// the tests read from it: every <c>change</c> and <c>resync</c> in arrival order, how the connection ended, and a
/// socket the test can stop reading from (a slow client) or drop (a lost network).
/// </summary>
public sealed class HubTestClient : IAsyncDisposable
{
    private readonly HubConnection _connection;
    private PausableWebSocket? _socket;

    private HubTestClient(Uri gateway, string? apiKey)
    {
        _connection = new HubConnectionBuilder()
            .WithUrl(new Uri(gateway, "/hubs/sync"), HttpTransportType.WebSockets, options =>
            {
                // Sent as a bearer token on negotiate and on the WebSocket request, as every official client does.
                if (apiKey is not null) options.AccessTokenProvider = () => Task.FromResult<string?>(apiKey);
                options.WebSocketFactory = OpenSocketAsync;
            })
            // Records may nest as deep as the gateway allows (Sync:MaxJsonDepth), inside the change's envelope.
            .AddJsonProtocol(o => o.PayloadSerializerOptions.MaxDepth = 256)
            .Build();
        // A paused client hears nothing for as long as the test keeps it paused; it must not give up on the
        // server meanwhile (the default is 30 s). The server's own timeout still applies: pings keep flowing out.
        _connection.ServerTimeout = TimeSpan.FromMinutes(5);
        _connection.On<JsonElement>("change", change => Changes.Writer.TryWrite(change));
        _connection.On<JsonElement>("resync", notice => Resyncs.Writer.TryWrite(notice));
        _connection.Closed += error =>
        {
            Closed.TrySetResult(error?.Message);
            return Task.CompletedTask;
        };
    }

    /// <summary>Every <c>change</c> the server sent, in arrival order.</summary>
    public Channel<JsonElement> Changes { get; } = Channel.CreateUnbounded<JsonElement>();

    /// <summary>Every <c>resync</c> the server sent.</summary>
    public Channel<JsonElement> Resyncs { get; } = Channel.CreateUnbounded<JsonElement>();

    /// <summary>
    /// Completes when the connection ends, with why: the server's close error ("The server closed the connection
    /// with the following error: …"), the transport's error, or null for a clean close.
    /// </summary>
    public TaskCompletionSource<string?> Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Connects (negotiate, WebSocket, handshake); a refused key fails here with the negotiate's 401.</summary>
    public static async Task<HubTestClient> ConnectAsync(Uri gateway, string? apiKey, TimeSpan? timeout = null)
    {
        var client = new HubTestClient(gateway, apiKey);
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            await client._connection.StartAsync(cts.Token);
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
        return client;
    }

    /// <summary>Invokes a hub method and returns its result; a hub error throws the client's <c>HubException</c>.</summary>
    public Task<JsonElement> InvokeAsync(string method, params object?[] args) =>
        _connection.InvokeCoreAsync<JsonElement>(method, args).WaitAsync(TimeSpan.FromSeconds(60));

    public Task<JsonElement> SubscribeAsync(string collection, string? after = null) => InvokeAsync("Subscribe", collection, after);

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

    /// <summary>Stops reading from the socket, so the server's sends back up (a slow client).</summary>
    public void PauseReceiving() => Socket.Pause();

    /// <summary>Reads from the socket again.</summary>
    public void ResumeReceiving() => Socket.Resume();

    /// <summary>Drops the connection abruptly (no close handshake), like a lost network.</summary>
    public void Abort() => Socket.Abort();

    private PausableWebSocket Socket => _socket ?? throw new InvalidOperationException("The client has no WebSocket: it never connected.");

    // Replacing the client's WebSocket means doing what its own factory does for us: the bearer token.
    private async ValueTask<WebSocket> OpenSocketAsync(WebSocketConnectionContext context, CancellationToken ct)
    {
        var socket = new ClientWebSocket();
        try
        {
            if (context.Options.AccessTokenProvider is { } token && await token() is { Length: > 0 } key)
                socket.Options.SetRequestHeader("Authorization", "Bearer " + key);
            await socket.ConnectAsync(context.Uri, ct);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return _socket = new PausableWebSocket(socket);
    }

    public async ValueTask DisposeAsync()
    {
        _socket?.Resume(); // a paused socket would hold up the close handshake
        await _connection.DisposeAsync();
    }
}
