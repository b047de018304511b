using System.Net;
using System.Net.Sockets;

namespace RedisSync.Bench.Infrastructure;

/// <summary>
/// A TCP relay on a loopback port in front of one gateway, counting every byte that passes each way: what one site
/// exchanges with a peer on the wire (HTTP headers, WebSocket frames and all), where the gateway's own counters see
/// only bodies. Its port is known before the gateway behind it starts, so a peer can be configured with it first.
/// </summary>
public sealed class TcpRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _pumps = [];
    private readonly Task _accepting;
    private long _toTarget;
    private long _fromTarget;
    private int _targetPort;

    public TcpRelay()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public Uri Address => new($"http://127.0.0.1:{Port}/");

    /// <summary>Bytes the callers sent to the gateway behind the relay (requests).</summary>
    public long BytesToTarget => Interlocked.Read(ref _toTarget);

    /// <summary>Bytes the gateway sent back (responses, hub frames).</summary>
    public long BytesFromTarget => Interlocked.Read(ref _fromTarget);

    /// <summary>Where connections go from now on; until set, each accepted connection is closed at once (peer away).</summary>
    public void Forward(int targetPort) => Volatile.Write(ref _targetPort, targetPort);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket caller;
            try { caller = await _listener.AcceptSocketAsync(_stop.Token); }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { return; }
            lock (_pumps)
            {
                _pumps.RemoveAll(t => t.IsCompleted);
                _pumps.Add(RelayAsync(caller));
            }
        }
    }

    private async Task RelayAsync(Socket caller)
    {
        using var _ = caller;
        var port = Volatile.Read(ref _targetPort);
        if (port == 0) return;
        using var target = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        caller.NoDelay = true;
        try
        {
            await target.ConnectAsync(IPAddress.Loopback, port, _stop.Token);
            // Whichever side closes first ends both directions: HTTP keep-alive connections end by a close, not a half-close.
            await Task.WhenAny(PumpAsync(caller, target, c => Interlocked.Add(ref _toTarget, c)),
                               PumpAsync(target, caller, c => Interlocked.Add(ref _fromTarget, c)));
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
    }

    private async Task PumpAsync(Socket from, Socket to, Action<int> count)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (n == 0) return;
                count(n);
                for (var sent = 0; sent < n;)
                    sent += await to.SendAsync(buffer.AsMemory(sent, n - sent), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        Task[] pumps;
        lock (_pumps) pumps = [.. _pumps, _accepting];
        try { await Task.WhenAll(pumps).WaitAsync(TimeSpan.FromSeconds(5)); }
        catch (TimeoutException) { } // a socket stuck in the kernel must not hold the run
        _stop.Dispose();
    }
}
