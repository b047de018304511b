using RedisSync.Tests.Fixtures;

namespace RedisSync.Tests.Convergence;

/// <summary>
/// The real gateway with auth off, so each write names its own source in the body: three sources (more than
/// the test keys offer) over the real HTTP pipeline. Rate limiting is off because a property test sends
/// thousands of requests as fast as it can.
/// </summary>
public class OpenGatewayFactory : GatewayFactory
{
    public OpenGatewayFactory()
    {
        Settings["Auth:Enabled"] = "false";
        Settings["RateLimit:Enabled"] = "false";
    }
}

/// <summary><see cref="OpenGatewayFactory"/> whose collections default to the timestamp policy.</summary>
public sealed class OpenTimestampGatewayFactory : OpenGatewayFactory
{
    public OpenTimestampGatewayFactory() => Settings["Sync:DefaultPolicy"] = "Timestamp";
}
