using System.Text.RegularExpressions;

namespace RedisSync.Gateway.Contracts;

/// <summary>The naming rules of CONTRACT §1.</summary>
public static partial class Names
{
    [GeneratedRegex(@"^[a-z0-9][a-z0-9_-]{0,63}\z")]
    public static partial Regex Collection();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}\z")]
    public static partial Regex RecordId();

    [GeneratedRegex(@"^[a-z0-9][a-z0-9_.-]{0,63}\z")]
    public static partial Regex Source();
}
