namespace RedisSync.Gateway.Store;

/// <summary>
/// Group commit for one collection on this instance: at most one commit is in flight; calls that arrive meanwhile
/// wait in the queue and go together in the next one (one read, one merge, one script run for all of them).
/// A call that finds nothing in flight starts at once: nothing ever waits for a timer or for company.
/// </summary>
internal sealed class CommitQueue(Func<List<CommitCall>, Task> commitGroup, int maxRecordsPerGroup)
{
    private readonly Lock _lock = new();
    private readonly Queue<CommitCall> _queue = new();
    private bool _running;

    public void Submit(CommitCall call)
    {
        lock (_lock)
        {
            _queue.Enqueue(call);
            if (_running) return;
            _running = true;
        }
        _ = DrainAsync();
    }

    private async Task DrainAsync()
    {
        while (true)
        {
            List<CommitCall> group;
            lock (_lock)
            {
                if (_queue.Count == 0)
                {
                    _running = false;
                    return;
                }
                group = TakeGroup();
            }
            try
            {
                await commitGroup(group);
            }
            catch (Exception e)
            {
                // Whatever failed (Redis away, a timeout), no call of the group was answered yet: all get the error.
                foreach (var call in group) call.Fail(e);
            }
        }
    }

    // Whole calls only (a client's batch is never split); the first call always goes, however large.
    private List<CommitCall> TakeGroup()
    {
        var group = new List<CommitCall> { _queue.Dequeue() };
        var records = group[0].Size;
        while (_queue.TryPeek(out var next) && records + next.Size <= maxRecordsPerGroup)
        {
            group.Add(_queue.Dequeue());
            records += next.Size;
        }
        return group;
    }
}

/// <summary>One caller's writes (or a peer's states) waiting for a group commit, and the answer it waits for.</summary>
internal abstract class CommitCall
{
    public abstract int Size { get; }
    public abstract void Fail(Exception e);
}

/// <summary>A call whose answer is <typeparamref name="T"/>.</summary>
internal abstract class CommitCall<T> : CommitCall
{
    private readonly TaskCompletionSource<T> _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<T> Answer => _answer.Task;
    public void Succeed(T value) => _answer.TrySetResult(value);
    public override void Fail(Exception e) => _answer.TrySetException(e);
}
