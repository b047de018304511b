using System.Collections.Concurrent;

namespace RedisSync.Gateway.Store;

/// <summary>
/// The records this instance last read or wrote, so the next write to one of them needs no read first (one round trip
/// instead of two). Only a hint: the commit script checks every record it relied on against Redis (its commit
/// counter) and sends back the current value of any that moved. Bounded: two generations of at most half the
/// capacity each; when the young one fills up, the old one is dropped (what was used since moved up).
/// </summary>
internal sealed class RecordCache(int capacity)
{
    private ConcurrentDictionary<(string, string), StoredRecord> _young = new();
    private ConcurrentDictionary<(string, string), StoredRecord> _old = new();
    private readonly Lock _turn = new();

    public bool TryGet(string collection, string id, out StoredRecord record)
    {
        if (capacity == 0) { record = StoredRecord.Absent; return false; }
        if (_young.TryGetValue((collection, id), out record!)) return true;
        if (!_old.TryGetValue((collection, id), out record!)) return false;
        Set(collection, id, record);
        return true;
    }

    public void Set(string collection, string id, StoredRecord record)
    {
        if (capacity == 0) return;
        _young[(collection, id)] = record;
        if (_young.Count < capacity / 2) return;
        lock (_turn)
        {
            if (_young.Count < capacity / 2) return;
            _old = _young;
            _young = new();
        }
    }
}
