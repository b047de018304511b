using System.Net;
using System.Net.Sockets;
using System.Text;

namespace RedisSync.Tests.Hostile;

/// <summary>A response as read off the socket.</summary>
internal sealed record RawResponse(HttpStatusCode Status, string? ContentType, string Body);

/// <summary>
/// HTTP/1.1 over a bare TCP socket, for request targets that HttpClient (System.Uri) would normalize
/// before sending (dot segments, escapes of unreserved characters): the target goes on the wire byte
/// for byte as written.
/// </summary>
internal static class RawHttp
{
    /// <summary>
    /// Sends one request. The body is written while the response is read, and a failed write is ignored: a
    /// server may answer (413) and close before it has read a body it refuses, which is its right.
    /// With <paramref name="chunked"/>, the body goes as 64 KB chunks without a Content-Length.
    /// </summary>
    public static async Task<RawResponse> SendAsync(Uri server, string method, string target, string? apiKey,
        byte[]? body = null, string? contentType = "application/json", TimeSpan? timeout = null, bool chunked = false)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.Host, server.Port, cts.Token);
        await using var stream = tcp.GetStream();

        var head = new StringBuilder();
        head.Append(method).Append(' ').Append(target).Append(" HTTP/1.1\r\n");
        head.Append("Host: ").Append(server.Authority).Append("\r\n");
        head.Append("Connection: close\r\n");
        if (apiKey is not null) head.Append("X-Api-Key: ").Append(apiKey).Append("\r\n");
        if (body is not null)
        {
            if (contentType is not null) head.Append("Content-Type: ").Append(contentType).Append("\r\n");
            head.Append(chunked ? "Transfer-Encoding: chunked" : $"Content-Length: {body.Length}").Append("\r\n");
        }
        head.Append("\r\n");
        // The target may hold bytes outside ASCII on purpose: Latin-1 maps each char to one byte.
        await stream.WriteAsync(Encoding.Latin1.GetBytes(head.ToString()), cts.Token);
        var writing = body is null ? Task.CompletedTask : WriteBodyAsync(stream, body, chunked, cts.Token);

        using var all = new MemoryStream();
        var buffer = new byte[64 * 1024];
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, cts.Token)) > 0) all.Write(buffer, 0, n);
        }
        catch (IOException) when (all.Length > 0) { } // reset after the response: what arrived is the answer
        await writing;
        return Parse(all.ToArray());
    }

    private static async Task WriteBodyAsync(Stream stream, byte[] body, bool chunked, CancellationToken ct)
    {
        try
        {
            if (!chunked)
            {
                await stream.WriteAsync(body, ct);
                return;
            }
            for (var i = 0; i < body.Length; i += 64 * 1024)
            {
                var n = Math.Min(64 * 1024, body.Length - i);
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"{n:x}\r\n"), ct);
                await stream.WriteAsync(body.AsMemory(i, n), ct);
                await stream.WriteAsync("\r\n"u8.ToArray(), ct);
            }
            await stream.WriteAsync("0\r\n\r\n"u8.ToArray(), ct);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException) { }
    }

    private static RawResponse Parse(byte[] bytes)
    {
        var text = Encoding.Latin1.GetString(bytes);
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(end > 0, "no complete HTTP response: " + text);
        var lines = text[..end].Split("\r\n");
        var status = (HttpStatusCode)int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
        var payload = bytes.AsSpan(end + 4).ToArray();
        if (headers.TryGetValue("Transfer-Encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
            payload = Dechunk(payload);
        var contentType = headers.TryGetValue("Content-Type", out var ct) ? ct.Split(';')[0].Trim() : null;
        return new RawResponse(status, contentType, Encoding.UTF8.GetString(payload));
    }

    private static byte[] Dechunk(byte[] chunked)
    {
        using var output = new MemoryStream();
        var i = 0;
        while (i < chunked.Length)
        {
            var lineEnd = IndexOf(chunked, i);
            var size = Convert.ToInt32(Encoding.ASCII.GetString(chunked, i, lineEnd - i).Split(';')[0].Trim(), 16);
            i = lineEnd + 2;
            if (size == 0) break;
            output.Write(chunked, i, size);
            i += size + 2;
        }
        return output.ToArray();
    }

    private static int IndexOf(byte[] data, int from)
    {
        for (var i = from; i < data.Length - 1; i++)
            if (data[i] == '\r' && data[i + 1] == '\n') return i;
        throw new InvalidOperationException("malformed chunked body");
    }
}
