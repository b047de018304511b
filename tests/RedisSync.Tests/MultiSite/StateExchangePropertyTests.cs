using System.Globalization;
using Microsoft.Extensions.Options;
using RedisSync.Gateway.Hosting;
using RedisSync.Gateway.Merge;
using RedisSync.Gateway.Repair;
using RedisSync.Gateway.Replication;
using RedisSync.Gateway.Store;
using RedisSync.Tests.Fixtures;
using StackExchange.Redis;

namespace RedisSync.Tests.MultiSite;

/// <summary>Three sites, each its own redis-server and store, and a fourth that receives every write alone.</summary>
public sealed class ThreeSiteStores : IAsyncLifetime
{
    public static readonly string[] Names = ["east", "north", "west"];
    private readonly List<RedisServer> _servers = [];
    private readonly List<ConnectionMultiplexer> _connections = [];

    public RecordStore[] Sites { get; private set; } = [];
    public RecordStore OneSite { get; private set; } = null!;

    /// <summary>Each site's digests (CONTRACT §10), as its gateway computes them.</summary>
    public Digests[] SiteDigests { get; private set; } = [];

    public async Task InitializeAsync()
    {
        var stores = new List<RecordStore>();
        foreach (var name in Names.Append("solo"))
        {
            var server = await RedisServer.StartAsync();
            _servers.Add(server);
            var connection = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString);
            _connections.Add(connection);
            stores.Add(new RecordStore(connection, Options.Create(new SyncOptions()), replication: Options.Create(new ReplicationOptions { Site = name })));
        }
        Sites = [.. stores.Take(3)];
        OneSite = stores[3];
        SiteDigests = [.. Sites.Select((store, i) => new Digests(new DigestStore(_connections[i]), store))];
    }

    public async Task DisposeAsync()
    {
        foreach (var c in _connections) c.Dispose();
        foreach (var s in _servers) await s.DisposeAsync();
    }
}

/// <summary>
/// CONTRACT §9's convergence as a property, against real Redis and the real store: random writes split over three
/// sites, their states then exchanged between the sites in random orders, in random subsets, with duplicates; finally
/// every site has joined every other's log. Every site must hold byte-identical states, clocks and sites included,
/// equal to what one site holding every write has (sites aside: there every clock entered at that one site). Writes
/// never reuse a clock with other content here (a source that does is refused at one site: see JoinAlgebraTests).
/// Set EXCHANGE_SEED to replay a failing run.
/// </summary>
public sealed class StateExchangePropertyTests(ThreeSiteStores stores) : IClassFixture<ThreeSiteStores>
{
    private const int Scenarios = 250;
    private static readonly string[] Sources = ["a-b", "a.b", "ab"];
    private static readonly string[] Fields = ["a", "b", "c"];
    private static readonly string[] Values = ["1", "2", "\"x\"", "null", "{}", "3.141592653589793"];

