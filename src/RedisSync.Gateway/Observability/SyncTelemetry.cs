using System.Diagnostics;

namespace RedisSync.Gateway.Observability;

/// <summary>
/// The gateway's trace source, <c>RedisSync.Gateway</c>: a client span around each Redis call the store makes for
/// a request, so a trace runs from the HTTP request to the script that applied it. No listener, no span: with
/// tracing off a call costs one check.
/// </summary>
public static class SyncTelemetry
{
    public const string SourceName = "RedisSync.Gateway";

    private static readonly ActivitySource Source = new(SourceName, typeof(SyncTelemetry).Assembly.GetName().Version?.ToString());

    /// <summary>
    /// Starts the span of one script run (EVALSHA) on <paramref name="collection"/> carrying
    /// <paramref name="records"/> records; null when nobody records it. Dispose it when the call returns.
    /// </summary>
    public static Activity? StartScript(string script, string collection, int records)
    {
        var activity = Source.StartActivity("EVALSHA", ActivityKind.Client);
        if (activity is not { IsAllDataRequested: true }) return activity;
        // The semantic conventions' span name for a database call: "{operation} {target}".
        activity.DisplayName = "EVALSHA " + script;
        activity.SetTag("db.system.name", "redis");
        activity.SetTag("db.operation.name", "EVALSHA");
        activity.SetTag("db.stored_procedure.name", script);
        activity.SetTag("redissync.collection", collection);
        activity.SetTag("redissync.records", records);
        return activity;
    }

    /// <summary>Marks the span failed; the exception still propagates to the caller.</summary>
    public static void Failed(Activity? activity, Exception exception)
    {
        if (activity is null) return;
        activity.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
        activity.SetTag("error.type", exception.GetType().FullName);
        activity.AddException(exception);
    }
}
