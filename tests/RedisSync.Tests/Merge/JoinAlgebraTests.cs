using System.Globalization;
using RedisSync.Gateway.Merge;
using RedisSync.Gateway.Store;

namespace RedisSync.Tests.Merge;

/// <summary>
/// Pure unit tests of the merge's algebra (no Redis: the rule cases against Redis are MergeRuleTests and
/// MergePropertyTests). Replication between sites is only correct if <see cref="RecordMerge.Join"/> is a join:
/// commutative, associative and idempotent, on states reached by any writes, with clashing clocks and sites.
/// Thousands of random states from tiny domains, so clocks, contents and sites collide all the time.
/// Set JOIN_SEED to replay a failing run.
/// </summary>
public sealed class JoinAlgebraTests
{
    private const int Cases = 4000;
    private static readonly string[] Sources = ["a-b", "a.b", "ab"];
    private static readonly string[] Sites = ["", "east", "west"];
    private static readonly string[] Names = ["a", "b", "c", "d"];
    private static readonly string?[] Values = [null, "1", "2", "\"x\"", "null", "{}"];

    [Theory]
    [InlineData(MergePolicy.Version)]
    [InlineData(MergePolicy.Timestamp)]
    public void JoinIsCommutativeAssociativeAndIdempotent(MergePolicy policy)
    {
        var (rng, seed) = Random();
        for (var n = 0; n < Cases; n++)
        {
            var (a, b, c) = (State(rng, policy), State(rng, policy), State(rng, policy));
            Assert.True(Same(Join(a, b, policy), Join(b, a, policy)), $"JOIN_SEED={seed} case {n}: a⊔b ≠ b⊔a\n a={Show(a)}\n b={Show(b)}");
            Assert.True(Same(Join(Join(a, b, policy), c, policy), Join(a, Join(b, c, policy), policy)),
                $"JOIN_SEED={seed} case {n}: (a⊔b)⊔c ≠ a⊔(b⊔c)\n a={Show(a)}\n b={Show(b)}\n c={Show(c)}");
            Assert.True(Same(Join(a, a, policy), a), $"JOIN_SEED={seed} case {n}: a⊔a ≠ a\n a={Show(a)}");
            var ab = Join(a, b, policy);
            Assert.True(Same(Join(ab, b, policy), ab), $"JOIN_SEED={seed} case {n}: (a⊔b)⊔b ≠ a⊔b");
        }
    }

    [Theory]
    [InlineData(MergePolicy.Version)]
    [InlineData(MergePolicy.Timestamp)]
    public void WritesSplitOverSitesAndExchangedInAnyOrderGiveTheStateOfApplyingThemAllAtOneSite(MergePolicy policy)
    {
        var (rng, seed) = Random();
        for (var n = 0; n < Cases / 4; n++)
        {
            // Clients write at two sites; the sites then exchange their states, in both directions, in any order.
            var writes = Enumerable.Range(0, rng.Next(1, 7)).Select(_ => Write(rng)).ToList();
            var east = RecordState.Empty;
            var west = RecordState.Empty;
            var oneSite = RecordState.Empty;
            foreach (var (write, clock) in writes)
            {
                var atEast = rng.Next(2) == 0;
                var site = atEast ? "east" : "west";
                var applied = RecordMerge.ApplyWrite(atEast ? east : west, true, write, clock with { Site = site }, policy);
                if (applied.Outcome == WriteOutcome.Conflict) continue; // refused at its site: never part of any state
                if (atEast) east = applied.After; else west = applied.After;
                oneSite = Join(oneSite, RecordMerge.StateOf(write, clock with { Site = site }), policy);
            }
            var eastFinal = Join(east, west, policy);
            var westFinal = Join(Join(west, east, policy), east, policy); // a duplicate delivery changes nothing
            Assert.True(Same(eastFinal, westFinal), $"JOIN_SEED={seed} case {n}: the sites differ\n east={Show(eastFinal)}\n west={Show(westFinal)}");
            Assert.True(Same(eastFinal, oneSite), $"JOIN_SEED={seed} case {n}: the sites differ from one site holding every write\n sites={Show(eastFinal)}\n one={Show(oneSite)}");
            Assert.Equal(RecordCodec.EncodeState(eastFinal), RecordCodec.EncodeState(westFinal)); // byte-identical, so digests agree
        }
    }

