using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace RedisSync.Tests.Cluster;

/// <summary>A write the gateway answered 2xx: what must be found afterwards (its record with at least this clock).</summary>
public sealed record AcknowledgedWrite(string Collection, string Id, long Version, string Outcome, string? Seq);

/// <summary>One writer: the collection it writes and the instance it starts on (it moves on when that one fails).</summary>
public sealed record WriterPlan(string Collection, int Gateway);

/// <summary>Bounds and pace of a <see cref="WriteLoad"/>.</summary>
public sealed record WriteLoadOptions
{
    /// <summary>Records each writer cycles through (its own ids, so writers never conflict).</summary>
    public int IdsPerWriter { get; init; } = 10;

    /// <summary>Pause after each acknowledged write: keeps the load a few hundred writes/s on a shared machine.</summary>
    public TimeSpan Pause { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Writes each writer makes at most.</summary>
    public int MaxWritesPerWriter { get; init; } = 5_000;

    /// <summary>How long one write is retried (503, refused connection) before the writer gives up on it.</summary>
    public TimeSpan RetryFor { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Pause between two attempts of the same write.</summary>
    public TimeSpan RetryPause { get; init; } = TimeSpan.FromMilliseconds(50);
}

/// <summary>
/// Writers that PUT records over HTTP through the gateways of a <see cref="GatewayPool"/>, as a data source would:
/// each write carries a version that only grows, a 503 or a refused connection is retried with the same version
/// and data (the contract says that is safe), on another instance when the connection failed. Records every
/// answer, every acknowledged write, and per writer the longest run of failed attempts.
/// </summary>
public sealed class WriteLoad
{
    private readonly GatewayPool _pool;
    private readonly HttpClient _http;
    private readonly WriteLoadOptions _options;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<AcknowledgedWrite> _acknowledged = new();
    private readonly ConcurrentDictionary<string, int> _answers = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _unexpected = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly TimeSpan[] _longestOutage;
    private readonly Task[] _writers;
    private int _abandoned;

    private WriteLoad(GatewayPool pool, HttpClient http, IReadOnlyList<WriterPlan> plans, WriteLoadOptions options)
    {
        _pool = pool;
        _http = http;
        _options = options;
        _longestOutage = new TimeSpan[plans.Count];
        _writers = plans.Select((plan, w) => Task.Run(() => RunWriterAsync(w, plan))).ToArray();
    }

    public static WriteLoad Start(GatewayPool pool, HttpClient http, IReadOnlyList<WriterPlan> plans, WriteLoadOptions? options = null) =>
        new(pool, http, plans, options ?? new WriteLoadOptions());

    public IReadOnlyCollection<AcknowledgedWrite> Acknowledged => _acknowledged;

    /// <summary>Answers by kind: "200", "201", "503", "refused" (no answer: connection failed or timed out)...</summary>
    public IReadOnlyDictionary<string, int> Answers => _answers;

    /// <summary>Answers that are neither 2xx nor 503 (a 500 above all), with their body: each is a bug.</summary>
    public IReadOnlyCollection<string> Unexpected => _unexpected;

    /// <summary>Writes given up after <see cref="WriteLoadOptions.RetryFor"/> (never answered 2xx; not counted as lost).</summary>
    public int Abandoned => Volatile.Read(ref _abandoned);

    /// <summary>The longest time any writer went from its first failed attempt to its next success.</summary>
    public TimeSpan LongestOutage
    {
        get { lock (_longestOutage) return _longestOutage.Max(); }
    }

    /// <summary>Acknowledged writes of <paramref name="collection"/> so far.</summary>
    public int AcknowledgedIn(string collection) => _acknowledged.Count(a => a.Collection == collection);

    /// <summary>Stops the writers (a write being retried is abandoned) and waits for them.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_writers).WaitAsync(timeout);
    }

    private async Task RunWriterAsync(int writer, WriterPlan plan)
    {
        var turn = plan.Gateway;
        TimeSpan? failingSince = null;
        for (var n = 0; n < _options.MaxWritesPerWriter && !_stop.IsCancellationRequested; n++)
        {
            // One version counter per writer: every record of the writer sees its versions only grow.
            var version = n + 1L;
            var id = $"w{writer}-{n % _options.IdsPerWriter}";
            var body = $$$"""{"version":{{{version}}},"data":{"writer":{{{writer}}},"n":{{{n}}}}}""";
            var firstAttempt = _clock.Elapsed;
            var done = false;
            while (!done && !_stop.IsCancellationRequested)
            {
                if (_clock.Elapsed - firstAttempt > _options.RetryFor)
                {
                    Interlocked.Increment(ref _abandoned);
                    break;
                }
                var gateway = _pool.Pick(turn);
                if (gateway is null)
                {
                    failingSince ??= _clock.Elapsed;
                    await PauseAsync(_options.RetryPause);
                    continue;
                }
                var outcome = await PutAsync(gateway, plan.Collection, id, body);
                Count(outcome.Answer);
                switch (outcome.Kind)
                {
                    case AnswerKind.Acknowledged:
                        _acknowledged.Enqueue(new AcknowledgedWrite(plan.Collection, id, version, outcome.Outcome!, outcome.Seq));
                        if (failingSince is { } since) NoteOutage(writer, _clock.Elapsed - since);
                        failingSince = null;
                        done = true;
                        break;
                    case AnswerKind.Unavailable:
                        failingSince ??= _clock.Elapsed;
                        await PauseAsync(_options.RetryPause);
                        break;
                    case AnswerKind.NoAnswer:
                        failingSince ??= _clock.Elapsed;
                        turn++; // that instance may be gone: the next one
                        await PauseAsync(_options.RetryPause);
                        break;
                    default:
                        _unexpected.Enqueue($"PUT {plan.Collection}/{id} v{version}: {outcome.Answer} {outcome.Detail}");
                        done = true;
                        break;
                }
            }
            if (done) await PauseAsync(_options.Pause);
        }
        // A writer still failing when stopped: its outage so far counts too.
        if (failingSince is { } open) NoteOutage(writer, _clock.Elapsed - open);
    }

    private enum AnswerKind { Acknowledged, Unavailable, NoAnswer, Unexpected }

    private readonly record struct Answered(AnswerKind Kind, string Answer, string? Outcome = null, string? Seq = null, string? Detail = null);

    private async Task<Answered> PutAsync(Uri gateway, string collection, string id, string body)
    {
        try
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await _http.PutAsync(new Uri(gateway, $"/api/v1/collections/{collection}/records/{id}"), content);
            var text = await response.Content.ReadAsStringAsync();
            var status = ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (response.IsSuccessStatusCode)
            {
                using var json = JsonDocument.Parse(text);
                return new(AnswerKind.Acknowledged, status, json.RootElement.GetProperty("outcome").GetString(),
                    json.RootElement.TryGetProperty("seq", out var seq) ? seq.GetString() : null);
            }
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable) return new(AnswerKind.Unavailable, status);
            return new(AnswerKind.Unexpected, status, Detail: text.Length > 300 ? text[..300] : text);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            return new(AnswerKind.NoAnswer, "no answer");
        }
    }

    /// <summary>
    /// PUTs <paramref name="id"/> at version 1 through any instance of the pool, retrying 503s and refused connections
    /// until it is acknowledged or <paramref name="ct"/> ends; returns the seq of its change.
    /// </summary>
    public static async Task<string> PutUntilAcknowledgedAsync(GatewayPool pool, HttpClient http, string collection, string id, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            ct.ThrowIfCancellationRequested();
            var gateway = pool.Pick(attempt);
            if (gateway is not null)
            {
                try
                {
                    using var content = new StringContent("""{"version":1,"data":{"written":"once"}}""", Encoding.UTF8, "application/json");
                    using var response = await http.PutAsync(new Uri(gateway, $"/api/v1/collections/{collection}/records/{id}"), content, ct);
                    var text = await response.Content.ReadAsStringAsync(ct);
                    if (response.IsSuccessStatusCode) return JsonDocument.Parse(text).RootElement.GetProperty("seq").GetString()!;
                    if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
                        throw new InvalidOperationException($"PUT {collection}/{id} was answered {(int)response.StatusCode}: {text}");
                }
                catch (HttpRequestException) { }
            }
            await Task.Delay(50, ct);
        }
    }

    private void Count(string answer) => _answers.AddOrUpdate(answer, 1, (_, c) => c + 1);

    private void NoteOutage(int writer, TimeSpan length)
    {
        lock (_longestOutage)
            if (length > _longestOutage[writer]) _longestOutage[writer] = length;
    }

    private async Task PauseAsync(TimeSpan pause)
    {
        try { await Task.Delay(pause, _stop.Token); }
        catch (OperationCanceledException) { }
    }
}
