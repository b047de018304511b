using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace RedisSync.Gateway.Auth;

public static class AuthExtensions
{
    public const string ReplicatePolicy = "Replicate";

    public static WebApplicationBuilder AddApiKeyAuth(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<AuthOptions>().BindConfiguration("Auth").ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AuthOptions>, AuthOptionsValidator>();
        builder.Services.AddSingleton<ApiKeyRegistry>();
        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(CollectionAccessRequirement.Policy, p => p.RequireAuthenticatedUser().AddRequirements(new CollectionAccessRequirement()))
            // Replication, digests and repair (CONTRACT §9–10): a peer site's key, or one that reads everything.
            .AddPolicy(ReplicatePolicy, p => p.RequireAuthenticatedUser().RequireAssertion(ctx => ctx.User.CanReplicate()));
        builder.Services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationHandler, CollectionAccessHandler>();
        return builder;
    }
}
