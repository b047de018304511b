using RedisSync.Gateway.Contracts;

namespace RedisSync.Gateway.Api;

/// <summary>Route names under <c>/collections/{collection}</c> must follow CONTRACT §1.</summary>
internal sealed class RouteNamesFilter : IEndpointFilter
{
    // Not async, and no error dictionary unless a name is wrong: every request under these groups passes here.
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var route = context.HttpContext.Request.RouteValues;
        var collection = route["collection"] as string ?? "";
        var id = route["id"] as string;
        var collectionValid = Names.Collection().IsMatch(collection);
        var idValid = id is null || Names.RecordId().IsMatch(id);
        if (collectionValid && idValid) return next(context);

        var errors = new Dictionary<string, string[]>();
        if (!collectionValid) errors["collection"] = [$"collection '{collection}' must match {Names.Collection()}."];
        if (!idValid) errors["id"] = [$"id '{id}' must match {Names.RecordId()}."];
        return ValueTask.FromResult<object?>(Problems.Validation(errors));
    }
}
