namespace RedisSync.Tests.Fixtures;

/// <summary>Unique names per test, so parallel tests never share data.</summary>
public static class Unique
{
    private static int _n;
    public static string Collection(string prefix = "c") => $"{prefix}-{Interlocked.Increment(ref _n)}-{Guid.NewGuid().ToString("N")[..8]}";
}
