using System.Text.Json;
using RedisSync.Gateway.Contracts;
using RedisSync.Gateway.Merge;
using RedisSync.Gateway.Store;
using RedisSync.Tests.Fixtures;
using static RedisSync.Tests.Merge.Writes;

namespace RedisSync.Tests.Merge;

/// <summary>
/// The rule cases of CONTRACT §2, one behaviour per test, against the real merge (Merge/RecordMerge.cs) and store on a real redis-server through
/// <see cref="RecordStore.WriteAsync"/>. Unless a test says otherwise the collection uses the version policy.
/// </summary>
public sealed class MergeRuleTests(MergeStoreFixture fixture) : IClassFixture<MergeStoreFixture>
{
    private const string Crm = "crm";
    private const string Billing = "billing";


    // ---------------------------------------------------------------- the outcome table

    [Fact]
    public async Task FirstPutIsAppliedAndCreatesTheRecordAtRevisionOne()
    {
        var c = Unique.Collection("merge");
        var result = await Write(c, Put("r1", 3, 1000, Crm, ("name", "\"John\""), ("age", "30")));

        Assert.Equal("applied", result.Outcome);
        Assert.True(result.Created);
        Assert.Equal(1, result.Revision);
        Assert.NotNull(result.Seq);
        Assert.Empty(result.StaleFields);
        Assert.Equal(Data(("age", "30"), ("name", "\"John\"")), DataOf(result.Record));

        var view = await Get(c, "r1");
        Assert.False(view.Deleted);
        Assert.Equal(1, view.Revision);
        Assert.Equal(result.Seq, view.Seq);
        Assert.Equal(ClockOf(3, 1000, Crm), view.Clock);
        Assert.Equal(ClockOf(3, 1000, Crm), view.Fields!["name"]);
        Assert.Equal(ClockOf(3, 1000, Crm), view.Fields!["age"]);
        Assert.Single(await Changes(c));
    }

    [Fact]
    public async Task ExactRetryOfAPutIsUnchangedAndKeepsRevisionSeqAndChangeLog()
    {
        var c = Unique.Collection("merge");
        var put = Put("r1", 3, 1000, Crm, ("name", "\"John\""), ("age", "30"));
        var first = await Write(c, put);
        var retry = await Write(c, put);

        Assert.Equal("unchanged", retry.Outcome);
        Assert.False(retry.Created);
        Assert.Equal(1, retry.Revision);
        Assert.Equal(first.Seq, retry.Seq);
        Assert.Empty(retry.StaleFields);
        Assert.Equal(DataOf(first.Record), DataOf(retry.Record));
        Assert.Single(await Changes(c));
    }

    [Fact]
    public async Task ExactRetryOfAPatchWithARemovalIsUnchanged()
    {
        var c = Unique.Collection("merge");
        await Write(c, Put("r1", 1, 0, Crm, ("a", "1"), ("b", "2")));
        var patch = Patch("r1", 2, 0, Crm, ("a", "5"), ("b", "null"));
        var first = await Write(c, patch);
        var retry = await Write(c, patch);

        Assert.Equal("applied", first.Outcome);
        Assert.Equal("unchanged", retry.Outcome);
        Assert.Equal(2, retry.Revision);
        Assert.Equal(first.Seq, retry.Seq);
        Assert.Equal(Data(("a", "5")), DataOf(await Get(c, "r1")));
        Assert.Equal(2, (await Changes(c)).Count);
    }

    [Fact]
    public async Task ExactRetryOfADeleteIsUnchanged()
    {
        var c = Unique.Collection("merge");
        await Write(c, Put("r1", 1, 0, Crm, ("a", "1")));
        var first = await Write(c, Delete("r1", 2, 0, Crm));
        var retry = await Write(c, Delete("r1", 2, 0, Crm));

        Assert.Equal("applied", first.Outcome);
        Assert.Equal("unchanged", retry.Outcome);
        Assert.Equal(2, retry.Revision);
        Assert.Equal(first.Seq, retry.Seq);
        Assert.True(retry.Record.Deleted);
        Assert.Equal(2, (await Changes(c)).Count);
    }

    [Fact]
    public async Task SameValueUnderAGreaterClockIsUnchangedAndStillMovesTheFieldClock()
    {
        // CONTRACT §2: `unchanged` = "some field won on clock but the data is identical". Here the record clock
        // (b's, the greatest) does not move either, so nothing a reader sees changes, but a's clock is the newer one.
        var c = Unique.Collection("merge");
        await Write(c, Patch("r1", 5, 0, Crm, ("a", "1")));
        var second = await Write(c, Patch("r1", 9, 0, Crm, ("b", "1")));
        var again = await Write(c, Patch("r1", 6, 0, Billing, ("a", "1")));

        Assert.Equal("unchanged", again.Outcome);
        Assert.Empty(again.StaleFields);
        Assert.Equal(2, again.Revision);
        Assert.Equal(second.Seq, again.Seq);
        Assert.Equal(2, (await Changes(c)).Count);
        var view = await Get(c, "r1");
        Assert.Equal(ClockOf(6, 0, Billing), view.Fields!["a"]);
        Assert.Equal(ClockOf(9, 0, Crm), view.Clock);
    }

