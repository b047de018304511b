using System.Net;
using System.Net.Sockets;

namespace RedisSync.Tests.Fixtures;

/// <summary>
/// A TCP relay on a fixed loopback port that forwards every connection to a target port: the one network path
/// between two sites, which a test can cut for real. <see cref="Stop"/> closes the listener and every connection
/// it carries (a peer then sees refused connections and reset sockets, as in a partition); <see cref="Start"/>
/// listens again on the same port, so the peer's configured URL works again.
/// </summary>
public sealed class TcpRelay : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly HashSet<Socket> _sockets = [];
    private Socket? _listener;
    private CancellationTokenSource? _running;
    private Task _accepting = Task.CompletedTask;

    private TcpRelay(int port, int targetPort) => (Port, _targetPort) = (port, targetPort);

    /// <summary>The port the relay listens on.</summary>
    public int Port { get; }

    /// <summary>The port every new connection is forwarded to (on 127.0.0.1); a restarted target may have a new one.</summary>
    public int TargetPort
    {
        get => Volatile.Read(ref _targetPort);
        set => Volatile.Write(ref _targetPort, value);
    }
    private int _targetPort;

    public bool IsRunning { get { lock (_gate) return _listener is not null; } }

    /// <summary>Connections carried so far (for a test that wants to see the path was used).</summary>
    public int Connections => Volatile.Read(ref _connections);
    private int _connections;

    /// <summary>A relay on <paramref name="port"/> to <paramref name="targetPort"/>, not yet listening.</summary>
    public static TcpRelay To(int port, int targetPort) => new(port, targetPort);

    /// <summary>Listens (again) on <see cref="Port"/>.</summary>
    public void Start()
    {
        lock (_gate)
        {
            if (_listener is not null) return;
            var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            // The port was in use a moment ago (connections of the previous run may linger in TIME_WAIT).
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, Port));
            listener.Listen(128);
            _listener = listener;
            _running = new CancellationTokenSource();
            _accepting = AcceptAsync(listener, _running.Token);
        }
    }

    /// <summary>Closes the listener and every connection in flight; new connections are refused until <see cref="Start"/>.</summary>
    public void Stop()
    {
        Socket[] open;
        lock (_gate)
        {
            if (_listener is null) return;
            _running!.Cancel();
            _listener.Dispose();
            _listener = null;
            open = [.. _sockets];
            _sockets.Clear();
        }
        // A reset, not a graceful close: a cut cable says nothing to either end.
        foreach (var socket in open) Abort(socket);
    }

    private async Task AcceptAsync(Socket listener, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket client;
            try { client = await listener.AcceptAsync(ct); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            _ = CarryAsync(client, ct);
        }
    }

    private async Task CarryAsync(Socket client, CancellationToken ct)
    {
        var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        if (!Track(client) || !Track(upstream))
        {
            Abort(client);
            Abort(upstream);
            return;
        }
        Interlocked.Increment(ref _connections);
        try
        {
            await upstream.ConnectAsync(new IPEndPoint(IPAddress.Loopback, TargetPort), ct);
            // Each direction ends when its source closes; the other is then closed too.
            await Task.WhenAny(PumpAsync(client, upstream, ct), PumpAsync(upstream, client, ct));
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { }
        finally
        {
            lock (_gate)
            {
                _sockets.Remove(client);
                _sockets.Remove(upstream);
            }
            Abort(client);
            Abort(upstream);
        }
    }

    private static async Task PumpAsync(Socket from, Socket to, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, SocketFlags.None, ct);
                if (n == 0) return;
                var sent = 0;
                while (sent < n) sent += await to.SendAsync(buffer.AsMemory(sent, n - sent), SocketFlags.None, ct);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { }
    }

    private bool Track(Socket socket)
    {
        lock (_gate)
        {
            if (_listener is null) return false;
            _sockets.Add(socket);
            return true;
        }
    }

    private static void Abort(Socket socket)
    {
        try { socket.LingerState = new LingerOption(true, 0); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        socket.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        Stop();
        try { await _accepting; } catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException) { }
    }
}
