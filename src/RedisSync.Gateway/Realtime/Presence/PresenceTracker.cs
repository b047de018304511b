using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using RedisSync.Gateway.Hosting;
using RedisSync.Gateway.Realtime.Payloads;
using StackExchange.Redis;

namespace RedisSync.Gateway.Realtime.Presence;

/// <summary>
/// Who is subscribed to each collection, across every gateway instance (CONTRACT §7). A member lives in
/// Redis (<see cref="PresenceStore"/>) and in the collection's SignalR group, whose sends the Redis
/// backplane carries to every instance: <c>join</c> and <c>leave</c> to the others, <c>update</c> to all.
/// This instance tracks its own connections and renews a lease in Redis; when an instance stops renewing
/// (it died), one survivor claims its lease atomically, removes its members and sends their leaves.
/// </summary>
public sealed class PresenceTracker : IHostedService
{
    /// <summary>Largest presence data, as JSON text (CONTRACT §7).</summary>
    public const int MaxDataBytes = 1024;

    private readonly PresenceStore _store;
    private readonly IHubContext<SyncHub> _hub;
    private readonly RealtimeOptions _options;
    private readonly int _maxDepth;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<string, Attendee> _attendees = new(StringComparer.Ordinal);

    // Members whose removal from Redis failed (Redis away): retried with each heartbeat, else they would
    // stay forever, as their instance is alive and nobody reaps it.
    private readonly ConcurrentDictionary<(string Collection, string ConnectionId), PresenceMember> _pendingLeaves = new();

    private readonly Lock _instanceLock = new();
    private readonly HashSet<string> _indexed = new(StringComparer.Ordinal); // collections in _instance's index
    private string _instance = NewInstanceId();
    private bool _registered;
    private volatile bool _stopped;
    private readonly CancellationTokenSource _stop = new();
    private Task _heartbeats = Task.CompletedTask;
    private Task? _stopping; // guarded by _instanceLock

    public PresenceTracker(IConnectionMultiplexer redis, IHubContext<SyncHub> hub, IOptions<RealtimeOptions> options,
        IOptions<SyncOptions> sync, ILogger<PresenceTracker> log)
    {
        _store = new PresenceStore(redis);
        _hub = hub;
        _options = options.Value;
        _maxDepth = sync.Value.MaxJsonDepth;
        _log = log;
    }

    // Renewed six times per timeout and expired after four missed renewals: a dead instance's members
    // leave at most 2/3 + 1/6 of the timeout after its death, and a live one has 1/2 of it to spare.
    private TimeSpan Renewal => _options.PresenceTimeout / 6;
    private TimeSpan Expiry => _options.PresenceTimeout * 2 / 3;

    /// <summary>The SignalR group of a collection's subscribers (presence events and signals).</summary>
    public static string GroupOf(string collection) => "collection:" + collection;

    internal void Connect(string connectionId, string? key) =>
        _attendees[connectionId] = new Attendee(connectionId, key, new SignalBucket(_options.SignalsPerSecond));

    /// <summary>The API key name of a connection (null when auth is off), and a signal token if one is left.</summary>
    internal (string? Key, bool Allowed) TakeSignal(string connectionId)
    {
        var attendee = Find(connectionId);
        return (attendee.Key, attendee.Signals.TryTake());
    }

    /// <summary>Makes the connection a member of the collection; subscribing again keeps the membership.</summary>
    internal async Task JoinAsync(string connectionId, string collection)
    {
        var attendee = Find(connectionId);
        await attendee.Gate.WaitAsync();
        try
        {
            if (attendee.Closed || _stopped) throw new HubException("unavailable: the connection is closing.");
            if (attendee.Memberships.ContainsKey(collection)) return;
            var member = new PresenceMember(connectionId, attendee.Key, null, Now());
            // In the group first, so that nothing sent to the members after its join can miss it.
            await _hub.Groups.AddToGroupAsync(connectionId, GroupOf(collection));
            try
            {
                await WriteAsync(collection, member);
            }
            catch
            {
                await _hub.Groups.RemoveFromGroupAsync(connectionId, GroupOf(collection));
                throw;
            }
            attendee.Memberships[collection] = member;
            await SendAsync(collection, "join", member, except: connectionId);
        }
        finally { attendee.Gate.Release(); }
    }

    /// <summary>Sets a member's data; <c>validation:</c> when the connection is not subscribed to the collection.</summary>
    internal async Task UpdateAsync(string connectionId, string collection, Dictionary<string, object?> data)
    {
        var attendee = Find(connectionId);
        await attendee.Gate.WaitAsync();
        try
        {
            if (attendee.Closed || !attendee.Memberships.TryGetValue(collection, out var member))
                throw new HubException($"validation: this connection is not subscribed to collection '{collection}'; call Subscribe first.");
            var updated = member with { Data = data };
            await WriteAsync(collection, updated);
            attendee.Memberships[collection] = updated;
            await SendAsync(collection, "update", updated, except: null);
        }
        finally { attendee.Gate.Release(); }
    }

