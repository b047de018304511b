using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.Options;

namespace RedisSync.Gateway.Realtime;

/// <summary>
/// SignalR's JSON hub protocol, except that a message it consumed but could not turn into a hub message
/// (e.g. an unknown "type") closes the connection. The stock protocol then answers "no message yet" and
/// the connection waits forever with every later invocation unanswered (dotnet/aspnetcore#69285).
/// </summary>
internal sealed class StrictJsonHubProtocol(IOptions<JsonHubProtocolOptions> options) : IHubProtocol
{
    private readonly JsonHubProtocol _inner = new(options);

    public string Name => _inner.Name;
    public int Version => _inner.Version;
    public TransferFormat TransferFormat => _inner.TransferFormat;

    public bool TryParseMessage(ref ReadOnlySequence<byte> input, IInvocationBinder binder, [NotNullWhen(true)] out HubMessage? message)
    {
        var before = input.Length;
        if (_inner.TryParseMessage(ref input, binder, out message)) return true;
        if (input.Length != before) throw new InvalidDataException("The hub message could not be understood.");
        return false; // an incomplete message: wait for more bytes
    }

    public void WriteMessage(HubMessage message, IBufferWriter<byte> output) => _inner.WriteMessage(message, output);
    public ReadOnlyMemory<byte> GetMessageBytes(HubMessage message) => _inner.GetMessageBytes(message);
    public bool IsVersionSupported(int version) => _inner.IsVersionSupported(version);
}
