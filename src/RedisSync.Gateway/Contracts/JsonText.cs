using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace RedisSync.Gateway.Contracts;

/// <summary>Canonical JSON text of one value: compact, number literals kept exactly as sent.</summary>
public static class JsonText
{
    // Relaxed escaping keeps non-ASCII text readable; the value is the same either way.
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
        MaxDepth = 1000,
    };

    /// <summary>
    /// Re-writes a value compactly. Numbers are copied as their original literal (JsonElement.WriteTo
    /// does not round-trip them through double), so 3.141592653589793 and 2^63 survive untouched.
    /// </summary>
    public static string Canonical(JsonElement value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
            value.WriteTo(writer);
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