    /// <summary>Ends the connection's membership of the collection (Unsubscribe).</summary>
    internal async Task LeaveAsync(string connectionId, string collection)
    {
        if (!_attendees.TryGetValue(connectionId, out var attendee)) return;
        await attendee.Gate.WaitAsync();
        try
        {
            if (!attendee.Memberships.Remove(collection, out var member)) return;
            await _hub.Groups.RemoveFromGroupAsync(connectionId, GroupOf(collection));
            await RemoveAsync(collection, member);
        }
        finally { attendee.Gate.Release(); }
    }

    /// <summary>Ends every membership of a closed connection (the backplane drops its groups itself).</summary>
    internal async Task DisconnectAsync(string connectionId)
    {
        if (!_attendees.TryRemove(connectionId, out var attendee)) return;
        await attendee.Gate.WaitAsync();
        try
        {
            attendee.Closed = true;
            if (_stopped) return; // the shutdown removed this instance's members already
            foreach (var (collection, member) in attendee.Memberships) await RemoveAsync(collection, member);
            attendee.Memberships.Clear();
        }
        finally { attendee.Gate.Release(); }
    }

    /// <summary>Every member of a collection on every instance whose lease is current, by since, then connectionId.</summary>
    internal async Task<PresenceList> ListAsync(string collection)
    {
        var stored = await _store.MembersAsync(collection);
        // A dead instance's members stay in the hash until a survivor reaps them: leave them out already.
        var live = await _store.LiveInstancesAsync(Expiry);
        var members = stored
            .Where(m => live.Contains(m.Instance))
            .Select(m => ParseMember(m.MemberJson))
            .OfType<PresenceMember>()
            .OrderBy(m => m.Since, StringComparer.Ordinal)
            .ThenBy(m => m.ConnectionId, StringComparer.Ordinal)
            .ToList();
        return new PresenceList(collection, members);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _heartbeats = Task.Run(() => RenewLeaseAsync(_stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Removes this instance's members, with their leaves, and its lease: a graceful stop leaves no one behind.
    /// Every call waits for the one release. The host can be stopped twice at once (WebApplicationFactory stops it while
    /// Program's <c>app.Run()</c> does too, then disposes the services, Redis connection included, as soon as its own
    /// stop returns), so a second caller must not return before the release is done.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_instanceLock) return _stopping ??= StopOnceAsync(cancellationToken);
    }

    private async Task StopOnceAsync(CancellationToken cancellationToken)
    {
        _stopped = true;
        await _stop.CancelAsync();
        await _heartbeats;
        try
        {
            await ReleaseAllAsync().WaitAsync(cancellationToken);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or OperationCanceledException or ObjectDisposedException)
        {
            // ObjectDisposedException: the connection was closed under us; the lease then expires by itself.
            PresenceLog.ReleaseFailed(_log, e);
        }
    }

    private async Task ReleaseAllAsync()
    {
        string instance;
        string[] collections;
        lock (_instanceLock)
        {
            instance = _instance;
            collections = [.. _indexed];
        }
        var members = 0;
        foreach (var collection in collections) members += await RemoveOwnedAsync(collection, instance);
        await _store.ReleaseAsync(instance);
        PresenceLog.Released(_log, members);
    }

    private async Task RenewLeaseAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(Renewal);
        try
        {
            do
            {
                try { await BeatAsync(); }
                catch (Exception e) when (e is not OperationCanceledException) { PresenceLog.HeartbeatFailed(_log, e); }
            }
            while (await timer.WaitForNextTickAsync(stop));
        }
        catch (OperationCanceledException) { }
    }

    private async Task BeatAsync()
    {
        string instance;
        bool register;
        lock (_instanceLock)
        {
            instance = _instance;
            register = !_registered;
        }
        var (held, claimed) = await _store.HeartbeatAsync(instance, Expiry, register);
        if (!held)
        {
            // This instance stalled longer than the expiry and a survivor is removing its members: carry on
            // under a new identity, so that the reaping cannot touch the members written again below.
            var fresh = NewInstanceId();
            lock (_instanceLock)
            {
                _instance = fresh;
                _indexed.Clear();
            }
            (_, claimed) = await _store.HeartbeatAsync(fresh, Expiry, register: true);
            lock (_instanceLock) _registered = _instance == fresh;
            PresenceLog.LeaseLost(_log, instance, await RejoinAsync(), fresh);
        }
        else if (register)
        {
            lock (_instanceLock) _registered = _instance == instance;
            PresenceLog.Registered(_log, instance, _options.PresenceTimeout);
        }
        foreach (var dead in claimed) await ReapAsync(dead);
        await RetryLeavesAsync();
    }

    private async Task<int> RejoinAsync()
    {
        var members = 0;
        foreach (var attendee in _attendees.Values)
        {
            await attendee.Gate.WaitAsync();
            try
            {
                if (attendee.Closed) continue;
                foreach (var (collection, member) in attendee.Memberships)
                {
                    await WriteAsync(collection, member);
                    await SendAsync(collection, "join", member, except: member.ConnectionId);
                    members++;
                }
            }
            finally { attendee.Gate.Release(); }
        }
        return members;
    }

    private async Task ReapAsync(string dead)
    {
        var collections = await _store.CollectionsAsync(dead);
        var members = 0;
        foreach (var collection in collections) members += await RemoveOwnedAsync(collection, dead);
        await _store.ReleaseAsync(dead);
        PresenceLog.Reaped(_log, dead, members, collections.Length);
    }

    private async Task<int> RemoveOwnedAsync(string collection, string instance)
    {
        var left = 0;
        foreach (var json in await _store.RemoveOwnedAsync(collection, instance))
        {
            if (ParseMember(json) is not { } member) continue;
            // At a graceful stop the member is still connected here: a leave goes to the others only.
            await SendAsync(collection, "leave", member, except: member.ConnectionId);
            left++;
        }
        return left;
    }

    private async Task RetryLeavesAsync()
    {
        foreach (var ((collection, connectionId), member) in _pendingLeaves.ToArray())
        {
            if (!_pendingLeaves.TryRemove(new((collection, connectionId), member))) continue;
            if (!_attendees.TryGetValue(connectionId, out var attendee))
            {
                await RemoveAsync(collection, member);
                continue;
            }
            // Still connected: it may have subscribed again since, and that membership must stay.
            await attendee.Gate.WaitAsync();
            try { if (!attendee.Memberships.ContainsKey(collection)) await RemoveAsync(collection, member); }
            finally { attendee.Gate.Release(); }
        }
    }

    private async Task WriteAsync(string collection, PresenceMember member)
    {
        string instance;
        bool index;
        lock (_instanceLock)
        {
            instance = _instance;
            index = _indexed.Add(collection);
        }
        try
        {
            // Indexed before the member is written: whoever reaps this instance must find the collection.
            if (index) await _store.IndexAsync(instance, collection);
        }
        catch
        {
            lock (_instanceLock) if (_instance == instance) _indexed.Remove(collection);
            throw;
        }
        await _store.SetAsync(collection, member.ConnectionId, instance, JsonSerializer.Serialize(member, HubJson.Messages));
    }

    private async Task RemoveAsync(string collection, PresenceMember member)
    {
        try
        {
            if (await _store.RemoveAsync(collection, member.ConnectionId))
                await SendAsync(collection, "leave", member, except: member.ConnectionId);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            PresenceLog.LeaveDeferred(_log, e, member.ConnectionId, collection);
            _pendingLeaves[(collection, member.ConnectionId)] = member;
        }
    }

    // At most once, like every backplane send: a lost event is not retried (CONTRACT §7).
    private async Task SendAsync(string collection, string action, PresenceMember member, string? except)
    {
        var group = GroupOf(collection);
        var clients = except is null ? _hub.Clients.Group(group) : _hub.Clients.GroupExcept(group, except);
        try
        {
            await clients.SendAsync("presence", new PresenceMessage(collection, action, member));
        }
        catch (Exception e)
        {
            PresenceLog.SendFailed(_log, e, action, collection);
        }
    }

    private PresenceMember? ParseMember(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            return new PresenceMember(
                root.GetProperty("connectionId").GetString()!,
                root.GetProperty("key").GetString(),
                JsonTree.FromArgument(root.GetProperty("data"), _maxDepth),
                root.GetProperty("since").GetString()!);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or InvalidPayloadException)
        {
            return null; // not written by this version of the gateway: not a member it can show
        }
    }

    private Attendee Find(string connectionId) =>
        _attendees.TryGetValue(connectionId, out var attendee) ? attendee : throw new HubException("unavailable: the connection is closing.");

    private static string Now() => DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    // Unique among live and recently dead instances, readable in Redis, and without spaces (the member
    // encoding separates on the first one).
    private static string NewInstanceId()
    {
        var host = new string([.. Environment.MachineName.Take(60).Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' ? c : '_')]);
        return $"{host}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..12]}";
    }

    /// <summary>One connection of this instance. <see cref="Memberships"/> and <see cref="Closed"/> are guarded by <see cref="Gate"/>.</summary>
    private sealed class Attendee(string connectionId, string? key, SignalBucket signals)
    {
        public string ConnectionId { get; } = connectionId;
        public string? Key { get; } = key;
        public SignalBucket Signals { get; } = signals;
        public SemaphoreSlim Gate { get; } = new(1, 1);
        public bool Closed { get; set; }
        public Dictionary<string, PresenceMember> Memberships { get; } = new(StringComparer.Ordinal);
    }
}
