namespace RedisSync.Gateway.Store;

/// <summary>
/// Per collection on this instance: whether the records a write touches that this instance has not seen (not in its
/// <see cref="RecordCache"/>) lately turned out to be new ones. While they do, a commit takes them as absent without
/// reading them first: the commit script checks each one's commit counter against 0, so a record that did exist only
/// sends the commit back with its value, to merge again (<see cref="CommitGroup"/>). A create then costs one round
/// trip instead of two. A wrong guess costs a script run that writes nothing, so one counts for four right ones:
/// a collection takes unseen records as absent only while more than about four in five of them are.
/// <para>Used by one commit at a time: a collection's group commit never runs two at once on an instance.</para>
/// </summary>
internal sealed class UnseenRecordGuess
{
    private const int Bound = 64, WrongWeight = 4;
    private int _score;

    /// <summary>Whether to take unseen records as absent without reading them.</summary>
    public bool AssumeAbsent => _score > 0;

    /// <summary><paramref name="count"/> unseen records were absent (read as such, or confirmed by a commit).</summary>
    public void Absent(int count = 1) => _score = Math.Min(Bound, _score + count);

    /// <summary>An unseen record existed.</summary>
    public void Present() => _score = Math.Max(-Bound, _score - WrongWeight);
}
