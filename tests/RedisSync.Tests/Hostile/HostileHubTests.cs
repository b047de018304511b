using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Api.Http;

namespace RedisSync.Tests.Hostile;

/// <summary>How the server must answer a hostile hub message.</summary>
public enum HubAnswer
{
    /// <summary>A completion with an error for invocation "h"; the connection stays open and usable.</summary>
    Error,
    /// <summary>No answer at all (fire-and-forget, ignored message types); the connection stays usable.</summary>
    Silent,
    /// <summary>The server closes the connection (a close message with an error, or a WebSocket close).</summary>
    Closed,
    /// <summary>A completion without an error (a harmless no-op); the connection stays usable.</summary>
    NoOp,
    /// <summary>Either ignored (later invocations are answered) or the connection is closed; never a connection left hanging.</summary>
    IgnoredOrClosed,
}

/// <summary>One hostile hub message: the frame's payload and type, and the answer it must get.</summary>
internal sealed record HubCase(string Name, byte[] Payload, HubAnswer Answer, string? ErrorContains = null,
    WebSocketMessageType FrameType = WebSocketMessageType.Text);

/// <summary>
/// Issue #4, hub side: each hostile message to /hubs/sync gets a hub error (or is ignored, or closes that one
/// connection), Redis is untouched, a connection that was already subscribed keeps receiving, and a fresh
/// connection can subscribe and receive a change.
/// </summary>
public sealed class HostileHubTests(HostileGateway gateway) : IClassFixture<HostileGateway>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private static int _n;

    private static byte[] Frame(string text) => [.. Encoding.UTF8.GetBytes(text), 0x1E];
    private static byte[] Invoke(string target, string args) =>
        Frame($$"""{"type":1,"invocationId":"h","target":"{{target}}","arguments":{{args}}}""");
    private static string Q(string s) => JsonSerializer.Serialize(s);

    // SignalR answers an argument it cannot bind with this (the gateway's code never runs).
    private const string BindingFailure = "Failed to invoke 'Subscribe'";
    private const string Validation = "HubException: validation:";

    internal static readonly IReadOnlyDictionary<string, HubCase> Cases = Build().ToDictionary(c => c.Name, StringComparer.Ordinal);

    private static IEnumerable<HubCase> Build()
    {
        // Arguments of the wrong type: the hub takes raw JSON and answers with the contract's validation code.
        // A wrong number of arguments fails in SignalR's binder, before the hub: its generic message.
        yield return new("Subscribe(collection: a number)", Invoke("Subscribe", "[5,null]"), HubAnswer.Error, Validation);
        yield return new("Subscribe(collection: an object)", Invoke("Subscribe", """[{"a":1},null]"""), HubAnswer.Error, Validation);
        yield return new("Subscribe(collection: an array)", Invoke("Subscribe", """[["alpha"],null]"""), HubAnswer.Error, Validation);
        yield return new("Subscribe(collection: true)", Invoke("Subscribe", "[true,null]"), HubAnswer.Error, Validation);
        yield return new("Subscribe(collection: null)", Invoke("Subscribe", "[null,null]"), HubAnswer.Error, Validation);
        yield return new("Subscribe(after: a number)", Invoke("Subscribe", """["alpha",5]"""), HubAnswer.Error, Validation);
        yield return new("Subscribe(after: an object)", Invoke("Subscribe", """["alpha",{}]"""), HubAnswer.Error, Validation);
        yield return new("Subscribe with no arguments", Invoke("Subscribe", "[]"), HubAnswer.Error, BindingFailure);
        yield return new("Subscribe with one argument", Invoke("Subscribe", """["alpha"]"""), HubAnswer.Error, BindingFailure);
        yield return new("Subscribe with an extra argument", Invoke("Subscribe", """["alpha",null,3]"""), HubAnswer.Error, BindingFailure);
        yield return new("Subscribe with 5,000 arguments", Invoke("Subscribe", "[" + string.Join(",", Enumerable.Repeat("1", 5000)) + "]"), HubAnswer.Error, BindingFailure);
        yield return new("Subscribe(collection: lone surrogate)", Invoke("Subscribe", """["\ud800",null]"""), HubAnswer.Error, Validation);

        // Names that break CONTRACT §1, and key tricks.
        foreach (var (what, name) in new[]
        {
            ("a:b", "a:b"), ("{x}", "{x}"), ("alpha}", "alpha}"), ("*", "*"), ("..", ".."), ("trailing newline", "alpha\n"), ("NUL", "alpha\0"),
            ("%00 literally", "alpha%00"), ("Cyrillic lookalike", "\u0430lpha"), ("RTL override", "\u202Ealpha"), ("upper case", "ALPHA"),
            ("65 characters", new string('a', 65)), ("empty", ""), ("a Redis key", "rs:{alpha}:log"),
        })
            yield return new($"Subscribe(collection: {what})", Invoke("Subscribe", $"[{Q(name)},null]"), HubAnswer.Error, Validation);

        // after values that are not seqs.
        foreach (var (what, after) in new[]
        {
            ("abc", "abc"), ("-1", "-1"), ("1-", "1-"), ("-1-0", "-1-0"), ("overflow 99999999999999999999-0", "99999999999999999999-0"), ("empty", ""),
            ("trailing newline", "1-0\n"), ("trailing NUL", "1-0\0"), ("leading space", " 1-0"), ("three parts", "1-0-0"), ("+", "+"), ("$", "$"),
            ("fullwidth digits", "１-０"), ("Arabic-Indic digits", "١-٠"), ("30 KB long", new string('1', 30_000) + "-0"),
        })
            yield return new($"Subscribe(after: {what})", Invoke("Subscribe", $"[\"alpha\",{Q(after)}]"), HubAnswer.Error, Validation);

        yield return new("Unsubscribe(a number)", Invoke("Unsubscribe", "[5]"), HubAnswer.Error, Validation);
        yield return new("Unsubscribe with no arguments", Invoke("Unsubscribe", "[]"), HubAnswer.Error, "Failed to invoke 'Unsubscribe'");
        yield return new("Unknown method", Invoke("DropEverything", "[]"), HubAnswer.Error, "Method does not exist");
        yield return new("Hub lifecycle method OnConnectedAsync", Invoke("OnConnectedAsync", "[]"), HubAnswer.Error, "Method does not exist");
        yield return new("Hub lifecycle method OnDisconnectedAsync", Invoke("OnDisconnectedAsync", "[null]"), HubAnswer.Error, "Method does not exist");
        yield return new("Object method Dispose", Invoke("Dispose", "[]"), HubAnswer.Error, "Method does not exist");
        yield return new("Streaming invocation of Subscribe", Frame("""{"type":4,"invocationId":"h","target":"Subscribe","arguments":["alpha",null]}"""), HubAnswer.Error, "non-streaming");

        // Nothing to answer.
        yield return new("Fire-and-forget Subscribe with bad arguments", Frame("""{"type":1,"target":"Subscribe","arguments":[5,{}]}"""), HubAnswer.Silent);
        yield return new("Fire-and-forget Subscribe to a bad name", Frame("""{"type":1,"target":"Subscribe","arguments":["a:b",null]}"""), HubAnswer.Silent);
        yield return new("Fire-and-forget unknown method", Frame("""{"type":1,"target":"DropEverything","arguments":[]}"""), HubAnswer.Silent);
        yield return new("Message of an unknown type", Frame("""{"type":99,"invocationId":"h"}"""), HubAnswer.IgnoredOrClosed);
        yield return new("A completion sent by the client", Frame("""{"type":3,"invocationId":"h","result":1}"""), HubAnswer.Silent);
        yield return new("A cancel of nothing", Frame("""{"type":5,"invocationId":"h"}"""), HubAnswer.Silent);
        yield return new("Unsubscribe from a bad name", Invoke("Unsubscribe", "[\"a:b\"]"), HubAnswer.Error, Validation);
        yield return new("Unsubscribe from null", Invoke("Unsubscribe", "[null]"), HubAnswer.Error, Validation);

        // Messages the protocol cannot read: that connection is closed (others are not).
        yield return new("Non-JSON frame", Frame("hello"), HubAnswer.Closed);
        yield return new("Truncated JSON", Frame("""{"type":1,"invocationId":"h","target":"Subscribe","arguments":["alpha","""), HubAnswer.Closed);
        yield return new("Record separator only", [0x1E], HubAnswer.Closed);
        yield return new("Message without a type", Frame("""{"target":"Subscribe","arguments":["alpha",null]}"""), HubAnswer.Closed);
        yield return new("Type as a string", Frame("""{"type":"1","invocationId":"h","target":"Subscribe","arguments":["alpha",null]}"""), HubAnswer.Closed);
        yield return new("Message is an array", Frame("[1,2]"), HubAnswer.Closed);
        yield return new("Arguments not an array", Frame("""{"type":1,"invocationId":"h","target":"Subscribe","arguments":"alpha"}"""), HubAnswer.Closed);
        yield return new("Invocation without arguments", Frame("""{"type":1,"invocationId":"h","target":"Subscribe"}"""), HubAnswer.Closed);
        yield return new("Invocation without a target", Frame("""{"type":1,"invocationId":"h","arguments":[]}"""), HubAnswer.Closed);
        yield return new("Target a number", Frame("""{"type":1,"invocationId":"h","target":5,"arguments":[]}"""), HubAnswer.Closed);
        yield return new("InvocationId a number", Frame("""{"type":1,"invocationId":1,"target":"Subscribe","arguments":["alpha",null]}"""), HubAnswer.Closed);
        yield return new("Headers of the wrong shape", Frame("""{"type":1,"invocationId":"h","target":"Subscribe","arguments":["alpha",null],"headers":{"a":5}}"""), HubAnswer.Closed);
        yield return new("A second handshake", Frame("""{"protocol":"json","version":1}"""), HubAnswer.Closed);
        yield return new("Argument nested 100 deep", Invoke("Subscribe", "[" + new string('[', 100) + new string(']', 100) + ",null]"), HubAnswer.Closed);
        yield return new("Message over 32 KB", Invoke("Subscribe", $"[\"alpha\",{Q(new string('x', 40_000))}]"), HubAnswer.Closed);
        yield return new("Message of 1 MB", Invoke("Subscribe", $"[\"alpha\",{Q(new string('x', 1024 * 1024))}]"), HubAnswer.Closed);
        yield return new("Binary frame", [1, 2, 3, 0x1E], HubAnswer.Closed, FrameType: WebSocketMessageType.Binary);
        yield return new("Text frame of invalid UTF-8", [(byte)'{', 0xFF, (byte)'}', 0x1E], HubAnswer.Closed);
    }

    public static TheoryData<string> CaseNames => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task AHostileHubMessageGetsItsAnswerAndTheGatewayKeepsServingEveryoneElse(string name)
    {
        var @case = Cases[name];
        await using var bystander = await gateway.ConnectHubAsync();
        await bystander.SubscribeAsync(HostileGateway.Canary);
        var before = await gateway.SnapshotAsync();

        await using (var hostile = await RawHubConnection.ConnectAsync(gateway.Address, TestKeys.Writer))
        {
            try
            {
                await hostile.SendAsync(@case.Payload, @case.FrameType);
            }
            catch (WebSocketException) when (@case.Answer == HubAnswer.Closed) { } // closed while we were still sending
            switch (@case.Answer)
            {
                case HubAnswer.Error:
                    var completion = await hostile.CompletionAsync("h");
                    Assert.False(completion.TryGetProperty("result", out _), $"{name}: expected an error, got {completion.GetRawText()}");
                    var error = completion.GetProperty("error").GetString()!;
                    Assert.True(error.Contains(@case.ErrorContains!, StringComparison.Ordinal), $"{name}: expected an error containing '{@case.ErrorContains}', got '{error}'");
                    await AssertUsableAsync(hostile);
                    break;
                case HubAnswer.NoOp:
                    var done = await hostile.CompletionAsync("h");
                    Assert.False(done.TryGetProperty("error", out _), $"{name}: expected a plain completion, got {done.GetRawText()}");
                    await AssertUsableAsync(hostile);
                    break;
                case HubAnswer.IgnoredOrClosed:
                    await hostile.SendTextAsync("""{"type":1,"invocationId":"ok","target":"Subscribe","arguments":["gamma-1",null]}""");
                    var answered = hostile.CompletionAsync("ok", TimeSpan.FromSeconds(10));
                    await Task.WhenAny(answered, hostile.Closed, Task.Delay(TimeSpan.FromSeconds(11)));
                    Assert.True(answered.IsCompletedSuccessfully || hostile.Closed.IsCompleted,
                        $"{name}: the connection neither answered the next invocation nor was closed within 10 s: it hangs (every later invocation on it waits forever)");
                    break;
                case HubAnswer.Silent:
                    // Messages on one connection are handled in order: once "ok" completes, the one before was handled.
                    var skipped = new List<JsonElement>();
                    await hostile.SendTextAsync("""{"type":1,"invocationId":"ok","target":"Subscribe","arguments":["gamma-1",null]}""");
                    var ok = await hostile.NextAsync(m => RawHubConnection.Type(m) == 3 && m.GetProperty("invocationId").GetString() == "ok", Wait, skipped);
                    Assert.True(ok.TryGetProperty("result", out _), ok.GetRawText());
                    Assert.True(skipped.Count == 0, $"{name}: expected no answer, got {string.Join(" ", skipped.Select(s => s.GetRawText()))}");
                    break;
                case HubAnswer.Closed:
                    var closing = await hostile.NextAsync(m => RawHubConnection.Type(m) == 7, Wait).ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : (JsonElement?)null);
                    if (closing is { } close)
                        Assert.True(close.TryGetProperty("error", out var e) && !string.IsNullOrEmpty(e.GetString()), $"{name}: close without an error: {close.GetRawText()}");
                    var status = await hostile.Closed.WaitAsync(Wait);
                    Assert.True(closing is not null || hostile.Aborted || status is not null and not WebSocketCloseStatus.NormalClosure,
                        $"{name}: the connection closed normally without a close message saying why ({status})");
                    break;
            }
        }

        before.AssertUnchanged(await gateway.SnapshotAsync(), name);
        await AssertEveryoneIsServedAsync(bystander);
    }

    private static async Task AssertUsableAsync(RawHubConnection connection)
    {
        var ok = await connection.InvokeAsync("ok", "Subscribe", """["gamma-1",null]""");
        Assert.Equal("gamma-1", ok.GetProperty("result").GetProperty("collection").GetString());
    }

    /// <summary>A change written now reaches the connection that was subscribed before, and a brand-new one.</summary>
    private async Task AssertEveryoneIsServedAsync(HubTestClient bystander)
    {
        await using var fresh = await gateway.ConnectHubAsync();
        var sub = await fresh.SubscribeAsync(HostileGateway.Canary);
        Assert.False(sub.GetProperty("resyncRequired").GetBoolean());
        using var http = gateway.HttpClient();
        var id = $"hub-{Interlocked.Increment(ref _n)}";
        (await http.PutAsJsonAsync(Record(HostileGateway.Canary, id), new { version = 1, data = new { id } })).EnsureSuccessStatusCode();
        foreach (var client in new[] { bystander, fresh })
        {
            var received = await Realtime.RealtimeHelpers.ChangesUntilAsync(client, id, Wait);
            Assert.Equal(id, received[^1].GetProperty("record").GetProperty("data").GetProperty("id").GetString());
        }
    }

    [Fact]
    public async Task AFireAndForgetSubscribeSubscribes()
    {
        var c = "fire-and-forget";
        await using var hub = await RawHubConnection.ConnectAsync(gateway.Address, TestKeys.Writer);
        await hub.SendTextAsync($$"""{"type":1,"target":"Subscribe","arguments":["{{c}}",null]}""");
        await AssertUsableAsync(hub); // handled in order: the subscription exists once this returns
        using var http = gateway.HttpClient();
        (await http.PutAsJsonAsync(Record(c, "x"), new { version = 1, data = new { x = 1 } })).EnsureSuccessStatusCode();
        var change = await hub.NextAsync(m => RawHubConnection.Type(m) == 1 && m.GetProperty("target").GetString() == "change", Wait);
        Assert.Equal("x", change.GetProperty("arguments")[0].GetProperty("id").GetString());
    }

    [Fact]
    public async Task OddButValidFieldsArrivePushedExactlyAsWritten()
    {
        // Every accepted odd field of AcceptedInputTests at once (the large ones stay in the HTTP tests),
        // plus a value nested to the deepest a body allows: the pushed change carries them unaltered.
        var c = "hub-odd";
        var fields = AcceptedInputTests.Cases.Values.Where(f => f.Json.Length < 10_000).ToList();
        await using var hub = await RawHubConnection.ConnectAsync(gateway.Address, TestKeys.Writer);
        await hub.InvokeAsync("s", "Subscribe", $"[\"{c}\",null]");
        using var http = gateway.HttpClient();

        for (var i = 0; i < fields.Count; i++)
        {
            var f = fields[i];
            var body = $$$"""{"version":1,"data":{{{"{" + JsonSerializer.Serialize(f.Field) + ":" + f.Json + "}"}}}}""";
            (await http.PutRawAsync(Record(c, $"r{i}"), body)).EnsureSuccessStatusCode();
            var change = await hub.NextAsync(m => RawHubConnection.Type(m) == 1 && m.GetProperty("target").GetString() == "change", Wait);
            var e = change.GetProperty("arguments")[0];
            Assert.Equal($"r{i}", e.GetProperty("id").GetString());
            AcceptedInputTests.AssertExactly(f, e.GetProperty("record").GetProperty("data"), $"hub ({f.Name})");
        }

        var deep = new string('[', 61) + "{}" + new string(']', 61); // 62 levels: body 1 + data 2 + 62 = 64
        (await http.PutRawAsync(Record(c, "deep"), $$$"""{"version":1,"data":{"deep":{{{deep}}}}}""")).EnsureSuccessStatusCode();
        var deepChange = await hub.NextAsync(m => RawHubConnection.Type(m) == 1 && m.GetProperty("target").GetString() == "change", Wait);
        Assert.Equal(deep, deepChange.GetProperty("arguments")[0].GetProperty("record").GetProperty("data").GetProperty("deep").GetRawText());
    }
}
