using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace RedisSync.Gateway.Auth;

/// <summary>Claims an authenticated caller carries.</summary>
public static class CallerClaims
{
    public const string Source = "rs:source";
    public const string Read = "rs:read";
    public const string Write = "rs:write";
    public const string Replicate = "rs:replicate";

    /// <summary>The name of the API key the caller used, or null when auth is off.</summary>
    public static string? KeyName(this ClaimsPrincipal user) =>
        user.FindFirst(Source) is not null || user.HasClaim(Replicate, "true") ? user.Identity?.Name : null;

    /// <summary>The source writes are attributed to, or null when auth is off (or the key only replicates).</summary>
    public static string? SourceOf(this ClaimsPrincipal user) => user.FindFirst(Source)?.Value;
    public static bool CanRead(this ClaimsPrincipal user, string collection) => Allows(user, Read, collection);
    public static bool CanWrite(this ClaimsPrincipal user, string collection) => Allows(user, Write, collection);

    /// <summary>A peer site's key, or any key that reads every collection (CONTRACT §9).</summary>
    public static bool CanReplicate(this ClaimsPrincipal user) => user.HasClaim(Replicate, "true") || user.HasClaim(Read, "*");

    private static bool Allows(ClaimsPrincipal user, string type, string collection) =>
        user.FindAll(type).Any(c => c.Value == "*" || c.Value == collection);
}

/// <summary>
/// Authenticates <c>X-Api-Key</c> (or <c>access_token</c> for browsers and WebSockets, or a bearer token
/// as SignalR clients send on negotiate) against the
/// configured keys. Every configured key is compared, by SHA-256 and in constant time, so neither the
/// match nor its position leaks through timing. Keys are never logged.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyRegistry keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (keys.Anonymous is { } anonymous) return Task.FromResult(Success(anonymous));

        string? presented = Request.Headers["X-Api-Key"].FirstOrDefault();
        if (string.IsNullOrEmpty(presented)) presented = Request.Query["access_token"].FirstOrDefault();
        // The official SignalR clients send accessTokenFactory's value as a bearer token on negotiate.
        if (string.IsNullOrEmpty(presented) && Request.Headers.Authorization.FirstOrDefault() is { } authorization
            && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            presented = authorization["Bearer ".Length..].Trim();
        if (string.IsNullOrEmpty(presented)) return Task.FromResult(AuthenticateResult.NoResult());

        return Task.FromResult(keys.Find(presented) is { } principal ? Success(principal) : AuthenticateResult.Fail("Invalid API key"));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        Api.Problems.Unauthorized().ExecuteAsync(Context);

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Api.Problems.Forbidden(Request.Path.StartsWithSegments("/api/v1/replication") || Request.Path.StartsWithSegments("/api/v1/digests")
                || Request.Path.Value?.Contains("/digest", StringComparison.Ordinal) == true
            ? "Replication, digests and repair need a key with Replicate (a peer site's key) or one that reads every collection."
            : Request.RouteValues["collection"] is string collection
            ? $"This API key may not {(CollectionAccessHandler.IsRead(Request) ? "read" : "write")} collection '{collection}'."
            : "This API key may not do that.").ExecuteAsync(Context);

    private static AuthenticateResult Success(ClaimsPrincipal principal) =>
        AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
}

/// <summary>
/// The configured keys, hashed once, each with the caller it stands for (built once and shared by every request and
/// connection that presents it: nothing mutates a principal). Every key is compared, by SHA-256 and in constant
/// time, so neither the match nor its position leaks through timing.
/// </summary>
internal sealed class ApiKeyRegistry
{
    private readonly (byte[] Hash, ClaimsPrincipal Principal)[] _keys;

    public ApiKeyRegistry(IOptions<AuthOptions> auth)
    {
        if (!auth.Value.Enabled)
            Anonymous = Principal([new Claim(ClaimTypes.Name, "anonymous"), new Claim(CallerClaims.Read, "*"), new Claim(CallerClaims.Write, "*")]);
        _keys = auth.Value.Keys
            .Select(k => (k.KeySha256 is { } hex ? Convert.FromHexString(hex) : SHA256.HashData(Encoding.UTF8.GetBytes(k.Key!)), Principal(ClaimsOf(k))))
            .ToArray();
    }

    /// <summary>Every caller, when auth is off; else null.</summary>
    public ClaimsPrincipal? Anonymous { get; }

    public ClaimsPrincipal? Find(string presented)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), hash);
        ClaimsPrincipal? match = null;
        foreach (var (keyHash, principal) in _keys)
            if (CryptographicOperations.FixedTimeEquals(hash, keyHash)) match = principal;
        return match;
    }

    private static List<Claim> ClaimsOf(ApiKeyOptions key)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, key.Name!) };
        if (key.Source is not null) claims.Add(new Claim(CallerClaims.Source, key.Source));
        // A peer site reads everything, whatever its Read list says.
        if (key.Replicate) claims.AddRange([new Claim(CallerClaims.Replicate, "true"), new Claim(CallerClaims.Read, "*")]);
        claims.AddRange(key.Read.Select(c => new Claim(CallerClaims.Read, c)));
        claims.AddRange(key.Write.Select(c => new Claim(CallerClaims.Write, c)));
        return claims;
    }

    private static ClaimsPrincipal Principal(IEnumerable<Claim> claims) =>
        new(new ClaimsIdentity(claims, ApiKeyAuthenticationHandler.SchemeName));
}
