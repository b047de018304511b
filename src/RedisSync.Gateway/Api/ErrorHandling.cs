using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using RedisSync.Gateway.Store;
using StackExchange.Redis;

namespace RedisSync.Gateway.Api;

/// <summary>
/// Turns exceptions into problems: unreadable input is the caller's 4xx, an unreachable Redis is a 503
/// with Retry-After (nothing was written: a script runs whole or not at all), anything else a logged 500.
/// </summary>
internal sealed partial class ErrorHandling(ILogger<ErrorHandling> log) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        IResult result;
        switch (exception)
        {
            case BadHttpRequestException bad when bad.StatusCode == StatusCodes.Status413PayloadTooLarge:
                result = Problems.Problem(413, "payload-too-large", "The request body is too large.", bad.Message);
                break;
            case BadHttpRequestException bad when bad.StatusCode == StatusCodes.Status415UnsupportedMediaType:
                result = Problems.Problem(415, "validation", "Unsupported content type.", "Send the body as application/json.");
                break;
            case BadHttpRequestException bad when bad.InnerException is JsonException json:
                result = Problems.Validation(string.IsNullOrEmpty(json.Path) ? "body" : json.Path, JsonMessage(json));
                break;
            case BadHttpRequestException bad when bad.Message.Contains("no body was provided", StringComparison.Ordinal):
                result = Problems.Validation("body", "A JSON body is required.");
                break;
            case BadHttpRequestException bad:
                result = Problems.Validation("body", bad.Message);
                break;
            case ReplicaAckException ack:
                Log.ReplicasBehind(log, context.Request.Path, ack.Message);
                context.Response.Headers.RetryAfter = "1";
                result = Problems.Unavailable($"The write reached the Redis primary but not enough replicas in time ({ack.Message}): it may or may not be applied, and may be lost by a failover. Retrying the same write is safe.");
                break;
            case CommitContentionException contention:
                context.Response.Headers.RetryAfter = "1";
                result = Problems.Unavailable(contention.Message + " Retry shortly.");
                break;
            case RedisConnectionException or RedisTimeoutException or TimeoutException:
            case RedisServerException server when IsTransient(server):
                Log.RedisUnavailable(log, exception.GetType().Name, context.Request.Path);
                context.Response.Headers.RetryAfter = "1";
                result = Problems.Unavailable("Redis did not answer; nothing was written. Retry shortly.");
                break;
            case OperationCanceledException when context.RequestAborted.IsCancellationRequested:
                return true; // the client went away; there is no one to answer
            default:
                Log.Unhandled(log, exception, context.Request.Path);
                result = Problems.Problem(500, "error", "Internal error.", "The error was logged.");
                break;
        }
        await result.ExecuteAsync(context);
        return true;
    }

    // Redis answers these while it is loading its data, has no writable primary, is failing over or migrating a slot,
    // or (min-replicas-to-write) lacks the replicas it must write to: nothing was written, retry later.
    private static bool IsTransient(RedisServerException e) =>
        e.Message.StartsWith("LOADING", StringComparison.Ordinal) || e.Message.StartsWith("MASTERDOWN", StringComparison.Ordinal)
        || e.Message.StartsWith("READONLY", StringComparison.Ordinal) || e.Message.StartsWith("TRYAGAIN", StringComparison.Ordinal)
        || e.Message.StartsWith("CLUSTERDOWN", StringComparison.Ordinal) || e.Message.StartsWith("NOREPLICAS", StringComparison.Ordinal);

    // JsonException messages name .NET types ("System.Int64", our own classes); say it in JSON's words instead.
    private static string JsonMessage(JsonException e) =>
        e.Message.Contains("could not be converted", StringComparison.Ordinal)
            ? "The value has the wrong type or is out of range (integers: 0 to 2^53-1; timestamps: RFC 3339 strings)."
            : "The body is not valid JSON: " + NetTypeNames().Replace(e.Message.Split(". Path:")[0], "");

    [System.Text.RegularExpressions.GeneratedRegex(@" (of|for) type '[^']*'")]
    private static partial System.Text.RegularExpressions.Regex NetTypeNames();

    private static partial class Log
    {
        [LoggerMessage(2001, LogLevel.Warning, "Redis unavailable ({Exception}) while serving {Path}: answered 503")]
        public static partial void RedisUnavailable(ILogger logger, string exception, string path);

        [LoggerMessage(2003, LogLevel.Warning, "Replicas did not confirm a write to {Path} in time: {Detail}; answered 503")]
        public static partial void ReplicasBehind(ILogger logger, string path, string detail);

        [LoggerMessage(2002, LogLevel.Error, "Unhandled error while serving {Path}")]
        public static partial void Unhandled(ILogger logger, Exception exception, string path);
    }
}
