using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace RedisSync.Gateway.Store;

/// <summary>
/// Netstrings (<c>len:bytes</c>, length in bytes, no trailing comma): the framing of every value the store
/// writes, so field names and JSON texts need no escaping and a reader never scans for a delimiter.
/// </summary>
internal sealed class NetstringWriter
{
    private readonly ArrayBufferWriter<byte> _buffer;

    public NetstringWriter(int capacity = 256) => _buffer = new ArrayBufferWriter<byte>(capacity);

    public int Length => _buffer.WrittenCount;

    public NetstringWriter Add(string s)
    {
        var length = Encoding.UTF8.GetByteCount(s);
        WriteLength(length);
        var span = _buffer.GetSpan(length);
        Encoding.UTF8.GetBytes(s, span);
        _buffer.Advance(length);
        return this;
    }

    public NetstringWriter Add(long n)
    {
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(n, digits, out var written);
        WriteLength(written);
        digits[..written].CopyTo(_buffer.GetSpan(written));
        _buffer.Advance(written);
        return this;
    }

    /// <summary>A clock as "version|timestampMs|source|site" (sources and sites are ASCII), without a string in between.</summary>
    public NetstringWriter Add(in Merge.Clock clock)
    {
        Span<byte> text = stackalloc byte[44 + clock.Source.Length + clock.Site.Length];
        Utf8Formatter.TryFormat(clock.Version, text, out var n);
        text[n++] = (byte)'|';
        Utf8Formatter.TryFormat(clock.TimestampMs, text[n..], out var m);
        n += m;
        text[n++] = (byte)'|';
        n += Encoding.ASCII.GetBytes(clock.Source, text[n..]);
        text[n++] = (byte)'|';
        n += Encoding.ASCII.GetBytes(clock.Site, text[n..]);
        return Add(text[..n]);
    }

    public NetstringWriter Add(ReadOnlySpan<byte> bytes)
    {
        WriteLength(bytes.Length);
        bytes.CopyTo(_buffer.GetSpan(bytes.Length));
        _buffer.Advance(bytes.Length);
        return this;
    }

    /// <summary>Appends bytes that are already netstrings.</summary>
    public NetstringWriter Raw(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer.GetSpan(bytes.Length));
        _buffer.Advance(bytes.Length);
        return this;
    }

    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    private void WriteLength(int length)
    {
        var span = _buffer.GetSpan(12);
        Utf8Formatter.TryFormat(length, span, out var written);
        span[written] = (byte)':';
        _buffer.Advance(written + 1);
    }
}

/// <summary>Reads netstrings from bytes; throws <see cref="FormatException"/> on anything malformed.</summary>
internal ref struct NetstringReader(ReadOnlySpan<byte> bytes)
{
    private readonly ReadOnlySpan<byte> _bytes = bytes;

    public int Position { get; private set; }

    public readonly bool End => Position >= _bytes.Length;

    public ReadOnlySpan<byte> Next()
    {
        var rest = _bytes[Position..];
        var colon = rest.IndexOf((byte)':');
        if (colon <= 0 || !Utf8Parser.TryParse(rest[..colon], out int length, out var consumed) || consumed != colon
            || length < 0 || colon + 1 + length > rest.Length)
            throw new FormatException("malformed netstring in stored data");
        Position += colon + 1 + length;
        return rest.Slice(colon + 1, length);
    }

    public string NextString() => Encoding.UTF8.GetString(Next());

    public long NextLong()
    {
        var span = Next();
        return Utf8Parser.TryParse(span, out long value, out var consumed) && consumed == span.Length && span.Length > 0
            ? value
            : throw new FormatException("malformed number in stored data");
    }
}
