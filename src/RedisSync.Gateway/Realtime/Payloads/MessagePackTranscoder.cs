using System.Buffers;
using System.Globalization;
using System.Text.Json;
using MessagePack;
using MessagePack.Formatters;

namespace RedisSync.Gateway.Realtime.Payloads;

/// <summary>
/// Turns the JSON text of a server → client message into the same value in MessagePack: objects as maps
/// with the same (camelCase) keys, arrays, strings, booleans, nil; integers that fit a 64-bit integer as
/// MessagePack integers, every other number as a float64. MessagePack clients so receive what JSON
/// clients receive, by construction, whatever the message type holds.
/// </summary>
internal static class MessagePackTranscoder
{
    // Record data may nest as deep as Sync:MaxJsonDepth allows (at most 256), inside the message around it.
    private static readonly JsonDocumentOptions Reading = new() { MaxDepth = 1024 };

    public static byte[] FromJson(ReadOnlyMemory<byte> utf8)
    {
        using var document = JsonDocument.Parse(utf8, Reading);
        var buffer = new ArrayBufferWriter<byte>(utf8.Length);
        var writer = new MessagePackWriter(buffer);
        Write(ref writer, document.RootElement);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private static void Write(ref MessagePackWriter writer, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var count = 0;
                foreach (var _ in element.EnumerateObject()) count++;
                writer.WriteMapHeader(count);
                foreach (var property in element.EnumerateObject())
                {
                    writer.Write(property.Name);
                    Write(ref writer, property.Value);
                }
                break;
            case JsonValueKind.Array:
                writer.WriteArrayHeader(element.GetArrayLength());
                foreach (var item in element.EnumerateArray()) Write(ref writer, item);
                break;
            case JsonValueKind.String:
                writer.Write(element.GetString());
                break;
            case JsonValueKind.Number:
                if (element.TryGetInt64(out var l)) writer.Write(l);
                else if (element.TryGetUInt64(out var u)) writer.Write(u);
                // Beyond float64's range the literal still parses, to ±infinity, which is what JSON.parse gives.
                else writer.Write(double.Parse(element.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture));
                break;
            case JsonValueKind.True:
                writer.Write(true);
                break;
            case JsonValueKind.False:
                writer.Write(false);
                break;
            default:
                writer.WriteNil();
                break;
        }
    }
}

/// <summary>
/// The MessagePack form of a server → client message type: its JSON serialization (exactly what JSON
/// clients get), transcoded. Costs one extra serialization per send, which is small for signals, presence
/// and call results; change events do it once per change instead (<see cref="ChangeMessage"/>).
/// </summary>
internal sealed class JsonTranscodedFormatter<T> : IMessagePackFormatter<T?> where T : class
{
    public void Serialize(ref MessagePackWriter writer, T? value, MessagePackSerializerOptions options)
    {
        if (value is null)
        {
            writer.WriteNil();
            return;
        }
        writer.WriteRaw(MessagePackTranscoder.FromJson(JsonSerializer.SerializeToUtf8Bytes(value, HubJson.Messages)));
    }

    public T? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options) =>
        throw new NotSupportedException($"{typeof(T).Name} is only sent, never received");
}

/// <summary>The JSON form of server → client messages, as the hub's JSON protocol writes them.</summary>
internal static class HubJson
{
    /// <summary>camelCase members, dictionary keys as they are, non-ASCII unescaped.</summary>
    public static readonly JsonSerializerOptions Messages = new(JsonSerializerDefaults.Web)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        MaxDepth = 1024,
    };
}