    [Fact]
    public void OnEqualClocksTheSmallestSiteNameIsKept()
    {
        var clock = new Clock(3, 0, "crm");
        var put = new RecordWrite(WriteOp.Put, "r", 3, 0, "crm", [KeyValuePair.Create("a", "1")]);
        var west = RecordMerge.StateOf(put, clock with { Site = "west" });
        var east = RecordMerge.StateOf(put, clock with { Site = "east" });
        var joined = Join(west, east, MergePolicy.Version);
        Assert.Equal("east", joined.Floor!.Value.Site);
        Assert.Equal("east", joined.Field("a")!.Value.Clock.Site);
        Assert.Equal("east", joined.RecordClock(MergePolicy.Version)!.Value.Site);
    }

    [Fact]
    public void ASourceThatReusedAClockAtTwoSitesEndsWithTheSameWinnerEverywhere()
    {
        var clock = new Clock(3, 0, "crm");
        var x = RecordMerge.StateOf(new RecordWrite(WriteOp.Put, "r", 3, 0, "crm", [KeyValuePair.Create("a", "1")]), clock with { Site = "east" });
        var y = RecordMerge.StateOf(new RecordWrite(WriteOp.Put, "r", 3, 0, "crm", [KeyValuePair.Create("a", "2")]), clock with { Site = "west" });
        Assert.True(Same(Join(x, y, MergePolicy.Version), Join(y, x, MergePolicy.Version)));
        Assert.Equal("2", Join(x, y, MergePolicy.Version).Field("a")!.Value.Value); // the greater value text

        // A client doing the same at one site is refused instead.
        Assert.Equal(WriteOutcome.Conflict, RecordMerge.ApplyWrite(x, true,
            new RecordWrite(WriteOp.Put, "r", 3, 0, "crm", [KeyValuePair.Create("a", "2")]), clock with { Site = "east" }, MergePolicy.Version).Outcome);
    }

    private static RecordState Join(RecordState a, RecordState b, MergePolicy policy) =>
        RecordMerge.Join(a, b, policy, refuseClashes: false, out _);

    private static bool Same(RecordState a, RecordState b) => a.SameAs(b);

    private static (Random, int) Random()
    {
        var seed = Environment.GetEnvironmentVariable("JOIN_SEED") is { Length: > 0 } s ? int.Parse(s, CultureInfo.InvariantCulture) : System.Random.Shared.Next();
        return (new Random(seed), seed);
    }

    private static Clock RandomClock(Random rng) =>
        new(rng.Next(3), rng.Next(3) * 1000, Sources[rng.Next(Sources.Length)], Sites[rng.Next(Sites.Length)]);

    // A state built directly (not by the join under test, which could then only agree with itself): a random floor
    // or none, and fields whose clocks are at or above it, values or removal markers.
    private static RecordState State(Random rng, MergePolicy policy)
    {
        Clock? floor = rng.Next(3) == 0 ? null : RandomClock(rng);
        var fields = Names.Where(_ => rng.Next(2) == 0)
            .Select(name => new FieldState(name, RandomClock(rng), Values[rng.Next(Values.Length)]))
            .Where(f => floor is null || ClockOrder.Compare(f.Clock, floor.Value, policy) >= 0)
            .ToArray();
        return new RecordState(floor, rng.Next(2) == 0, fields);
    }

    private static (RecordWrite, Clock) Write(Random rng)
    {
        var clock = RandomClock(rng);
        var op = (WriteOp)rng.Next(3);
        var fields = op == WriteOp.Delete ? [] : Names.OrderBy(_ => rng.Next()).Take(rng.Next(op == WriteOp.Patch ? 1 : 0, 4))
            .Select(name => KeyValuePair.Create(name, Values[rng.Next(Values.Length)] ?? "null")).ToArray();
        return (new RecordWrite(op, "r", clock.Version, clock.TimestampMs, clock.Source, fields), clock);
    }

    private static string Show(RecordState s) =>
        $"floor={(s.Floor is { } f ? $"{RecordCodec.ClockText(f)}{(s.FloorIsDelete ? "d" : "p")}" : "-")} " +
        string.Join(" ", s.Fields.Select(f => $"{f.Name}@{RecordCodec.ClockText(f.Clock)}={f.Value ?? "∅"}"));
}
