-- Commits merged records of ONE collection, atomically: record values, change-log entries (XADD), the live
-- index, the digest index, the collection's position and the notification (SPUBLISH) are one script run, so
-- there is no state in which a record changed without its change-log entry, or the reverse.
--
-- The merge itself happened in the gateway (Merge/RecordMerge.cs), from the records as it read them (or as it last
-- wrote them: its cache). This script only checks that nobody committed those records since (each record value
-- starts with a commit counter: a compare-and-set token) and writes. When any record moved, nothing is written and
-- the current values of the records that moved are returned, so the gateway merges again without another read.
-- Commands are batched (one MGET, one MSET, one HSET of the digest index per run): a Redis call from Lua costs
-- more than the work most of them do.
--
-- KEYS[1] meta    rs:{c}:meta     hash: last = seq of the latest entry, n = entries ever appended
-- KEYS[2] log     rs:{c}:log      stream of entries, fields p (previous seq), o (ordinal), e (the entry)
-- KEYS[3] ids     rs:{c}:ids      sorted set of live record ids
-- KEYS[4] cursors rs:{c}:cursors  hash: peer site -> its seq applied here (replication)
-- KEYS[5] digest  rs:{c}:dg       hash: record id -> hash of its state
-- KEYS[6..]       record keys rs:{c}:r:{id}: first the W records to write, then those only checked
--
-- ARGV[1] change-log max length (approximate trim)    ARGV[2] channel (sharded pub/sub)
-- ARGV[3] records R    ARGV[4] of them written W    ARGV[5] entries E    ARGV[6] cursors C
-- then C times: peer site, its seq now applied (replication cursors, advanced in the same step as the apply)
-- then R times: the commit counter the gateway read (0 = absent)
-- then W times: the value's head '{commit+1} {revision} {lastStamp} ', the entry whose seq becomes the record's seq
--   (0 = keep), the seq to keep, state bytes, state hash, live index change (1 add, -1 remove, 0 none), id
-- then E times: the entry (Store/RecordCodec.cs)
--
-- A record value is head .. seq .. '\n' .. state. Returns { 'ok', seq of each entry... } or
-- { 'retry', record number, current value or false, ... }.

local R, W, E, C = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local expected = 7 + 2 * C
local written = expected + R
local entries = written + 7 * W

-- Redis's Lua caps unpack() at a few thousand values: large batches go in chunks.
local function call(cmd, key, list)
  for i = 1, #list, 4000 do
    local j = math.min(i + 3999, #list)
    if key then redis.call(cmd, key, unpack(list, i, j)) else redis.call(cmd, unpack(list, i, j)) end
  end
end

local current = {}
for i = 1, R, 4000 do
  local part = redis.call('MGET', unpack(KEYS, 5 + i, 5 + math.min(i + 3999, R)))
  for k = 1, #part do current[i + k - 1] = part[k] end
end
local moved = {}
for r = 1, R do
  local value = current[r]
  local commit = value and tonumber(string.match(value, '^(%d+) ')) or 0
  if commit ~= tonumber(ARGV[expected + r - 1]) then
    moved[#moved + 1] = r
    moved[#moved + 1] = value
  end
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
for e = 1, E do
  n = n + 1
  local ordinal = tostring(n)
  local entry = ARGV[entries + e - 1]
  local seq = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'p', prev, 'o', ordinal, 'e', entry)
  seqs[e + 1] = seq
  message[#message + 1] = #seq .. ':' .. seq .. #prev .. ':' .. prev .. #ordinal .. ':' .. ordinal
  message[#message + 1] = entry
  prev = seq
end

if W > 0 then
  local values, digest, add, remove = {}, {}, {}, {}
  local p = written
  for w = 1, W do
    local entry = tonumber(ARGV[p + 1])
    local id = ARGV[p + 6]
    values[#values + 1] = KEYS[5 + w]
    values[#values + 1] = ARGV[p] .. (entry > 0 and seqs[entry + 1] or ARGV[p + 2]) .. '\n' .. ARGV[p + 3]
    digest[#digest + 1] = id
    digest[#digest + 1] = ARGV[p + 4]
    local live = ARGV[p + 5]
    if live == '1' then
      add[#add + 1] = 0
      add[#add + 1] = id
    elseif live == '-1' then
      remove[#remove + 1] = id
    end
    p = p + 7
  end
  call('MSET', nil, values)
  call('HSET', KEYS[5], digest)
  if #add > 0 then call('ZADD', KEYS[3], add) end
  if #remove > 0 then call('ZREM', KEYS[3], remove) end
end

for c = 0, C - 1 do redis.call('HSET', KEYS[4], ARGV[7 + 2 * c], ARGV[8 + 2 * c]) end
if E > 0 then
  redis.call('HSET', KEYS[1], 'last', prev, 'n', n)
  redis.call('SPUBLISH', ARGV[2], table.concat(message))
end
return seqs
