using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace RedisSync.Gateway.Store;

/// <summary>
/// A Lua script shipped with the gateway, called by SHA (EVALSHA). Redis forgets scripts when it restarts
/// and each cluster node has its own cache, so on NOSCRIPT it is sent once in full (EVAL), which caches it again.
/// </summary>
public sealed class StoredScript
{
    private readonly string _source;
    private readonly byte[] _sha1;

    private StoredScript(string source)
    {
        _source = source;
        _sha1 = SHA1.HashData(Encoding.UTF8.GetBytes(source));
    }

    public static StoredScript FromResource(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded script {name} is missing");
        using var reader = new StreamReader(stream);
        return new StoredScript(reader.ReadToEnd());
    }

    public async Task<RedisResult> RunAsync(IDatabaseAsync db, RedisKey[] keys, RedisValue[] args)
    {
        try
        {
            return await db.ScriptEvaluateAsync(_sha1, keys, args);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            return await db.ScriptEvaluateAsync(_source, keys, args);
        }
    }
}
