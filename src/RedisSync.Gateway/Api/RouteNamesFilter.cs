using RedisSync.Gateway.Contracts;

namespace RedisSync.Gateway.Api;

/// <summary>Route names under <c>/collections/{collection}</c> must follow CONTRACT §1.</summary>
internal sealed class RouteNamesFilter : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var route = context.HttpContext.Request.RouteValues;
        var errors = new Dictionary<string, string[]>();
        var collection = route["collection"] as string ?? "";
        if (!Names.Collection().IsMatch(collection))
            errors["collection"] = [$"collection '{collection}' must match {Names.Collection()}."];
        if (route["id"] is string id && !Names.RecordId().IsMatch(id))
            errors["id"] = [$"id '{id}' must match {Names.RecordId()}."];
        return errors.Count > 0 ? Problems.Validation(errors) : await next(context);
    }
}
