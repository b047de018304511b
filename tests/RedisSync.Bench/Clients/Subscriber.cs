using System.Text.Json;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using RedisSync.Bench.Measurement;

namespace RedisSync.Bench.Clients;

/// <summary>
/// What the benchmark reads of a <c>change</c> event, whichever gateway sent it: RedisSync's carries <c>seq</c>,
/// <c>revision</c> and the record view (<c>record.data</c>); the baseline's carries the record's <c>data</c> itself.
/// Only these members are bound; the rest of the event is skipped by the deserializer.
/// </summary>
public sealed class ChangeArrival
{
    public string? Seq { get; init; }
    public long Revision { get; init; }
    public ChangedRecord? Record { get; init; }
    public SentData? Data { get; init; }

    /// <summary>The writer's Stopwatch timestamp carried in the record's data, or -1.</summary>
    public long SentTicks => Record?.Data?.SentTicks ?? Data?.SentTicks ?? -1;
}

public sealed class ChangedRecord
{
    public SentData? Data { get; init; }
}

/// <summary>The <c>sentTicks</c> field the benchmark's writers put in every record (GatewayHttp.RecordData).</summary>
public sealed class SentData
{
    public long SentTicks { get; init; } = -1;
}

/// <summary>Called for every <c>change</c>, with the time the client handed it over.</summary>
public delegate void ChangeReceived(ChangeArrival change, long receivedTicks);

/// <summary>
/// A subscriber on the official .NET SignalR client (JSON protocol, WebSockets without negotiation, as the
/// gateway's own tests connect). The receive time is taken when the client invokes the handler, after it has
/// parsed the message: what an application on this client would see.
/// </summary>
public sealed class Subscriber : IAsyncDisposable
{
    private readonly HubConnection _connection;
    private int _resyncs;
    private int _closed;

    private Subscriber(HubConnection connection) => _connection = connection;

    /// <summary>True once the connection ended (the client does not reconnect here: a drop is a drop).</summary>
    public bool Closed => Volatile.Read(ref _closed) == 1;

    public int Resyncs => Volatile.Read(ref _resyncs);

    public static async Task<Subscriber> ConnectAsync(Uri hub, ChangeReceived? onChange, CancellationToken ct)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(hub, o =>
            {
                o.Transports = HttpTransportType.WebSockets;
                o.SkipNegotiation = true;
            })
            .Build();
        var subscriber = new Subscriber(connection);
        if (onChange is not null) connection.On<ChangeArrival>("change", change => onChange(change, Clock.Now));
        connection.On<JsonElement>("resync", _ => Interlocked.Increment(ref subscriber._resyncs));
        connection.Closed += _ =>
        {
            Volatile.Write(ref subscriber._closed, 1);
            return Task.CompletedTask;
        };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(15));
        try
        {
            await connection.StartAsync(timeout.Token);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
        return subscriber;
    }

    /// <summary>Hub <c>Subscribe(collection, after)</c>; its result, or a HubException with the hub's error.</summary>
    public async Task<object?> SubscribeAsync(string collection, string? after, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        return await _connection.InvokeAsync<object>("Subscribe", collection, after, cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _connection.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException) { } // the process ends soon anyway; a stuck close must not hold the run
    }
}
