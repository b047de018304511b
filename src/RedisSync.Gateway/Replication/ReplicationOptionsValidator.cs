using Microsoft.Extensions.Options;
using RedisSync.Gateway.Contracts;

namespace RedisSync.Gateway.Replication;

/// <summary>Checked at start: a site that replicates needs a name, and every peer a distinct name, a URL and a key.</summary>
internal sealed class ReplicationOptionsValidator : IValidateOptions<ReplicationOptions>
{
    public ValidateOptionsResult Validate(string? name, ReplicationOptions o)
    {
        var errors = new List<string>();
        if (o.Site is not null && !Names.Source().IsMatch(o.Site)) errors.Add($"Replication:Site must match {Names.Source()}.");
        if (o.Peers.Count > 0 && string.IsNullOrEmpty(o.Site)) errors.Add("Replication:Site is required when Replication:Peers are configured.");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < o.Peers.Count; i++)
        {
            var p = o.Peers[i];
            if (p.Name is null || !Names.Source().IsMatch(p.Name)) errors.Add($"Replication:Peers:{i}:Name must match {Names.Source()}.");
            else if (p.Name == o.Site) errors.Add($"Replication:Peers:{i}:Name is this site's own name.");
            else if (!seen.Add(p.Name)) errors.Add($"Replication:Peers:{i}:Name '{p.Name}' is configured twice.");
            if (!Uri.TryCreate(p.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
                errors.Add($"Replication:Peers:{i}:Url must be an absolute http or https URL.");
            if (string.IsNullOrEmpty(p.ApiKey)) errors.Add($"Replication:Peers:{i}:ApiKey is required (a key the peer issued with Replicate).");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
