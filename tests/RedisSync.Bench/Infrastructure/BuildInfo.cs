using System.Reflection;

namespace RedisSync.Bench.Infrastructure;

/// <summary>Where the gateway was built, recorded by the project file at build time.</summary>
public static class BuildInfo
{
    private static string Metadata(string key) =>
        typeof(BuildInfo).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value
        ?? throw new InvalidOperationException($"assembly metadata {key} is missing (see RedisSync.Bench.csproj)");

    /// <summary>src/RedisSync.Gateway/, absolute.</summary>
    public static string GatewayProjectDir => Metadata("GatewayProjectDir");

    /// <summary>Debug or Release: the gateway was built in the same configuration as this program.</summary>
    public static string Configuration => Metadata("BuildConfiguration");

    public static string RepoRoot => Path.GetFullPath(Path.Combine(GatewayProjectDir, "..", ".."));

    public static string DefaultGatewayDll =>
        Path.Combine(GatewayProjectDir, "bin", Configuration, "net10.0", "RedisSync.Gateway.dll");

    /// <summary>tests/RedisSync.Bench/Baseline/, absolute: the textbook gateway of issue 11.</summary>
    public static string BaselineProjectDir => Metadata("BaselineProjectDir");

    public static string BaselineDll =>
        Path.Combine(BaselineProjectDir, "bin", Configuration, "net10.0", "RedisSync.Bench.Baseline.dll");

    /// <summary>wrk's request scripts, copied next to this program.</summary>
    public static string LoadScript(string name) => Path.Combine(AppContext.BaseDirectory, "Load", name);
}
