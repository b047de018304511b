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
    /// <summary>The canonical text, or null when the value holds an unpaired surrogate escape (not valid Unicode).</summary>
    public static string? TryCanonical(JsonElement value)
    {
        try
        {
            return Canonical(value);
        }
        catch (InvalidOperationException)
        {
            return null; // Utf8JsonWriter refuses to write an unpaired surrogate
        }
    }

    /// <summary>True when every surrogate in <paramref name="s"/> is part of a pair.</summary>
    public static bool IsWellFormed(string s)
    {
        for (var i = 0; i < s.Length; i++)
        {
            if (!char.IsSurrogate(s[i])) continue;
            if (!char.IsHighSurrogate(s[i]) || i + 1 >= s.Length || !char.IsLowSurrogate(s[i + 1])) return false;
            i++;
        }
        return true;
    }

    // One buffer and writer per thread, reset for each value: canonicalizing every field of every write would
    // otherwise allocate both each time.
    [ThreadStatic] private static ArrayBufferWriter<byte>? _buffer;
    [ThreadStatic] private static Utf8JsonWriter? _writer;

    public static string Canonical(JsonElement value)
    {
        var buffer = _buffer ??= new ArrayBufferWriter<byte>(256);
        var writer = _writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        try
        {
            value.WriteTo(writer);
            writer.Flush();
            return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
        }
        finally
        {
            writer.Reset(buffer);
            // Keep no large buffer alive after an unusually large value.
            if (buffer.Capacity > 64 * 1024) (_buffer, _writer) = (null, null);
        }
    }
}
