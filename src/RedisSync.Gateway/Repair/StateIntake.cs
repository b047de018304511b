using RedisSync.Gateway.Merge;
using RedisSync.Gateway.Store;

namespace RedisSync.Gateway.Repair;

/// <summary>What bringing a peer's states in did: each state's outcome in order, and the ids whose damaged copy was replaced.</summary>
public sealed record IntakeResult(IReadOnlyList<StateOutcome> Outcomes, IReadOnlySet<string> Replaced);

/// <summary>
/// Brings record states a peer handed over in a repair into this site, whichever side started the repair: each is
/// joined through the merge, except a record a scrub found damaged here. A damaged copy cannot be trusted in a join
/// (an altered value under an unchanged clock would win or lose by its content), so the peer's copy replaces it
/// (CONTRACT §10, "never the reverse"), with a revision above any this site handed out for it, and its damage mark
/// is cleared: it is an ordinary record again, handed out to peers like any other.
/// </summary>
public static class StateIntake
{
    public static async Task<IntakeResult> ApplyAsync(RecordStore records, DigestStore index, string collection, IReadOnlyList<(string Id, RecordState State)> states)
    {
        if (states.Count == 0) return new IntakeResult([], new HashSet<string>());
        var damaged = await index.DamagedAsync(collection);
        // No revision of the collection exceeds its entry count, so this is above any the site handed out.
        var floor = damaged.Count > 0 && states.Any(s => damaged.Contains(s.Id)) ? await records.ChangeCountAsync(collection) + 1 : 0;
        var incoming = states.Select(s => damaged.Contains(s.Id) ? new IncomingState(s.Id, s.State, Replace: true, MinRevision: floor) : new IncomingState(s.Id, s.State)).ToList();
        var outcomes = await records.ApplyStatesAsync(collection, incoming);
        var replaced = incoming.Where(s => s.Replace).Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        if (replaced.Count > 0) await index.RepairedAsync(collection, replaced);
        return new IntakeResult(outcomes, replaced);
    }
}
