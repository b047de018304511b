using System.Text.Json;
using System.Text.Json.Serialization;
using MessagePack;
using MessagePack.Formatters;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using RedisSync.Gateway.Contracts;
using RedisSync.Gateway.Realtime.Payloads;

namespace RedisSync.Gateway.Realtime;

// Every server → client message has one content in both hub protocols: its JSON (camelCase, the shapes of
// CONTRACT §4 and §7), and for MessagePack that JSON transcoded. The [MessagePackFormatter] attributes win
// over SignalR's contractless resolver, which would otherwise write PascalCase member names.

/// <summary>
/// A change event serialized once per gateway instance and written as-is to every connection, instead
/// of being serialized again for each subscriber.
/// </summary>
[JsonConverter(typeof(PreSerializedConverter))]
[MessagePackFormatter(typeof(PreSerializedFormatter))]
public sealed class ChangeMessage
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private byte[]? _messagePack;
    private SerializedHubMessage? _invocation;

    private ChangeMessage(string seq, byte[] utf8) { Seq = seq; Utf8 = utf8; }

    public string Seq { get; }
    public byte[] Utf8 { get; }

    /// <summary>
    /// The same event in MessagePack, transcoded from <see cref="Utf8"/> on first use (only instances with
    /// MessagePack subscribers pay for it) and then shared by every such connection.
    /// </summary>
    public byte[] MessagePack => LazyInitializer.EnsureInitialized(ref _messagePack, () => MessagePackTranscoder.FromJson(Utf8));

    /// <summary>
    /// The whole hub invocation <c>change(this)</c>, serialized at most once per hub protocol and written as the
    /// same bytes to every local subscriber (<see cref="ClientConnection"/>).
    /// </summary>
    public SerializedHubMessage Invocation => LazyInitializer.EnsureInitialized(ref _invocation, () => new SerializedHubMessage(new InvocationMessage("change", [this])));

    public static ChangeMessage From(ChangeEvent change) => new(change.Seq, JsonSerializer.SerializeToUtf8Bytes(change, Json));

    private sealed class PreSerializedConverter : JsonConverter<ChangeMessage>
    {
        public override ChangeMessage Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            throw new NotSupportedException("change messages are only sent");

        public override void Write(Utf8JsonWriter writer, ChangeMessage value, JsonSerializerOptions options) =>
            writer.WriteRawValue(value.Utf8, skipInputValidation: true);
    }

    internal sealed class PreSerializedFormatter : IMessagePackFormatter<ChangeMessage?>
    {
        public void Serialize(ref MessagePackWriter writer, ChangeMessage? value, MessagePackSerializerOptions options)
        {
            if (value is null) writer.WriteNil();
            else writer.WriteRaw(value.MessagePack);
        }

        public ChangeMessage? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options) =>
            throw new NotSupportedException("change messages are only sent");
    }
}

/// <summary>Server → client <c>resync</c>: continuity can no longer be promised; reload and resubscribe.</summary>
[MessagePackFormatter(typeof(JsonTranscodedFormatter<ResyncMessage>))]
public sealed record ResyncMessage(string Collection, string Reason);

/// <summary>Result of hub <c>Subscribe</c>.</summary>
[MessagePackFormatter(typeof(JsonTranscodedFormatter<SubscribeResult>))]
public sealed record SubscribeResult(string Collection, string? Last, int Replayed, bool ResyncRequired);

/// <summary>
/// Server → client <c>signal</c> (CONTRACT §7): an ephemeral message from another subscriber. The payload is
/// a JSON tree (<see cref="JsonTree"/>), never a JsonElement.
/// </summary>
[MessagePackFormatter(typeof(JsonTranscodedFormatter<SignalMessage>))]
public sealed record SignalMessage(string Collection, SignalSender From, object? Payload);

/// <summary>Who sent a signal, set by the server, never by the sender: its connection and API key name (null when auth is off).</summary>
public sealed record SignalSender(string ConnectionId, string? Key);

/// <summary>
/// A connection subscribed to a collection, as others see it: its API key name, what it said about itself
/// (a JSON object tree, or null), and since when (ISO 8601 UTC with milliseconds, like <c>updatedAt</c>).
/// </summary>
public sealed record PresenceMember(string ConnectionId, string? Key, object? Data, string Since);

/// <summary>Server → client <c>presence</c>: a member joined, updated its data, or left (action <c>join</c>, <c>update</c>, <c>leave</c>).</summary>
[MessagePackFormatter(typeof(JsonTranscodedFormatter<PresenceMessage>))]
public sealed record PresenceMessage(string Collection, string Action, PresenceMember Member);

/// <summary>Result of hub <c>Presence</c>: every member across all instances, by <c>since</c> then <c>connectionId</c>.</summary>
[MessagePackFormatter(typeof(JsonTranscodedFormatter<PresenceList>))]
public sealed record PresenceList(string Collection, IReadOnlyList<PresenceMember> Members);
