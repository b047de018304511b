using Microsoft.AspNetCore.Http.HttpResults;

namespace RedisSync.Gateway.Api;

/// <summary>
/// Every error the API returns: RFC 9457 problem details with a stable machine-readable <c>code</c>.
/// </summary>
public static class Problems
{
    public static ValidationProblem Validation(IDictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, title: "The request is invalid.", extensions: Code("validation"));

    public static ValidationProblem Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]> { [field] = [message] });

    public static ProblemHttpResult Conflict(string detail) => Problem(409, "conflict", "Clock reused with a different value.", detail);
    public static ProblemHttpResult NotFound(string detail, IDictionary<string, object?>? more = null) => Problem(404, "not-found", "Not found.", detail, more);
    public static ProblemHttpResult ResyncRequired(string detail) => Problem(410, "resync-required", "The change log no longer covers this position.", detail);
    public static ProblemHttpResult Unauthorized() => Problem(401, "unauthorized", "A valid API key is required.", "Send it in the X-Api-Key header, or as the access_token query parameter.");
    public static ProblemHttpResult Forbidden(string detail) => Problem(403, "forbidden", "Forbidden.", detail);
    public static ProblemHttpResult Unavailable(string detail) => Problem(503, "unavailable", "Redis is unavailable.", detail);

    public static ProblemHttpResult Problem(int status, string code, string title, string? detail, IDictionary<string, object?>? more = null)
    {
        var extensions = Code(code);
        if (more is not null) foreach (var (k, v) in more) extensions[k] = v;
        return TypedResults.Problem(detail, statusCode: status, title: title, extensions: extensions);
    }

    /// <summary>The code for a status when the framework itself produced the problem (404 route, 405…).</summary>
    public static string CodeFor(int status) => status switch
    {
        400 or 415 or 422 => "validation",
        401 => "unauthorized",
        403 => "forbidden",
        404 or 405 => "not-found",
        409 => "conflict",
        410 => "resync-required",
        413 => "payload-too-large",
        429 => "rate-limited",
        503 => "unavailable",
        _ => "error",
    };

    private static Dictionary<string, object?> Code(string code) => new() { ["code"] = code };
}
