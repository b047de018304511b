namespace RedisSync.Tests.Fixtures;

/// <summary>
/// The whole text of a fixture's failure to shut down. xUnit's console logger, at the verbosity CI uses, prints only
/// the exception's type for a class cleanup failure ("[Test Class Cleanup Failure (…)] System.AggregateException"),
/// and the .trx holds no more. build.sh names a file in <c>REDISSYNC_TEST_CLEANUP_LOG</c> and prints it after a pass.
/// </summary>
public static class CleanupFailures
{
    public const string Variable = "REDISSYNC_TEST_CLEANUP_LOG";
    private static readonly Lock Gate = new();

    public static void Record(string fixture, Exception failure)
    {
        var path = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(path)) return;
        lock (Gate)
            File.AppendAllText(path, $"{DateTime.UtcNow:O} {fixture} failed to shut down:{Environment.NewLine}{failure}{Environment.NewLine}{Environment.NewLine}");
    }
}
