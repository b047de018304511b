using System.Reflection;
using StackExchange.Redis;

namespace RedisSync.Gateway.Realtime.Presence;

/// <summary>
/// Presence state in Redis, where every gateway instance sees every member. Key layout:
/// <code>
/// rs:{c}:presence           hash  connectionId → "&lt;instance&gt; &lt;member JSON&gt;", the collection's members
/// rs:{:presence}:leases     zset  instance → its last lease renewal (Redis TIME, ms)
/// rs:{:presence}:reaping    zset  expired instance → when a survivor claimed it (ms)
/// rs:{:presence}:i:&lt;inst&gt;   set   collections where that instance has had members
/// </code>
/// A collection's members share its hash tag, so they live on its shard; the instance bookkeeping shares
/// the tag <c>{:presence}</c>, which no collection name can be, so every script's keys are in one slot.
/// </summary>
internal sealed class PresenceStore(IConnectionMultiplexer redis)
{
    private const string Tag = "rs:{:presence}";
    private static readonly RedisKey Leases = Tag + ":leases";
    private static readonly RedisKey Reaping = Tag + ":reaping";
    private static readonly string HeartbeatScript = Script("heartbeat");
    private static readonly string RemoveOwnedScript = Script("remove-owned");
    private static readonly string ReleaseScript = Script("release");
    private static readonly string LiveScript = Script("live");

    private IDatabase Db => redis.GetDatabase();

    public static RedisKey Members(string collection) => $"rs:{{{collection}}}:presence";
    private static RedisKey CollectionsOf(string instance) => $"{Tag}:i:{instance}";

    /// <summary>Writes a member (a join or an update), owned by <paramref name="instance"/>.</summary>
    public Task SetAsync(string collection, string connectionId, string instance, string memberJson) =>
        Db.HashSetAsync(Members(collection), connectionId, instance + " " + memberJson);

    /// <summary>Notes that <paramref name="instance"/> has members in <paramref name="collection"/>, for whoever reaps it.</summary>
    public Task IndexAsync(string instance, string collection) => Db.SetAddAsync(CollectionsOf(instance), collection);

    /// <summary>Removes a member; false when it was already gone (e.g. reaped).</summary>
    public Task<bool> RemoveAsync(string collection, string connectionId) => Db.HashDeleteAsync(Members(collection), connectionId);

    /// <summary>Every member of a collection with its owning instance.</summary>
    public async Task<List<(string Instance, string MemberJson)>> MembersAsync(string collection)
    {
        var entries = await Db.HashGetAllAsync(Members(collection));
        var members = new List<(string, string)>(entries.Length);
        foreach (var entry in entries)
        {
            var value = (string)entry.Value!;
            var space = value.IndexOf(' ', StringComparison.Ordinal);
            if (space > 0) members.Add((value[..space], value[(space + 1)..]));
        }
        return members;
    }

    /// <summary>The instances whose lease is current.</summary>
    public async Task<HashSet<string>> LiveInstancesAsync(TimeSpan expiry)
    {
        var result = await Db.ScriptEvaluateAsync(LiveScript, [Leases], [(long)expiry.TotalMilliseconds]);
        return new HashSet<string>(((RedisValue[])result!).Select(v => (string)v!), StringComparer.Ordinal);
    }

    /// <summary>
    /// Renews <paramref name="instance"/>'s lease (creating it when <paramref name="register"/>) and claims
    /// the instances whose lease is older than <paramref name="expiry"/>. <c>Held</c> is false when this
    /// instance's lease was expired by a survivor, which is then reaping its members.
    /// </summary>
    public async Task<(bool Held, string[] Claimed)> HeartbeatAsync(string instance, TimeSpan expiry, bool register)
    {
        var result = (RedisResult[])(await Db.ScriptEvaluateAsync(HeartbeatScript, [Leases, Reaping],
            [instance, (long)expiry.TotalMilliseconds, register ? "1" : "0"]))!;
        return ((long)result[0] == 1, [.. result.Skip(1).Select(r => (string)r!)]);
    }

    /// <summary>The collections an instance had members in (for reaping it).</summary>
    public async Task<string[]> CollectionsAsync(string instance) =>
        [.. (await Db.SetMembersAsync(CollectionsOf(instance))).Select(v => (string)v!)];

    /// <summary>Removes every member <paramref name="instance"/> owns in a collection; returns their JSON.</summary>
    public async Task<string[]> RemoveOwnedAsync(string collection, string instance) =>
        [.. ((RedisValue[])(await Db.ScriptEvaluateAsync(RemoveOwnedScript, [Members(collection)], [instance]))!).Select(v => (string)v!)];

    /// <summary>Forgets an instance whose members were removed: lease, claim and index.</summary>
    public Task ReleaseAsync(string instance) =>
        Db.ScriptEvaluateAsync(ReleaseScript, [Leases, Reaping, CollectionsOf(instance)], [instance]);

    private static string Script(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"presence-{name}.lua")
            ?? throw new InvalidOperationException($"presence-{name}.lua is not embedded in the gateway assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