    [Fact]
    public async Task AWriteThatOnlyMovesClocksIsUnchangedAndWritesNoChangeEvent()
    {
        // CONTRACT §2: "unchanged: some field won on clock but the data is identical" — revision same, no
        // change event. The clocks still move (they are merged state), so GET shows the new record clock
        // while the change log's last entry keeps the clock of the last applied change.
        var c = Unique.Collection("merge");
        var first = await Write(c, Put("r1", 1, 0, Crm, ("a", "1")));
        var again = await Write(c, Put("r1", 2, 0, Billing, ("a", "1")));

        Assert.Equal("unchanged", again.Outcome);
        Assert.Equal(first.Revision, again.Revision);
        Assert.Equal(first.Seq, again.Seq);
        var view = await Get(c, "r1");
        Assert.Equal(ClockOf(2, 0, Billing), view.Clock);
        Assert.Equal(ClockOf(2, 0, Billing), again.Record.Clock);
        var log = await Changes(c);
        Assert.Equal(first.Seq, Assert.Single(log).Seq);
        Assert.Equal(ClockOf(1, 0, Crm), log[0].Record.Clock);
    }

    [Fact]
    public async Task OlderPutIsStaleListsItsFieldsAndLeavesTheRecordAsItWas()
    {
        var c = Unique.Collection("merge");
        var first = await Write(c, Put("r1", 5, 0, Crm, ("a", "1"), ("b", "2")));
        var stale = await Write(c, Put("r1", 4, 0, Billing, ("a", "9"), ("c", "9")));

        Assert.Equal("stale", stale.Outcome);
        Assert.False(stale.Created);
        Assert.Equal(1, stale.Revision);
        Assert.Equal(first.Seq, stale.Seq);
        Assert.Equal(new[] { "a", "c" }, stale.StaleFields.Order(StringComparer.Ordinal));
        var view = await Get(c, "r1");
        Assert.Equal(Data(("a", "1"), ("b", "2")), DataOf(view));
        Assert.Equal(ClockOf(5, 0, Crm), view.Clock);
        Assert.Single(await Changes(c));
    }

    [Fact]
    public async Task OlderDeleteIsStaleAndDoesNotDeleteTheRecord()
    {
        var c = Unique.Collection("merge");
        await Write(c, Put("r1", 5, 0, Crm, ("a", "1")));
        var stale = await Write(c, Delete("r1", 4, 0, Billing));

        Assert.Equal("stale", stale.Outcome);
        Assert.Empty(stale.StaleFields);
        var view = await Get(c, "r1");
        Assert.False(view.Deleted);
        Assert.Equal(Data(("a", "1")), DataOf(view));
    }

