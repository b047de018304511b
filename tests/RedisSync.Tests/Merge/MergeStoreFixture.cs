using Microsoft.Extensions.Options;
using RedisSync.Gateway.Contracts;
using RedisSync.Gateway.Hosting;
using RedisSync.Gateway.Merge;
using RedisSync.Gateway.Store;
using RedisSync.Tests.Fixtures;
using StackExchange.Redis;

namespace RedisSync.Tests.Merge;

/// <summary>
/// A real Redis and <see cref="RecordStore"/>s over it, one per test class: the merge and the commit script run exactly
/// as in production, without the HTTP layer in front of them. Its own redis-server, or the shared cluster when
/// <see cref="TestRedis.OnCluster"/>. Tests use unique collection names.
/// </summary>
public sealed class MergeStoreFixture : IAsyncLifetime
{
    private RedisServer? _redis;

    public ConnectionMultiplexer Connection { get; private set; } = null!;

    /// <summary>How to reach this fixture's Redis (a second multiplexer is a second gateway instance).</summary>
    public string ConnectionString { get; private set; } = null!;

    private RecordStore _version = null!, _timestamp = null!;

    /// <summary>A store whose collections all follow <paramref name="policy"/>.</summary>
    public RecordStore Store(MergePolicy policy = MergePolicy.Version) => policy == MergePolicy.Timestamp ? _timestamp : _version;

    public async Task InitializeAsync()
    {
        if (TestRedis.OnCluster) ConnectionString = (await RedisCluster.SharedAsync()).ConnectionString;
        else ConnectionString = (_redis = await RedisServer.StartAsync()).ConnectionString;
        Connection = await ConnectionMultiplexer.ConnectAsync(ConnectionString);
        _version = new RecordStore(Connection, Options.Create(new SyncOptions()));
        _timestamp = new RecordStore(Connection, Options.Create(new SyncOptions { DefaultPolicy = MergePolicy.Timestamp }));
    }

    public async Task DisposeAsync()
    {
        Connection.Dispose();
        if (_redis is not null) await _redis.DisposeAsync();
    }
}

/// <summary>Short builders for the writes the rule tests and the property tests hand to the store.</summary>
internal static class Writes
{
    public static RecordWrite Put(string id, long version, long? timestampMs, string source, params (string Name, string Json)[] fields) =>
        new(WriteOp.Put, id, version, timestampMs, source, Pairs(fields));

    public static RecordWrite Patch(string id, long version, long? timestampMs, string source, params (string Name, string Json)[] fields) =>
        new(WriteOp.Patch, id, version, timestampMs, source, Pairs(fields));

    public static RecordWrite Delete(string id, long version, long? timestampMs, string source) =>
        new(WriteOp.Delete, id, version, timestampMs, source, []);

    /// <summary>A record view's data as name → canonical JSON text.</summary>
    public static Dictionary<string, string> DataOf(RecordView view) =>
        view.Data.Fields.ToDictionary(f => f.Key, f => f.Value, StringComparer.Ordinal);

    public static Dictionary<string, string> Data(params (string Name, string Json)[] fields) =>
        fields.ToDictionary(f => f.Name, f => f.Json, StringComparer.Ordinal);

    public static ClockView ClockOf(long version, long timestampMs, string source) =>
        ClockView.From(new Clock(version, timestampMs, source));

    /// <summary>The change events of a change-log read, as /changes serves them (state-only entries left out).</summary>
    public static List<ChangeEvent> Events(string collection, ChangeLogRead read, MergePolicy policy = MergePolicy.Version) =>
        read.Entries.Where(e => e.Kind != EntryKind.State).Select(e => RecordViews.Change(collection, e, policy)).ToList();

    private static KeyValuePair<string, string>[] Pairs((string Name, string Json)[] fields) =>
        fields.Select(f => KeyValuePair.Create(f.Name, f.Json)).ToArray();
}
