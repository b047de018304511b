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

    public static string Canonical(JsonElement value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
            value.WriteTo(writer);
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
