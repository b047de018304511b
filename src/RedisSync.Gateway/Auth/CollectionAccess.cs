using Microsoft.AspNetCore.Authorization;

namespace RedisSync.Gateway.Auth;

/// <summary>
/// The key must cover the route's collection: reads for GET, writes for everything else. An authorization
/// policy rather than an endpoint filter, so a 403 is decided before the request body is even read.
/// </summary>
internal sealed class CollectionAccessRequirement : IAuthorizationRequirement
{
    public const string Policy = "CollectionAccess";
}

internal sealed class CollectionAccessHandler : AuthorizationHandler<CollectionAccessRequirement, HttpContext>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, CollectionAccessRequirement requirement, HttpContext http)
    {
        if (http.Request.RouteValues["collection"] is not string collection) return Task.CompletedTask;
        var allowed = IsRead(http.Request) ? context.User.CanRead(collection) : context.User.CanWrite(collection);
        if (allowed) context.Succeed(requirement);
        return Task.CompletedTask;
    }

    public static bool IsRead(HttpRequest request) => HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method);
}
