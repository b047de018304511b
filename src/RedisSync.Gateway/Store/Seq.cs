using System.Globalization;

namespace RedisSync.Gateway.Store;

/// <summary>
/// Order of change-log positions (Redis stream ids 'ms-n'). Clients treat seqs as opaque; the gateway
/// compares them to drop duplicates and notice gaps. "" (no change yet) precedes every seq.
/// </summary>
public static class Seq
{
    public static int Compare(string a, string b)
    {
        if (a.Length == 0 || b.Length == 0) return a.Length.CompareTo(b.Length) == 0 ? 0 : a.Length == 0 ? -1 : 1;
        var (am, an) = Parse(a);
        var (bm, bn) = Parse(b);
        return am != bm ? am.CompareTo(bm) : an.CompareTo(bn);
    }

    public static string Max(string a, string b) => Compare(a, b) >= 0 ? a : b;

    /// <summary>The Redis server's time, in ms, when the entry was appended (the id's first part).</summary>
    public static long Milliseconds(string seq) => (long)Parse(seq).Ms;

    private static (ulong Ms, ulong N) Parse(string s)
    {
        var dash = s.IndexOf('-');
        return (ulong.Parse(s.AsSpan(0, dash), CultureInfo.InvariantCulture), ulong.Parse(s.AsSpan(dash + 1), CultureInfo.InvariantCulture));
    }
}
