using System.Globalization;
using System.Text.Json;
using RedisSync.Bench.Clients;
using RedisSync.Bench.Measurement;

namespace RedisSync.Bench.Workloads;

/// <summary>One resubscription: how long until the client held every missed change, and whether they were right.</summary>
public sealed record ResumeRun(double HeldAllMs, double SubscribeReturnedMs, int Received, int Replayed, bool InOrder, bool EndsAtLastSeq);

public sealed record ResumeResult(int Changes, double WriteSeconds, IReadOnlyList<ResumeRun> Runs, double MedianHeldAllMs);

/// <summary>
/// A client that missed N changes resubscribes with <c>after</c> = the last seq it held: the time from
/// sending Subscribe until it holds all N (the gateway replays them from the change log before it answers).
/// </summary>
public static class ResumeBench
{
    public static async Task<ResumeResult> RunAsync(BenchContext ctx)
    {
        var o = ctx.Options;
        var collection = ctx.Collection("resume");

        // The client's position: the seq of one write. Then the N changes it misses, written in batches.
        var (status, body) = await ctx.Http.PutAsync(collection, "start", 1, 0, Clock.Now);
        if (GatewayHttp.Failure(status) is { } failure) throw new InvalidOperationException($"resume setup: {failure}");
        var after = GatewayHttp.LastSeq(body) ?? throw new InvalidOperationException("resume setup: no seq in the write result");

        BenchContext.Progress($"{ctx.Name}: resume: writing {o.ResumeChanges} changes the client misses");
        var writeStart = Clock.Now;
        const int batch = 100;
        string? last = null;
        for (var written = 0; written < o.ResumeChanges; written += batch)
        {
            var ids = Enumerable.Range(written, Math.Min(batch, o.ResumeChanges - written)).Select(k => $"r{k}").ToArray();
            (status, body) = await ctx.Http.PutBatchAsync(collection, ids, 1);
            if (GatewayHttp.Failure(status) is { } f) throw new InvalidOperationException($"resume setup: {f}");
            last = GatewayHttp.LastSeq(body);
        }
        var writeSeconds = Clock.Seconds(Clock.Now - writeStart);

        var runs = new List<ResumeRun>();
        for (var run = 0; run < o.ResumeRuns && !ctx.Ct.IsCancellationRequested; run++)
        {
            BenchContext.Progress($"{ctx.Name}: resume: resubscribing after {o.ResumeChanges} missed changes (run {run + 1} of {o.ResumeRuns})");
            runs.Add(await ResubscribeAsync(ctx, collection, after, last!, o.ResumeChanges));
            BenchContext.Progress($"  held all in {runs[^1].HeldAllMs:0.0} ms, Subscribe returned in {runs[^1].SubscribeReturnedMs:0.0} ms");
        }
        var sorted = runs.Select(r => r.HeldAllMs).Order().ToArray();
        return new ResumeResult(o.ResumeChanges, Math.Round(writeSeconds, 2), runs, sorted.Length == 0 ? 0 : sorted[sorted.Length / 2]);
    }

    private static async Task<ResumeRun> ResubscribeAsync(BenchContext ctx, string collection, string after, string last, int expected)
    {
        var received = 0;
        var inOrder = true;
        var previous = after;
        var heldAll = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        // The client hands over one change at a time, in order of arrival.
        await using var client = await Subscriber.ConnectAsync(ctx.Gateway.HubUri, (change, at) =>
        {
            if (change.Seq is not { } seq || CompareSeq(seq, previous) <= 0) inOrder = false;
            previous = change.Seq ?? previous;
            if (++received == expected) heldAll.TrySetResult(at);
        }, ctx.Ct);

        var start = Clock.Now;
        var result = await client.SubscribeAsync(collection, after, TimeSpan.FromSeconds(60));
        var returned = Clock.Now;
        var held = heldAll.Task.IsCompleted ? await heldAll.Task : await heldAll.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var replayed = result is JsonElement { ValueKind: JsonValueKind.Object } r && r.TryGetProperty("replayed", out var n) ? n.GetInt32() : -1;
        return new ResumeRun(Math.Round(Clock.Ms(held - start), 1), Math.Round(Clock.Ms(returned - start), 1), received,
            replayed, inOrder, previous == last);
    }

    /// <summary>Orders stream ids ("ms-n"); clients never parse a seq, but a benchmark checking order may.</summary>
    private static int CompareSeq(string a, string b)
    {
        static (ulong, ulong) Parts(string s)
        {
            var dash = s.IndexOf('-');
            return (ulong.Parse(s.AsSpan(0, dash), CultureInfo.InvariantCulture), ulong.Parse(s.AsSpan(dash + 1), CultureInfo.InvariantCulture));
        }
        return Parts(a).CompareTo(Parts(b));
    }
}
