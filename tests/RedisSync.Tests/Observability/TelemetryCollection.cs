namespace RedisSync.Tests.Observability;

/// <summary>
/// Tests that read a gateway's OpenTelemetry output run alone, after the parallel ones: the SDK picks meters and
/// activity sources by name, process-wide, so a gateway's <c>/metrics</c> and spans would also count what the
/// gateways of other test classes do at the same time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TelemetryCollection
{
    public const string Name = "Telemetry, alone";
}
