using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace RedisSync.Gateway.Realtime.Payloads;

/// <summary>
/// A JSON value that clients hand to the hub (a signal's payload, presence data), held as a tree that
/// both hub protocols can write: objects are <c>Dictionary&lt;string, object?&gt;</c>, arrays
/// <c>List&lt;object?&gt;</c>, then <c>string</c>, <c>long</c>, <c>ulong</c>, <c>double</c>, <c>bool</c> and null.
/// </summary>
/// <remarks>
/// Arguments arrive as <see cref="JsonElement"/> from JSON clients and as MessagePack's primitive objects
/// from MessagePack clients. Neither may go out again: the backplane serializes every group send once per
/// registered protocol, and MessagePack cannot write a JsonElement (PITFALLS 18). Integers become
/// <c>long</c> (or <c>ulong</c> above its range) whichever protocol carried them, so one value has one tree.
/// </remarks>
internal static class JsonTree
{
    private static readonly JsonWriterOptions Writer = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // as the hub's JSON protocol writes (ApiExtensions.ConfigureJson)
        SkipValidation = true,
    };

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The tree of a hub argument; <see cref="InvalidPayloadException"/> when it is not a JSON value.</summary>
    public static object? FromArgument(object? argument, int maxDepth) => Convert(argument, 1, maxDepth);

    /// <summary>The tree of UTF-8 JSON text this gateway wrote (e.g. presence data kept in Redis).</summary>
    public static object? Parse(ReadOnlyMemory<byte> utf8, int maxDepth)
    {
        using var document = JsonDocument.Parse(utf8, new JsonDocumentOptions { MaxDepth = maxDepth + 1 });
        return Convert(document.RootElement, 1, maxDepth);
    }

    /// <summary>The value as compact JSON text, UTF-8: what a size limit counts, whatever the protocol.</summary>
    public static byte[] ToUtf8(object? tree)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, Writer)) Write(writer, tree);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes the value as JSON.</summary>
    public static void Write(Utf8JsonWriter writer, object? tree)
    {
        switch (tree)
        {
            case null: writer.WriteNullValue(); break;
            case string s: writer.WriteStringValue(s); break;
            case bool b: writer.WriteBooleanValue(b); break;
            case long l: writer.WriteNumberValue(l); break;
            case ulong u: writer.WriteNumberValue(u); break;
            case double d: writer.WriteNumberValue(d); break;
            case Dictionary<string, object?> map:
                writer.WriteStartObject();
                foreach (var (name, value) in map)
                {
                    writer.WritePropertyName(name);
                    Write(writer, value);
                }
                writer.WriteEndObject();
                break;
            case List<object?> list:
                writer.WriteStartArray();
                foreach (var item in list) Write(writer, item);
                writer.WriteEndArray();
                break;
            default: throw new ArgumentException($"{tree.GetType()} is not part of a JSON tree", nameof(tree));
        }
    }

    private static object? Convert(object? value, int depth, int maxDepth) => value switch
    {
        null => null,
        JsonElement element => Convert(element, depth, maxDepth),
        string s => CheckedText(s),
        bool b => b,
        sbyte or short or int or long => System.Convert.ToInt64(value, CultureInfo.InvariantCulture),
        byte or ushort or uint => System.Convert.ToInt64(value, CultureInfo.InvariantCulture),
        ulong u => u <= long.MaxValue ? (long)u : u,
        // float32 → its shortest decimal text → double, so 1.1f arrives as 1.1 and not 1.100000023841858.
        float f => Finite(double.Parse(f.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)),
        double d => Finite(d),
        IDictionary map => ConvertMap(map, depth, maxDepth),
        byte[] => throw new InvalidPayloadException("binary data is not a JSON value"),
        IList list => ConvertList(list, depth, maxDepth),
        _ => throw new InvalidPayloadException($"a {value.GetType().Name} is not a JSON value"),
    };

    private static object? Convert(JsonElement element, int depth, int maxDepth)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Null:
                return null;
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            case JsonValueKind.String:
                try { return element.GetString(); }
                catch (InvalidOperationException) { throw new InvalidPayloadException("a string holds an unpaired surrogate"); }
            case JsonValueKind.Number:
                if (element.TryGetInt64(out var l)) return l;
                if (element.TryGetUInt64(out var u)) return u;
                if (element.TryGetDouble(out var d)) return Finite(d);
                throw new InvalidPayloadException($"the number {element.GetRawText()} is outside the range of a 64-bit float");
            case JsonValueKind.Array:
                Deeper(depth, maxDepth);
                var list = new List<object?>(element.GetArrayLength());
                foreach (var item in element.EnumerateArray()) list.Add(Convert(item, depth + 1, maxDepth));
                return list;
            case JsonValueKind.Object:
                Deeper(depth, maxDepth);
                var map = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var property in element.EnumerateObject())
                {
                    if (!map.TryAdd(property.Name, Convert(property.Value, depth + 1, maxDepth)))
                        throw new InvalidPayloadException($"the key \"{property.Name}\" appears twice in one object");
                }
                return map;
            default:
                throw new InvalidPayloadException("not a JSON value");
        }
    }

    private static Dictionary<string, object?> ConvertMap(IDictionary source, int depth, int maxDepth)
    {
        Deeper(depth, maxDepth);
        var map = new Dictionary<string, object?>(source.Count, StringComparer.Ordinal);
        foreach (DictionaryEntry entry in source)
        {
            if (entry.Key is not string name) throw new InvalidPayloadException("an object key is not a string");
            if (!map.TryAdd(CheckedText(name), Convert(entry.Value, depth + 1, maxDepth)))
                throw new InvalidPayloadException($"the key \"{name}\" appears twice in one object");
        }
        return map;
    }

    private static List<object?> ConvertList(IList source, int depth, int maxDepth)
    {
        Deeper(depth, maxDepth);
        var list = new List<object?>(source.Count);
        foreach (var item in source) list.Add(Convert(item, depth + 1, maxDepth));
        return list;
    }

    private static void Deeper(int depth, int maxDepth)
    {
        if (depth > maxDepth) throw new InvalidPayloadException($"nested deeper than {maxDepth} levels");
    }

    private static double Finite(double d) =>
        double.IsFinite(d) ? d : throw new InvalidPayloadException("NaN and infinities are not JSON numbers");

    // JSON text is Unicode: a lone surrogate (possible in a MessagePack string decoded leniently) is refused,
    // not stored altered.
    private static string CheckedText(string s)
    {
        if (s.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') < 0) return s;
        try { StrictUtf8.GetByteCount(s); }
        catch (EncoderFallbackException) { throw new InvalidPayloadException("a string holds an unpaired surrogate"); }
        return s;
    }
}

/// <summary>A hub argument that is not a JSON value the gateway can pass on.</summary>
internal sealed class InvalidPayloadException(string reason) : Exception(reason);
