using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace RedisSync.Tests.Realtime;

/// <summary>
/// The official .NET SignalR client on /hubs/sync, over JSON or MessagePack, recording every server message.
/// Whatever the protocol, messages and results are handed out as <see cref="Wire"/> trees, so tests read
/// and compare them the same way.
/// </summary>
internal sealed class SyncClient : IAsyncDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private SyncClient(HubConnection connection, bool messagePack)
    {
        Connection = connection;
        MessagePack = messagePack;
        foreach (var (method, queue) in new[] { ("change", Changes), ("signal", Signals), ("presence", Presence), ("resync", Resyncs) })
            connection.On<object?>(method, message => queue.Add(Wire.Tree(message)));
    }

    public HubConnection Connection { get; }
    public bool MessagePack { get; }
    public string Id => Connection.ConnectionId!;

    public EventQueue Changes { get; } = new("change");
    public EventQueue Signals { get; } = new("signal");
    public EventQueue Presence { get; } = new("presence");
    public EventQueue Resyncs { get; } = new("resync");

    public static async Task<SyncClient> ConnectAsync(Uri gateway, string apiKey, bool messagePack = false)
    {
        var builder = new HubConnectionBuilder()
            .WithUrl(new Uri(gateway, "/hubs/sync"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(apiKey));
        if (messagePack) builder.AddMessagePackProtocol();
        var client = new SyncClient(builder.Build(), messagePack);
        using var cts = new CancellationTokenSource(Wait);
        await client.Connection.StartAsync(cts.Token);
        return client;
    }

    /// <summary>Invokes a hub method; the result as a tree. A hub error throws <see cref="HubException"/>.</summary>
    public async Task<object?> InvokeAsync(string method, params object?[] args)
    {
        using var cts = new CancellationTokenSource(Wait);
        return Wire.Tree(await Connection.InvokeCoreAsync<object?>(method, args, cts.Token));
    }

    public Task<object?> SubscribeAsync(string collection, string? after = null) => InvokeAsync("Subscribe", collection, after);

    /// <summary>The message of a hub error (the server's <c>code: …</c> text).</summary>
    public async Task<string> FailureAsync(string method, params object?[] args)
    {
        var error = await Assert.ThrowsAsync<Microsoft.AspNetCore.SignalR.HubException>(() => InvokeAsync(method, args));
        return ServerMessage(error);
    }

    /// <summary>The server's part of a hub error: the client prefixes "An unexpected error occurred invoking 'X' on the server. HubException: ".</summary>
    public static string ServerMessage(Microsoft.AspNetCore.SignalR.HubException error)
    {
        var at = error.Message.IndexOf("HubException: ", StringComparison.Ordinal);
        return at < 0 ? error.Message : error.Message[(at + "HubException: ".Length)..];
    }

    public async ValueTask DisposeAsync() => await Connection.DisposeAsync();
}

/// <summary>Server messages of one kind, in arrival order, each awaited with a timeout.</summary>
internal sealed class EventQueue(string kind)
{
    private readonly Channel<object?> _events = Channel.CreateUnbounded<object?>();

    public void Add(object? message) => _events.Writer.TryWrite(message);

    /// <summary>The next message; fails after <paramref name="timeout"/> (default <see cref="SyncClient.Wait"/>).</summary>
    public async Task<object?> NextAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? SyncClient.Wait);
        try { return await _events.Reader.ReadAsync(cts.Token); }
        catch (OperationCanceledException) { throw new TimeoutException($"no {kind} message within {timeout ?? SyncClient.Wait}"); }
    }

    /// <summary>Skips messages until one matches; fails after <paramref name="timeout"/>.</summary>
    public async Task<object?> NextWhereAsync(Func<object?, bool> match, TimeSpan? timeout = null)
    {
        var skipped = new List<string>();
        using var cts = new CancellationTokenSource(timeout ?? SyncClient.Wait);
        try
        {
            while (true)
            {
                var message = await _events.Reader.ReadAsync(cts.Token);
                if (match(message)) return message;
                skipped.Add(Wire.Canonical(message));
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no matching {kind} message within {timeout ?? SyncClient.Wait}; skipped: {string.Join(", ", skipped)}");
        }
    }

    /// <summary>True when a message is already waiting (for checks made after an event that must follow it).</summary>
    public bool TryPeek(out object? message) => _events.Reader.TryPeek(out message);
}