    [Theory]
    [InlineData("put", "1", "put", "2")]
    [InlineData("patch", "1", "patch", "2")]
    [InlineData("patch", "1", "patch", "null")] // a value, then a removal
    [InlineData("patch", "null", "patch", "1")] // a removal, then a value
    [InlineData("put", "null", "patch", "null")] // a PUT's null is a value, a PATCH's null a removal
    [InlineData("patch", "null", "put", "null")]
    [InlineData("put", "{}", "put", "[]")]
    [InlineData("put", "1", "patch", "1.0")]
    public async Task ReusingAClockForADifferentValueIsAConflictThatChangesNothing(string firstOp, string firstJson, string secondOp, string secondJson)
    {
        var c = Unique.Collection("merge");
        var first = await Write(c, Op(firstOp, "r1", 7, 1000, Crm, ("a", firstJson)));
        var before = await Get(c, "r1");
        var second = await Write(c, Op(secondOp, "r1", 7, 1000, Crm, ("a", secondJson)));

        Assert.Equal("applied", first.Outcome);
        Assert.Equal("conflict", second.Outcome);
        Assert.False(second.Created);
        Assert.Equal(first.Revision, second.Revision);
        Assert.Equal(first.Seq, second.Seq);
        var after = await Get(c, "r1");
        Assert.Equal(DataOf(before), DataOf(after));
        Assert.Equal(before.Clock, after.Clock);
        Assert.Single(await Changes(c));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task PutAndDeleteAtTheSameClockConflictInEitherOrder(bool putFirst)
    {
        var c = Unique.Collection("merge");
        var put = Put("r1", 4, 1000, Crm, ("a", "1"));
        var delete = Delete("r1", 4, 1000, Crm);
        var first = await Write(c, putFirst ? put : delete);
        var second = await Write(c, putFirst ? delete : put);

        Assert.Equal("applied", first.Outcome);
        Assert.Equal("conflict", second.Outcome);
        Assert.Equal(1, second.Revision);
        Assert.Equal(first.Seq, second.Seq);
        var view = await Get(c, "r1");
        Assert.Equal(!putFirst, view.Deleted);
        Assert.Single(await Changes(c));
    }

    // ---------------------------------------------------------------- clock order and tie-breaks

    [Fact]
    public async Task VersionPolicyOrdersByVersionBeforeTimestamp() =>
        await AssertWinnerInBothOrders(MergePolicy.Version,
            Patch("r1", 5, 1000, Crm, ("a", "\"v5-early\"")),
            Patch("r1", 4, 9000, Crm, ("a", "\"v4-late\"")),
            "\"v5-early\"", ClockOf(5, 1000, Crm));

    [Fact]
    public async Task VersionPolicyBreaksVersionTiesByTimestamp() =>
        await AssertWinnerInBothOrders(MergePolicy.Version,
            Patch("r1", 5, 2000, Billing, ("a", "\"late\"")),
            Patch("r1", 5, 1000, Crm, ("a", "\"early\"")),
            "\"late\"", ClockOf(5, 2000, Billing));

    [Fact]
    public async Task VersionPolicyBreaksVersionAndTimestampTiesBySource() =>
        await AssertWinnerInBothOrders(MergePolicy.Version,
            Patch("r1", 5, 1000, Crm, ("a", "\"crm\"")),
            Patch("r1", 5, 1000, Billing, ("a", "\"billing\"")),
            "\"crm\"", ClockOf(5, 1000, Crm));

    [Fact]
    public async Task TimestampPolicyOrdersByTimestampBeforeVersion() =>
        await AssertWinnerInBothOrders(MergePolicy.Timestamp,
            Patch("r1", 1, 9000, Crm, ("a", "\"late-v1\"")),
            Patch("r1", 9, 1000, Crm, ("a", "\"early-v9\"")),
            "\"late-v1\"", ClockOf(1, 9000, Crm));

    [Fact]
    public async Task TimestampPolicyBreaksTimestampTiesByVersion() =>
        await AssertWinnerInBothOrders(MergePolicy.Timestamp,
            Patch("r1", 2, 5000, Billing, ("a", "\"v2\"")),
            Patch("r1", 1, 5000, Crm, ("a", "\"v1\"")),
            "\"v2\"", ClockOf(2, 5000, Billing));

    [Fact]
    public async Task TimestampPolicyBreaksTimestampAndVersionTiesBySource() =>
        await AssertWinnerInBothOrders(MergePolicy.Timestamp,
            Patch("r1", 2, 5000, Billing, ("a", "\"billing\"")),
            Patch("r1", 2, 5000, Crm, ("a", "\"crm\"")),
            "\"crm\"", ClockOf(2, 5000, Crm));

    [Theory]
    // Ordinal: '-' 0x2D < '.' 0x2E < '0' 0x30 < '_' 0x5F < 'b' 0x62; culture-aware comparers ignore or
    // reorder punctuation ("ab" before "a-b"), and Lua's `<` follows the server's locale.
    [InlineData("a-b", "a.b")]
    [InlineData("a.b", "a0")]
    [InlineData("a0", "a_b")]
    [InlineData("a_b", "ab")]
    [InlineData("a-b", "ab")]
    [InlineData("a.b", "ab")]
    [InlineData("a", "a-b")]
    [InlineData("ab", "b")]
    [InlineData("z9", "za")]
    public async Task EqualVersionAndTimestampGoToTheOrdinallyGreaterSourceUnderBothPolicies(string lower, string higher)
    {
        foreach (var policy in new[] { MergePolicy.Version, MergePolicy.Timestamp })
            await AssertWinnerInBothOrders(policy,
                Patch("r1", 3, 4000, lower, ("a", "\"lower\"")),
                Patch("r1", 3, 4000, higher, ("a", "\"higher\"")),
                "\"higher\"", ClockOf(3, 4000, higher));
    }

    // ---------------------------------------------------------------- PUT, PATCH, DELETE

    [Fact]
    public async Task PutRemovesUnnamedOlderFieldsButKeepsNewerOnes()
    {
        var c = Unique.Collection("merge");
        await Write(c, Patch("r1", 1, 0, Crm, ("old", "1")));
        await Write(c, Patch("r1", 9, 0, Billing, ("new", "2")));
        var put = await Write(c, Put("r1", 5, 0, Crm, ("named", "3")));

        Assert.Equal("applied", put.Outcome);
        Assert.Empty(put.StaleFields);
        var view = await Get(c, "r1");
        Assert.Equal(Data(("named", "3"), ("new", "2")), DataOf(view));
        Assert.Equal(ClockOf(9, 0, Billing), view.Fields!["new"]);
        Assert.Equal(ClockOf(5, 0, Crm), view.Fields!["named"]);
        Assert.Equal(ClockOf(9, 0, Billing), view.Clock);
        Assert.False(view.Fields.ContainsKey("old"));
    }

    [Fact]
    public async Task NullInAPutIsAValueNotARemoval()
    {
        var c = Unique.Collection("merge");
        await Write(c, Put("r1", 1, 0, Crm, ("a", "1"), ("b", "2")));
        await Write(c, Put("r1", 2, 0, Crm, ("a", "null")));

        var view = await Get(c, "r1");
        Assert.Equal(Data(("a", "null")), DataOf(view));
        Assert.Equal(ClockOf(2, 0, Crm), view.Fields!["a"]);
    }

    [Fact]
    public async Task PutWithEmptyDataIsALiveEmptyRecord()
    {
        var c = Unique.Collection("merge");
        await Write(c, Put("r1", 1, 0, Crm, ("a", "1")));
        var result = await Write(c, Put("r1", 2, 0, Crm));

        Assert.Equal("applied", result.Outcome);
        var view = await Get(c, "r1");
        Assert.False(view.Deleted);
        Assert.Empty(view.Data.Fields);
        Assert.Equal(ClockOf(2, 0, Crm), view.Clock);
    }

    [Fact]
    public async Task PatchNullRemovesTheFieldAndAnOlderValueCannotBringItBack()
    {
        var c = Unique.Collection("merge");
        await Write(c, Patch("r1", 1, 0, Crm, ("a", "1"), ("b", "1")));
        var removal = await Write(c, Patch("r1", 3, 0, Crm, ("a", "null")));
        var older = await Write(c, Patch("r1", 2, 0, Billing, ("a", "2")));

        Assert.Equal("applied", removal.Outcome);
        Assert.Equal(Data(("b", "1")), DataOf(removal.Record));
        Assert.Equal("stale", older.Outcome);
        Assert.Equal(new[] { "a" }, older.StaleFields);
        var view = await Get(c, "r1");
        Assert.Equal(Data(("b", "1")), DataOf(view));
        Assert.False(view.Fields!.ContainsKey("a"));
    }

    [Fact]
    public async Task PatchOlderThanTheFloorIsStaleEvenForAFieldTheRecordNeverHad()
    {
        var c = Unique.Collection("merge");
        var put = await Write(c, Put("r1", 5, 0, Crm, ("a", "1")));
        var patch = await Write(c, Patch("r1", 3, 0, Billing, ("b", "2")));

        Assert.Equal("stale", patch.Outcome);
        Assert.Equal(new[] { "b" }, patch.StaleFields);
        Assert.Equal(put.Seq, patch.Seq);
        Assert.Equal(Data(("a", "1")), DataOf(await Get(c, "r1")));
    }

    [Fact]
    public async Task DeleteRemovesOlderFieldsAndMarksTheRecordDeletedAtItsClock()
    {
        var c = Unique.Collection("merge");
        await Write(c, Put("r1", 1, 0, Crm, ("a", "1"), ("b", "2")));
        var delete = await Write(c, Delete("r1", 2, 500, Billing));

        Assert.Equal("applied", delete.Outcome);
        Assert.False(delete.Created);
        Assert.Equal(2, delete.Revision);
        Assert.True(delete.Record.Deleted);
        Assert.Empty(delete.Record.Data.Fields);
        var view = await Get(c, "r1");
        Assert.True(view.Deleted);
        Assert.Empty(view.Data.Fields);
        Assert.Equal(ClockOf(2, 500, Billing), view.Clock);
        var changes = await Changes(c);
        Assert.Equal("delete", changes[^1].Kind);
        Assert.True(changes[^1].Record.Deleted);
        Assert.Equal(new[] { "a", "b" }, changes[^1].ChangedFields.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task DeleteOfARecordNeverSeenIsAppliedAsADeletedRecord()
    {
        var c = Unique.Collection("merge");
        var delete = await Write(c, Delete("r1", 2, 0, Crm));

        Assert.Equal("applied", delete.Outcome);
        Assert.False(delete.Created);
        Assert.Equal(1, delete.Revision);
        Assert.True((await Get(c, "r1")).Deleted);
        Assert.Equal("delete", (await Changes(c)).Single().Kind);
    }

    [Theory]
    [InlineData("put")]
    [InlineData("patch")]
    public async Task LaterWriteRevivesADeletedRecordWithCreatedTrue(string op)
    {
        var c = Unique.Collection("merge");
        await Write(c, Put("r1", 1, 0, Crm, ("a", "1"), ("b", "2")));
        await Write(c, Delete("r1", 2, 0, Crm));
        var revive = await Write(c, Op(op, "r1", 3, 0, Billing, ("c", "3")));

        Assert.Equal("applied", revive.Outcome);
        Assert.True(revive.Created);
        Assert.Equal(3, revive.Revision);
        var view = await Get(c, "r1");
        Assert.False(view.Deleted);
        Assert.Equal(Data(("c", "3")), DataOf(view)); // the deleted fields stay gone
        Assert.Equal(ClockOf(3, 0, Billing), view.Clock);
        Assert.Equal("upsert", (await Changes(c))[^1].Kind);
    }

    [Fact]
    public async Task WriteOlderThanTheDeleteDoesNotReviveIt()
    {
        var c = Unique.Collection("merge");
        await Write(c, Delete("r1", 5, 0, Crm));
        var put = await Write(c, Put("r1", 4, 0, Crm, ("a", "1")));
        var patch = await Write(c, Patch("r1", 4, 1, Crm, ("a", "1")));

        Assert.Equal("stale", put.Outcome);
        Assert.Equal("stale", patch.Outcome);
        Assert.True((await Get(c, "r1")).Deleted);
    }

    [Fact]
    public async Task DeleteOlderThanANewerPatchKeepsThatFieldVisibleInEitherArrivalOrder()
    {
        var put = Put("r1", 1, 0, Crm, ("a", "1"), ("b", "2"));
        var patch = Patch("r1", 5, 0, Billing, ("c", "3"));
        var delete = Delete("r1", 3, 0, Crm);

        var deleteLast = Unique.Collection("merge");
        await Write(deleteLast, put);
        await Write(deleteLast, patch);
        var d = await Write(deleteLast, delete);
        Assert.Equal("applied", d.Outcome);
        Assert.False(d.Record.Deleted);

        var patchLast = Unique.Collection("merge");
        await Write(patchLast, put);
        await Write(patchLast, delete);
        var p = await Write(patchLast, patch);
        Assert.True(p.Created); // it was deleted in between

        foreach (var c in new[] { deleteLast, patchLast })
        {
            var view = await Get(c, "r1");
            Assert.False(view.Deleted);
            Assert.Equal(Data(("c", "3")), DataOf(view));
            Assert.Equal(ClockOf(5, 0, Billing), view.Clock);
            Assert.Equal(ClockOf(5, 0, Billing), view.Fields!["c"]);
        }
    }

    [Fact]
    public async Task RemovingTheLastFieldNewerThanADeleteLeavesTheRecordDeleted()
    {
        var c = Unique.Collection("merge");
        await Write(c, Delete("r1", 3, 0, Crm));
        await Write(c, Patch("r1", 5, 0, Crm, ("a", "1")));
        var removal = await Write(c, Patch("r1", 6, 0, Crm, ("a", "null")));

        Assert.Equal("applied", removal.Outcome);
        Assert.True(removal.Record.Deleted);
        var view = await Get(c, "r1");
        Assert.True(view.Deleted);
        Assert.Equal(ClockOf(3, 0, Crm), view.Clock); // the floor; a removal is not a visible winner
    }

    [Fact]
    public async Task StaleFieldsListsExactlyTheLosingNamedFieldsOfAnAppliedWrite()
    {
        var c = Unique.Collection("merge");
        await Write(c, Patch("r1", 5, 0, Crm, ("a", "1")));
        await Write(c, Patch("r1", 1, 0, Crm, ("b", "1")));

        var patch = await Write(c, Patch("r1", 3, 0, Billing, ("a", "2"), ("b", "2"), ("c", "2")));
        Assert.Equal("applied", patch.Outcome);
        Assert.Equal(new[] { "a" }, patch.StaleFields);
        Assert.Equal(Data(("a", "1"), ("b", "2"), ("c", "2")), DataOf(patch.Record));

        // A PUT lists the named fields it lost, never the unnamed ones it did or did not remove.
        var put = await Write(c, Put("r1", 4, 0, Billing, ("a", "3"), ("d", "3")));
        Assert.Equal("applied", put.Outcome);
        Assert.Equal(new[] { "a" }, put.StaleFields);
        Assert.Equal(Data(("a", "1"), ("d", "3")), DataOf(await Get(c, "r1")));
    }

    [Fact]
    public async Task RevisionCountsOnlyAppliedWritesAndSeqMovesOnlyWithThem()
    {
        var c = Unique.Collection("merge");
        var steps = new (RecordWrite Write, string Outcome, long Revision, bool NewSeq)[]
        {
            (Put("r1", 2, 0, Crm, ("a", "1")), "applied", 1, true),
            (Put("r1", 2, 0, Crm, ("a", "1")), "unchanged", 1, false),
            (Put("r1", 1, 0, Crm, ("a", "9")), "stale", 1, false),
            (Put("r1", 2, 0, Crm, ("a", "9")), "conflict", 1, false),
            (Patch("r1", 3, 0, Crm, ("b", "2")), "applied", 2, true),
            (Patch("r1", 3, 0, Crm, ("b", "2")), "unchanged", 2, false),
            (Delete("r1", 5, 0, Crm), "applied", 3, true),
            (Delete("r1", 5, 0, Crm), "unchanged", 3, false),
            (Patch("r1", 7, 0, Crm, ("a", "1")), "applied", 4, true),
        };
        string? seq = null;
        var seqs = new List<string>();
        foreach (var (write, outcome, revision, newSeq) in steps)
        {
            var result = await Write(c, write);
            Assert.Equal(outcome, result.Outcome);
            Assert.Equal(revision, result.Revision);
            Assert.Equal(revision, result.Record.Revision);
            if (newSeq)
            {
                Assert.NotEqual(seq, result.Seq);
                seqs.Add(result.Seq!);
            }
            else Assert.Equal(seq, result.Seq);
            seq = result.Seq;
        }

        var changes = await Changes(c);
        Assert.Equal(seqs, changes.Select(e => e.Seq));
        Assert.Equal(new[] { 1L, 2, 3, 4 }, changes.Select(e => e.Revision));
        Assert.Equal(new[] { "upsert", "upsert", "delete", "upsert" }, changes.Select(e => e.Kind));
        var view = await Get(c, "r1");
        Assert.Equal(4, view.Revision);
        Assert.Equal(seq, view.Seq);
    }

    [Fact]
    public async Task ABatchNamingOneRecordSeveralTimesAppliesItsWritesInOrder()
    {
        var c = Unique.Collection("merge");
        var results = await StoreFor(c, MergePolicy.Version).WriteAsync(c,
        [
            Put("r1", 1, 0, Crm, ("a", "1")),
            Patch("r1", 2, 0, Crm, ("b", "2")),
            Put("r1", 1, 0, Crm, ("a", "1")),
            Delete("r1", 0, 0, Crm),
            Put("r2", 1, 0, Crm, ("z", "0")),
            Patch("r1", 2, 0, Crm, ("b", "3")),
        ]);

        Assert.Equal(new[] { "applied", "applied", "unchanged", "stale", "applied", "conflict" }, results.Select(r => r.Outcome));
        Assert.Equal(new[] { 1L, 2, 2, 2, 1, 2 }, results.Select(r => r.Revision));
        Assert.Equal(Data(("a", "1"), ("b", "2")), DataOf(await Get(c, "r1")));
        Assert.Equal(3, (await Changes(c)).Count);
    }

    // ---------------------------------------------------------------- server-stamped timestamps

    [Fact]
    public async Task ServerStampedWritesFromOneSourceNeverShareAClockEvenInOneScriptRun()
    {
        var c = Unique.Collection("merge");
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        // Separate calls: quick enough that several land in the same millisecond of Redis TIME.
        var stamps = new List<long>();
        for (var i = 0; i < 10; i++)
        {
            var r = await Write(c, Patch("r1", 0, null, Crm, ("a", i.ToString(System.Globalization.CultureInfo.InvariantCulture))), MergePolicy.Timestamp);
            Assert.Equal("applied", r.Outcome);
            stamps.Add(Ms(r.Record.Clock!));
        }
        // One call: the script reads TIME once, so all five share a millisecond unless it steps them apart.
        var batch = await StoreFor(c, MergePolicy.Timestamp).WriteAsync(c,
            Enumerable.Range(10, 5).Select(i => Put("r1", 0, null, Crm, ("a", i.ToString(System.Globalization.CultureInfo.InvariantCulture)))).ToList());
        Assert.All(batch, r => Assert.Equal("applied", r.Outcome));
        stamps.AddRange(batch.Select(r => Ms(r.Record.Clock!)));

        for (var i = 1; i < stamps.Count; i++)
            Assert.True(stamps[i] > stamps[i - 1], $"stamp {i} ({stamps[i]}) is not after stamp {i - 1} ({stamps[i - 1]})");
        var view = await Get(c, "r1");
        Assert.Equal(Data(("a", "14")), DataOf(view));
        Assert.Equal(stamps[^1], Ms(view.Fields!["a"]));
        Assert.Equal(15, view.Revision);
        // Redis TIME on this machine, not zero and not the version policy's epoch.
        Assert.InRange(stamps[0], before - 60_000, before + 60_000);
    }

    [Fact]
    public async Task ServerStampedWriteLosesToAnExplicitTimestampFromTheFuture()
    {
        var c = Unique.Collection("merge");
        var future = DateTimeOffset.UtcNow.AddMinutes(2).ToUnixTimeMilliseconds();
        await Write(c, Patch("r1", 0, future, Billing, ("a", "\"future\"")), MergePolicy.Timestamp);
        var stamped = await Write(c, Patch("r1", 0, null, Crm, ("a", "\"now\"")), MergePolicy.Timestamp);

        Assert.Equal("stale", stamped.Outcome);
        Assert.Equal(Data(("a", "\"future\"")), DataOf(await Get(c, "r1")));
    }

    // ---------------------------------------------------------------- values are opaque text

    [Fact]
    public async Task NumberLiteralsAreKeptDigitForDigit()
    {
        var c = Unique.Collection("merge");
        (string Name, string Json)[] numbers =
        [
            ("pi", "3.141592653589793"),
            ("twoTo63", "9223372036854775808"),
            ("huge", "1e400"),
            ("tenth", "0.1"),
            ("negZero", "-0"),
            ("exp", "1E+2"),
            ("long", "123456789012345678901234567890.000000000000000000001"),
            ("nested", "{\"x\":[1.10,2e-7,18446744073709551617]}"),
        ];
        await Write(c, Put("r1", 1, 0, Crm, numbers));

        var view = await Get(c, "r1");
        Assert.Equal(Data(numbers), DataOf(view));
        var json = JsonSerializer.Serialize(view, JsonOptions());
        foreach (var (name, literal) in numbers)
            Assert.Contains($"\"{name}\":{literal}", json);

        // Numerically equal, textually different: the text is the value, so it is a change.
        var other = await Write(c, Patch("r1", 2, 0, Crm, ("pi", "3.1415926535897931")));
        Assert.Equal("applied", other.Outcome);
        Assert.Equal("3.1415926535897931", DataOf(await Get(c, "r1"))["pi"]);
    }

    [Fact]
    public async Task StringsAndFieldNamesWithLuaSpecialCharactersRoundTrip()
    {
        var c = Unique.Collection("merge");
        string[] texts =
        [
            "100%", "%d %s %% %1 %b()", "quote \" inside", "single ' quote", "back\\slash \\n not a newline",
            "line\nbreak\r\ttab", "ünïcødé ключ 中文", "emoji 😀🎉 and ZWJ 👩‍👩‍👧", "]]--[[ --[==[", "a|b|c", "\u0001 control",
            "$floor", "v:x", "",
        ];
        string[] names = ["%", "%s%d", "a|b", "c:x", "v:y", "d:z", "x$", "with space", "ключ", "😀", "[[", "\"q\"", "n\nl"];
        var fields = new List<(string, string)>();
        for (var i = 0; i < texts.Length; i++) fields.Add(($"t{i}", Canonical(texts[i])));
        for (var i = 0; i < names.Length; i++) fields.Add((names[i], Canonical($"value of {names[i]}")));
        var put = Put("r1", 1, 0, Crm, [.. fields]);
        await Write(c, put);

        var view = await Get(c, "r1");
        Assert.Equal(Data([.. fields]), DataOf(view));
        for (var i = 0; i < texts.Length; i++)
            Assert.Equal(texts[i], view.Data[$"t{i}"].GetString());
        Assert.All(names, n => Assert.Equal(ClockOf(1, 0, Crm), view.Fields![n]));

        // Lua compares the texts byte for byte: the same write again is a retry, not a change.
        Assert.Equal("unchanged", (await Write(c, put)).Outcome);
        // And removes them by name: a newer PUT that names none of them leaves nothing behind.
        await Write(c, Put("r1", 2, 0, Crm, ("only", "1")));
        var after = await Get(c, "r1");
        Assert.Equal(Data(("only", "1")), DataOf(after));
        Assert.Equal(new[] { "only" }, after.Fields!.Keys);
    }

    [Fact]
    public async Task EmptyObjectEmptyArrayAndEmptyStringStayDistinct()
    {
        var c = Unique.Collection("merge");
        await Write(c, Put("r1", 1, 0, Crm, ("o", "{}"), ("a", "[]"), ("s", "\"\"")));
        var view = await Get(c, "r1");
        Assert.Equal(Data(("a", "[]"), ("o", "{}"), ("s", "\"\"")), DataOf(view));
        Assert.Contains("\"a\":[],\"o\":{},\"s\":\"\"", JsonSerializer.Serialize(view, JsonOptions()));

        var swap = await Write(c, Patch("r1", 2, 0, Crm, ("o", "[]"), ("a", "{}")));
        Assert.Equal("applied", swap.Outcome);
        Assert.Equal(Data(("a", "{}"), ("o", "[]"), ("s", "\"\"")), DataOf(await Get(c, "r1")));
        Assert.Equal(new[] { "a", "o" }, (await Changes(c))[^1].ChangedFields.Order(StringComparer.Ordinal));
    }

    // ---------------------------------------------------------------- the record clock

    [Fact]
    public async Task RecordClockIsTheGreatestOfTheFloorAndTheVisibleWinners()
    {
        var c = Unique.Collection("merge");
        await Write(c, Put("r1", 2, 0, Crm, ("a", "1")));
        Assert.Equal(ClockOf(2, 0, Crm), (await Get(c, "r1")).Clock);

        await Write(c, Patch("r1", 7, 0, Crm, ("b", "1")));
        Assert.Equal(ClockOf(7, 0, Crm), (await Get(c, "r1")).Clock);

        // Removing b leaves a@2 and the floor @2: a removal is not a visible winner.
        var removal = await Write(c, Patch("r1", 9, 0, Crm, ("b", "null")));
        Assert.Equal(ClockOf(2, 0, Crm), removal.Record.Clock);
        Assert.Equal(ClockOf(2, 0, Crm), (await Get(c, "r1")).Clock);

        // The floor is a winner too when it is the greatest: a delete newer than every visible field.
        await Write(c, Patch("r1", 3, 0, Billing, ("c", "1")));
        await Write(c, Delete("r1", 4, 0, Billing));
        var deleted = await Get(c, "r1");
        Assert.True(deleted.Deleted);
        Assert.Equal(ClockOf(4, 0, Billing), deleted.Clock);

        await Write(c, Patch("r1", 8, 0, Crm, ("d", "1")));
        Assert.Equal(ClockOf(8, 0, Crm), (await Get(c, "r1")).Clock);
    }

    [Fact]
    public async Task RecordThatOnlyReceivedPatchRemovalsIsLiveAndEmptyAtItsNewestRemoval()
    {
        // No floor and no visible field: the merge gives such a record the clock of its newest removal.
        var c = Unique.Collection("merge");
        var first = await Write(c, Patch("r1", 5, 0, Crm, ("a", "null")));
        var older = await Write(c, Patch("r1", 3, 0, Billing, ("b", "null")));

        Assert.Equal("applied", first.Outcome);
        Assert.True(first.Created);
        Assert.Equal("unchanged", older.Outcome);
        var view = await Get(c, "r1");
        Assert.False(view.Deleted);
        Assert.Empty(view.Data.Fields);
        Assert.Equal(ClockOf(5, 0, Crm), view.Clock);
    }

    // ---------------------------------------------------------------- helpers

    private async Task<WriteResult> Write(string collection, RecordWrite write, MergePolicy policy = MergePolicy.Version) =>
        (await StoreFor(collection, policy).WriteAsync(collection, [write]))[0];

    // Each collection follows the policy of the store it was first written through.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, MergePolicy> _policies = new();

    private RecordStore StoreFor(string collection, MergePolicy policy) => fixture.Store(_policies.GetOrAdd(collection, policy));

    private RecordStore Store(string collection) => fixture.Store(_policies.GetValueOrDefault(collection));

    private async Task<RecordView> Get(string collection, string id) =>
        await Store(collection).GetAsync(collection, id, includeClocks: true) ?? throw new Xunit.Sdk.XunitException($"{collection}/{id} does not exist");

    private async Task<IReadOnlyList<ChangeEvent>> Changes(string collection)
    {
        var read = await Store(collection).ReadChangesAsync(collection, after: null, 10_000);
        Assert.False(read.ResyncRequired);
        return Events(collection, read, _policies.GetValueOrDefault(collection));
    }

    /// <summary>Applies two writes in both orders, each order to its own collection, and checks field a's winner.</summary>
    private async Task AssertWinnerInBothOrders(MergePolicy policy, RecordWrite first, RecordWrite second, string winnerJson, ClockView winnerClock)
    {
        foreach (var (x, y) in new[] { (first, second), (second, first) })
        {
            var c = Unique.Collection("merge");
            var rx = await Write(c, x, policy);
            var ry = await Write(c, y, policy);
            Assert.Equal("applied", rx.Outcome);
            Assert.Equal(y.Fields[0].Value == winnerJson ? "applied" : "stale", ry.Outcome);
            var view = await Get(c, "r1");
            Assert.Equal(winnerJson, DataOf(view)["a"]);
            Assert.Equal(winnerClock, view.Fields!["a"]);
            Assert.Equal(winnerClock, view.Clock);
        }
    }

    private static RecordWrite Op(string op, string id, long version, long? timestampMs, string source, params (string Name, string Json)[] fields) =>
        op switch
        {
            "put" => Put(id, version, timestampMs, source, fields),
            "patch" => Patch(id, version, timestampMs, source, fields),
            _ => throw new ArgumentOutOfRangeException(nameof(op)),
        };

    private static long Ms(ClockView clock) => DateTimeOffset.Parse(clock.Timestamp!, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();

    /// <summary>A string's JSON text exactly as the gateway canonicalizes a body value.</summary>
    private static string Canonical(string text) => JsonText.Canonical(JsonDocument.Parse(JsonSerializer.Serialize(text)).RootElement);

    // RecordData writes its values raw, so these options only need the API's property naming.
    private static JsonSerializerOptions JsonOptions() => new(JsonSerializerDefaults.Web);
}
