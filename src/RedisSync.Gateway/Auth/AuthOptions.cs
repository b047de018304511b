using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using RedisSync.Gateway.Contracts;

namespace RedisSync.Gateway.Auth;

/// <summary>API keys (section <c>Auth</c>).</summary>
public sealed class AuthOptions
{
    /// <summary>When false, every caller may read and write everything and the source comes from the body.</summary>
    public bool Enabled { get; set; } = true;

    public List<ApiKeyOptions> Keys { get; set; } = [];
}

/// <summary>One API key: who it is, which source it writes as, where it may read and write.</summary>
public sealed class ApiKeyOptions
{
    public string? Name { get; set; }
    /// <summary>The key in plain text; or give <see cref="KeySha256"/>.</summary>
    public string? Key { get; set; }
    /// <summary>Lower-case hex SHA-256 of the key, so the configuration need not hold the secret.</summary>
    public string? KeySha256 { get; set; }
    public string? Source { get; set; }
    /// <summary>Collections this key may read, or <c>*</c>.</summary>
    public List<string> Read { get; set; } = [];
    /// <summary>Collections this key may write, or <c>*</c>.</summary>
    public List<string> Write { get; set; } = [];

    /// <summary>
    /// The key is a peer site's (CONTRACT §9): it may read every collection's full state and changes, apply record
    /// states, and use the replication, digest and repair endpoints. <see cref="Source"/> is optional for it.
    /// </summary>
    public bool Replicate { get; set; }
}

internal sealed partial class AuthOptionsValidator(IHostEnvironment env) : IValidateOptions<AuthOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        var errors = new List<string>();
        if (options.Enabled && options.Keys.Count == 0 && !env.IsDevelopment())
            errors.Add("Auth:Enabled is true but no Auth:Keys are configured: add a key, or set Auth:Enabled=false for local experiments.");
        for (var i = 0; i < options.Keys.Count; i++)
        {
            var k = options.Keys[i];
            if (string.IsNullOrWhiteSpace(k.Name)) errors.Add($"Auth:Keys:{i}:Name is required.");
            if ((k.Source is not null || !k.Replicate) && (k.Source is null || !Names.Source().IsMatch(k.Source)))
                errors.Add($"Auth:Keys:{i}:Source must match {Names.Source()}{(k.Replicate ? "" : " (it is optional only for a key with Replicate)")}.");
            if (k.Source is null && k.Write.Count > 0) errors.Add($"Auth:Keys:{i}: a key that writes needs a Source.");
            if (string.IsNullOrEmpty(k.Key) == string.IsNullOrEmpty(k.KeySha256)) errors.Add($"Auth:Keys:{i}: set exactly one of Key and KeySha256.");
            if (k.KeySha256 is not null && !Sha256Hex().IsMatch(k.KeySha256)) errors.Add($"Auth:Keys:{i}:KeySha256 must be 64 lower-case hex digits.");
            if (k.Key is { Length: < 16 }) errors.Add($"Auth:Keys:{i}:Key must be at least 16 characters.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Hex();
}
