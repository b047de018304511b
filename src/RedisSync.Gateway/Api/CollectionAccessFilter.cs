using RedisSync.Gateway.Auth;
using RedisSync.Gateway.Contracts;

namespace RedisSync.Gateway.Api;

/// <summary>
/// For every route under <c>/collections/{collection}</c>: the names must be valid (CONTRACT §1) and the
/// caller's key must cover the collection — reads for GET, writes for everything else.
/// </summary>
internal sealed class CollectionAccessFilter : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var collection = http.Request.RouteValues["collection"] as string ?? "";
        var errors = new Dictionary<string, string[]>();
        if (!Names.Collection().IsMatch(collection))
            errors["collection"] = [$"collection '{collection}' must match {Names.Collection()}."];
        if (http.Request.RouteValues["id"] is string id && !Names.RecordId().IsMatch(id))
            errors["id"] = [$"id '{id}' must match {Names.RecordId()}."];
        if (errors.Count > 0) return Problems.Validation(errors);

        var reading = HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method);
        if (reading ? !http.User.CanRead(collection) : !http.User.CanWrite(collection))
            return Problems.Forbidden($"This API key may not {(reading ? "read" : "write")} collection '{collection}'.");
        return await next(context);
    }
}
