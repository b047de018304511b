using System.Text.Json;
using System.Text.Json.Serialization;
using RedisSync.Gateway.Contracts;

namespace RedisSync.Gateway.Realtime;

/// <summary>
/// A change event serialized once per gateway instance and written as-is to every connection, instead
/// of being serialized again for each subscriber.
/// </summary>
[JsonConverter(typeof(PreSerializedConverter))]
public sealed class ChangeMessage
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private ChangeMessage(string seq, byte[] utf8) { Seq = seq; Utf8 = utf8; }

    public string Seq { get; }
    public byte[] Utf8 { get; }

    public static ChangeMessage From(ChangeEvent change) => new(change.Seq, JsonSerializer.SerializeToUtf8Bytes(change, Json));

    private sealed class PreSerializedConverter : JsonConverter<ChangeMessage>
    {
        public override ChangeMessage Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            throw new NotSupportedException("change messages are only sent");

        public override void Write(Utf8JsonWriter writer, ChangeMessage value, JsonSerializerOptions options) =>
            writer.WriteRawValue(value.Utf8, skipInputValidation: true);
    }
}

/// <summary>Server → client <c>resync</c>: continuity can no longer be promised; reload and resubscribe.</summary>
public sealed record ResyncMessage(string Collection, string Reason);

/// <summary>Result of hub <c>Subscribe</c>.</summary>
public sealed record SubscribeResult(string Collection, string? Last, int Replayed, bool ResyncRequired);
