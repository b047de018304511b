-- Commits merged records of ONE collection, atomically: record values, change-log entries (XADD), the live
-- index, the digest index, the collection's position and the notification (SPUBLISH) are one script run, so
-- there is no state in which a record changed without its change-log entry, or the reverse.
--
-- The merge itself happened in the gateway (Merge/RecordMerge.cs), from the records as it read them. This script
-- only checks that nobody committed those records since (each record value starts with a commit counter: a
-- compare-and-set token) and writes. When any record moved, nothing is written and the current values of the
-- records that moved are returned, so the gateway merges again without another read.
--
-- KEYS[1] meta   rs:{c}:meta     hash: last = seq of the latest entry, n = entries ever appended
-- KEYS[2] log    rs:{c}:log      stream of entries, field e (layout: Store/RecordCodec.cs)
-- KEYS[3] ids    rs:{c}:ids      sorted set of live record ids
-- KEYS[4] cursors rs:{c}:cursors hash: peer site -> its seq applied here (replication)
-- KEYS[5..]      per record: its key rs:{c}:r:{id}, then its digest bucket rs:{c}:dg:{b}
--
-- ARGV[1] change-log max length (approximate trim)    ARGV[2] channel (sharded pub/sub)
-- ARGV[3] records R    ARGV[4] entries E    ARGV[5] cursors C
-- then C times: peer site, its seq now applied (replication cursors, advanced in the same step as the apply)
-- then R times: key index, digest key index, expected commit (0 = absent), header middle ' {rev} {stamp} ',
--   entry index whose seq becomes the record's seq (0 = keep), the seq to keep, state bytes, state hash,
--   live index change (1 add, -1 remove, 0 none), id
-- then E times: the entry without its first two netstrings (prev and ordinal, which only this script knows)
--
-- Returns { 'ok', seq of each entry... } or { 'retry', record number, current value or false, ... }.

local function ns(s) return #s .. ':' .. s end

local R, E, C = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local first = 6 + 2 * C
local moved = {}
local p = first
for r = 1, R do
  local current = redis.call('GET', KEYS[tonumber(ARGV[p])])
  local commit = current and tonumber(string.match(current, '^(%d+) ')) or 0
  if commit ~= tonumber(ARGV[p + 2]) then
    moved[#moved + 1] = r
    moved[#moved + 1] = current
  end
  p = p + 10
end
if #moved > 0 then
  table.insert(moved, 1, 'retry')
  return moved
end

local meta = redis.call('HMGET', KEYS[1], 'last', 'n')
local prev = meta[1] or ''
local n = tonumber(meta[2] or '0')
local seqs = { 'ok' }
local message = {}
local entryArg = first + 10 * R
for e = 1, E do
  n = n + 1
  local entry = ns(prev) .. ns(tostring(n)) .. ARGV[entryArg + e - 1]
  local seq = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'e', entry)
  seqs[e + 1] = seq
  message[e] = ns(seq) .. entry
  prev = seq
end

p = first
for r = 1, R do
  local entry = tonumber(ARGV[p + 4])
  local seq = entry > 0 and seqs[entry + 1] or ARGV[p + 5]
  local commit = tonumber(ARGV[p + 2]) + 1
  redis.call('SET', KEYS[tonumber(ARGV[p])], commit .. ARGV[p + 3] .. seq .. '\n' .. ARGV[p + 6])
  local id = ARGV[p + 9]
  redis.call('HSET', KEYS[tonumber(ARGV[p + 1])], id, ARGV[p + 7])
  local live = ARGV[p + 8]
  if live == '1' then redis.call('ZADD', KEYS[3], 0, id) elseif live == '-1' then redis.call('ZREM', KEYS[3], id) end
  p = p + 10
end

for c = 0, C - 1 do redis.call('HSET', KEYS[4], ARGV[6 + 2 * c], ARGV[7 + 2 * c]) end
if E > 0 then
  redis.call('HSET', KEYS[1], 'last', prev, 'n', n)
  redis.call('SPUBLISH', ARGV[2], table.concat(message))
end
return seqs