    [Fact]
    public async Task RandomWritesOverThreeSitesExchangedInRandomOrdersWithDuplicatesEndByteIdenticalEverywhere()
    {
        var seed = Environment.GetEnvironmentVariable("EXCHANGE_SEED") is { Length: > 0 } s ? int.Parse(s, CultureInfo.InvariantCulture) : Random.Shared.Next();
        var rng = new Random(seed);
        var checkedRecords = 0;
        for (var n = 0; n < Scenarios; n++)
        {
            var c = Unique.Collection("xchg");
            var writes = Generate(rng);
            foreach (var write in writes)
            {
                // Each write enters at one site, sometimes at two (a client retrying elsewhere); and at the solo site.
                var at = rng.Next(3);
                Assert.NotEqual("conflict", (await stores.Sites[at].WriteAsync(c, [write]))[0].Outcome);
                if (rng.Next(5) == 0) await stores.Sites[(at + 1) % 3].WriteAsync(c, [write]);
                await stores.OneSite.WriteAsync(c, [write]);
                if (rng.Next(3) == 0) await ExchangeSomeAsync(rng, c);
            }
            for (var round = 0; round < 3; round++) await ExchangeSomeAsync(rng, c);
            // Every site joins every other's whole log; once more, so what arrived last has gone round too.
            for (var round = 0; round < 2; round++)
                for (var to = 0; to < 3; to++)
                    for (var from = 0; from < 3; from++)
                        if (from != to) await ApplyAsync(c, from, to, (await Log(c, from)).ToList());

            foreach (var id in writes.Select(w => w.Id).Distinct())
            {
                var states = await Task.WhenAll(stores.Sites.Select(site => site.GetStoredAsync(c, id)));
                var solo = await stores.OneSite.GetStoredAsync(c, id);
                var bytes = states.Select(st => Convert.ToHexString(RecordCodec.EncodeState(st.State))).ToArray();
                Assert.True(bytes.Distinct().Count() == 1,
                    $"EXCHANGE_SEED={seed} scenario {n} {id}: the sites differ\n" + string.Join("\n", states.Select((st, i) => $"  {ThreeSiteStores.Names[i]}: {Show(st.State)}")) + $"\n writes:\n  {string.Join("\n  ", writes)}");
                Assert.True(Show(WithoutSites(states[0].State)) == Show(WithoutSites(solo.State)),
                    $"EXCHANGE_SEED={seed} scenario {n} {id}: the sites differ from one site holding every write\n  sites: {Show(states[0].State)}\n  solo:  {Show(solo.State)}");
                checkedRecords++;
            }
            // Equal states, whatever order their writes came in: equal digests, root and every bucket.
            var digests = await Task.WhenAll(stores.SiteDigests.Select(d => d.OfAsync(c)));
            Assert.True(digests.Select(d => d.Root).Distinct().Count() == 1 && digests.All(d => d.Buckets.SequenceEqual(digests[0].Buckets)),
                $"EXCHANGE_SEED={seed} scenario {n}: equal states but digest roots {string.Join(", ", digests.Select(d => d.Root))}");
        }
        Assert.True(checkedRecords >= Scenarios);
    }

    // A random pair of sites; a random subset of the source's log, shuffled, with some entries twice.
    private async Task ExchangeSomeAsync(Random rng, string c)
    {
        var from = rng.Next(3);
        var to = (from + 1 + rng.Next(2)) % 3;
        var log = await Log(c, from);
        var picked = log.Where(_ => rng.Next(3) > 0).ToList();
        picked.AddRange(picked.Where(_ => rng.Next(4) == 0).ToList());
        await ApplyAsync(c, from, to, [.. picked.OrderBy(_ => rng.Next())]);
    }

    private async Task<IReadOnlyList<ChangeEntry>> Log(string c, int site) =>
        (await stores.Sites[site].ReadChangesAsync(c, null, 100_000)).Entries;

    private async Task ApplyAsync(string c, int from, int to, List<ChangeEntry> entries)
    {
        if (entries.Count == 0) return;
        await stores.Sites[to].ApplyStatesAsync(c, [.. entries.Select(e => new IncomingState(e.Id, e.State))],
            [KeyValuePair.Create(ThreeSiteStores.Names[from], entries[^1].Seq)]);
    }

    // Up to 3 records, up to 8 writes, every write with a clock of its own (per record).
    private static List<RecordWrite> Generate(Random rng)
    {
        var writes = new List<RecordWrite>();
        var used = new HashSet<string>();
        for (var i = rng.Next(1, 9); i > 0; i--)
        {
            var id = $"r{rng.Next(3)}";
            var (version, ts, source) = (rng.Next(3), 1000L * rng.Next(1, 4), Sources[rng.Next(Sources.Length)]);
            if (!used.Add($"{id}|{version}|{ts}|{source}")) continue;
            var op = (WriteOp)rng.Next(3);
            var fields = op == WriteOp.Delete ? [] : Fields.OrderBy(_ => rng.Next()).Take(rng.Next(op == WriteOp.Patch ? 1 : 0, 4))
                .Select(f => KeyValuePair.Create(f, Values[rng.Next(Values.Length)])).ToArray();
            writes.Add(new RecordWrite(op, id, version, ts, source, fields));
        }
        return writes;
    }

    private static RecordState WithoutSites(RecordState s) =>
        new(s.Floor is { } f ? f with { Site = "" } : null, s.FloorIsDelete, [.. s.Fields.Select(x => x with { Clock = x.Clock with { Site = "" } })]);

    private static string Show(RecordState s) =>
        $"floor={(s.Floor is { } f ? RecordCodec.ClockText(f) + (s.FloorIsDelete ? " delete" : " put") : "-")} " +
        string.Join(" ", s.Fields.Select(x => $"{x.Name}@{RecordCodec.ClockText(x.Clock)}={x.Value ?? "∅"}"));
}