/// <summary>
/// One shape for what either protocol delivered: JSON's JsonElement and MessagePack's primitive objects
/// both become trees of SortedDictionary (keys in ordinal order), List, string, long, ulong, double, bool
/// and null. Integers stay integers and floats stay floats, so a value sent as 2 and one sent as 2.0 differ.
/// </summary>
internal static class Wire
{
    private static readonly JsonSerializerOptions Readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static object? Tree(object? value) => value switch
    {
        null => null,
        JsonElement e => FromJson(e),
        string or bool or double => value,
        float f => double.Parse(f.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
        sbyte or short or int or long or byte or ushort or uint => Convert.ToInt64(value, CultureInfo.InvariantCulture),
        ulong u => u <= long.MaxValue ? (long)u : u,
        IDictionary map => FromMap(map),
        IList list => list.Cast<object?>().Select(Tree).ToList(),
        _ => throw new ArgumentException($"a {value.GetType()} is not a JSON value"),
    };

    private static SortedDictionary<string, object?> FromMap(IDictionary map)
    {
        var tree = new SortedDictionary<string, object?>(StringComparer.Ordinal);
        var entries = map.GetEnumerator();
        while (entries.MoveNext()) tree.Add((string)entries.Key, Tree(entries.Value));
        return tree;
    }

    private static object? FromJson(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number when e.TryGetInt64(out var l) => l,
        JsonValueKind.Number when e.TryGetUInt64(out var u) => u,
        JsonValueKind.Number => double.Parse(e.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture),
        JsonValueKind.Array => e.EnumerateArray().Select(FromJson).ToList(),
        _ => new SortedDictionary<string, object?>(e.EnumerateObject().ToDictionary(p => p.Name, p => FromJson(p.Value)), StringComparer.Ordinal),
    };

    /// <summary>A tree as one line of text with sorted keys; doubles always show a fraction or exponent.</summary>
    public static string Canonical(object? tree)
    {
        var text = new StringBuilder();
        Write(text, Tree(tree));
        return text.ToString();
    }

    private static void Write(StringBuilder text, object? node)
    {
        switch (node)
        {
            case null: text.Append("null"); break;
            case bool b: text.Append(b ? "true" : "false"); break;
            case string s: text.Append(JsonSerializer.Serialize(s, Readable)); break;
            case long l: text.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case ulong u: text.Append(u.ToString(CultureInfo.InvariantCulture)).Append('u'); break;
            case double d:
                var r = d.ToString("R", CultureInfo.InvariantCulture);
                text.Append(r).Append(r.IndexOfAny(['.', 'E', 'N', 'I']) < 0 ? ".0" : "");
                break;
            case SortedDictionary<string, object?> map:
                text.Append('{');
                var first = true;
                foreach (var (key, value) in map)
                {
                    if (!first) text.Append(',');
                    first = false;
                    text.Append(JsonSerializer.Serialize(key, Readable)).Append(':');
                    Write(text, value);
                }
                text.Append('}');
                break;
            case List<object?> list:
                text.Append('[');
                for (var i = 0; i < list.Count; i++)
                {
                    if (i > 0) text.Append(',');
                    Write(text, list[i]);
                }
                text.Append(']');
                break;
        }
    }

    /// <summary>The value at a path of object keys, e.g. <c>message.At("member", "connectionId")</c>.</summary>
    public static object? At(this object? tree, params string[] path)
    {
        foreach (var key in path)
        {
            if (tree is not SortedDictionary<string, object?> map || !map.TryGetValue(key, out tree))
                throw new KeyNotFoundException($"no \"{key}\" in {Canonical(tree)}");
        }
        return tree;
    }

    public static string? Text(this object? tree, params string[] path) => (string?)tree.At(path);
}
