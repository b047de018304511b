-- RedisSync merge script: THE one place where the conflict rules of CONTRACT §2 live.
--
-- Applies a batch of writes (1..n) to records of ONE collection, atomically: merge, persist,
-- change-log append (XADD) and publish happen in this single script run, so there is no state in
-- which a record changed without its change-log entry, or the reverse.
--
-- Values are opaque: every field value arrives as its own canonical JSON text and is only compared
-- and stored as a string. Nothing is decoded with cjson (PITFALLS 1). Numbers that matter for ordering
-- (version, timestamp ms, both <= 2^53) are parsed only to compare them and are never printed back:
-- the original decimal strings are what gets stored.
--
-- KEYS[1] meta hash   rs:{c}:meta   field `last` = seq of the collection's latest change
-- KEYS[2] change log  rs:{c}:log    stream, one entry per applied change
-- KEYS[3] live index  rs:{c}:ids    sorted set (all scores 0) of live record ids, for paging by ZRANGEBYLEX
-- KEYS[4..] records   rs:{c}:r:{id} one hash per record (layout below)
--
-- ARGV[1] policy: 'version' | 'timestamp'
-- ARGV[2] change-log max length (approximate trim)
-- ARGV[3] pub/sub channel for this collection
-- ARGV[4] most visible fields a record may hold
-- ARGV[5] number of items, then per item:
--   op ('put'|'patch'|'delete'), key index into KEYS, record id, version, timestamp ms
--   ('' = stamp with the Redis server's TIME), source, field count, then name, json-value pairs.
--   In a patch the JSON text `null` means "remove"; in a put it is an ordinary value.
--
-- Record hash layout:
--   v:<field>  canonical JSON text of a visible field's value
--   c:<field>  clock of the field's winning write; without v:<field> it is a removal marker (a patch's null)
--   $floor     clock of the greatest PUT/DELETE        $fk   'p' or 'd': which kind set the floor
--   $rev       applied changes                         $seq  seq of the latest change
--   $upd       ms of the latest change (Redis TIME)    $clk  record clock (greatest of floor and visible winners)
--   $del       '1' when deleted                        $stamp last server-issued timestamp (timestamp policy)
-- Fields whose clock falls below the floor are dropped: they can never become visible again (a later
-- write to that field either has a greater clock and replaces it, or a smaller one and is below the floor).
--
-- A clock is the string 'version|timestampMs|source'.
--
-- The script runs in two phases: first every item is merged in memory (nothing written), then, only if
-- all of them are acceptable, the effects are written in item order. Redis does not roll a script back
-- when it fails half way, so refusing before the first write is what keeps "nothing is half written".
--
-- Returns one array per item: { outcome, created(0|1), revision, seq, {staleFields...}, {record pairs...} },
-- or { 'too-many-fields', itemIndex, fieldCount } (and nothing written) when an item would leave its
-- record with more than ARGV[4] visible fields.
-- where record pairs are 'id', id, 'r', rev, 'q', seq, 'u', updatedMs, 'c', clock, 'del', '0'|'1',
-- then 'd:<field>', value for every visible field. Each applied change is also XADDed with pairs
-- 'id','k','r','s','p','u','c','x', then the 'd:' pairs ('p' = previous seq in this collection, so
-- readers can detect gaps; 'x' = changed field names as netstrings) and published on ARGV[3] as
-- netstrings: seq, pair count, pairs; one message per script run carrying all its changes.

local byTimestamp = ARGV[1] == 'timestamp'
local maxLen = ARGV[2]
local channel = ARGV[3]
local maxFields = tonumber(ARGV[4])
local n = tonumber(ARGV[5])

local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowStr = string.format('%.0f', nowMs)

-- Ordinal (byte-wise) string order. Lua's `<` on strings uses strcoll, which follows the server's locale.
local function bytecmp(a, b)
  if a == b then return 0 end
  local la, lb = #a, #b
  local m = la < lb and la or lb
  for i = 1, m do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y and -1 or 1 end
  end
  return la < lb and -1 or 1
end

local function parseClock(s)
  local v, ts, src = string.match(s, '^(%d+)|(%-?%d+)|(.*)$')
  return { v = tonumber(v), t = tonumber(ts), s = src, str = s }
end

-- Total order on clocks: the policy picks the primary key, the other number breaks ties, then the source.
local function cmp(a, b)
  local p1, p2, q1, q2
  if byTimestamp then p1, p2, q1, q2 = a.t, b.t, a.v, b.v else p1, p2, q1, q2 = a.v, b.v, a.t, b.t end
  if p1 ~= p2 then return p1 < p2 and -1 or 1 end
  if q1 ~= q2 then return q1 < q2 and -1 or 1 end
  return bytecmp(a.s, b.s)
end

local function netstring(s) return #s .. ':' .. s end

-- State of each record touched by this run, loaded once (a batch may name a record more than once).
local states = {}
local function load(k)
  local st = states[k]
  if st then return st end
  st = { fields = {}, exists = false }
  local raw = redis.call('HGETALL', KEYS[k])
  local vals = {}
  for i = 1, #raw, 2 do
    local name, val = raw[i], raw[i + 1]
    local pfx = string.sub(name, 1, 2)
    if pfx == 'c:' then
      st.fields[string.sub(name, 3)] = { cl = parseClock(val) }
    elseif pfx == 'v:' then
      vals[string.sub(name, 3)] = val
    else
      st[name] = val
    end
  end
  for name, f in pairs(st.fields) do f.v = vals[name] end
  if st['$floor'] then st.floor = parseClock(st['$floor']) end
  st.exists = st['$rev'] ~= nil
  states[k] = st
  return st
end

local function visible(st)
  local vis = {}
  for name, f in pairs(st.fields) do if f.v then vis[name] = f.v end end
  return vis
end

local function recordPairs(st, id)
  local out = { 'id', id, 'r', st['$rev'] or '0', 'q', st['$seq'] or '', 'u', st['$upd'] or '',
    'c', st['$clk'] or '', 'del', st['$del'] or '0' }
  for name, f in pairs(st.fields) do
    if f.v then out[#out + 1] = 'd:' .. name; out[#out + 1] = f.v end
  end
  return out
end

-- Phase 1: merge every item in memory and plan its effects.
local plans = {}
local pos = 6

for item = 1, n do
  local op, k, id, ver, ts, src = ARGV[pos], tonumber(ARGV[pos + 1]), ARGV[pos + 2], ARGV[pos + 3], ARGV[pos + 4], ARGV[pos + 5]
  local nf = tonumber(ARGV[pos + 6])
  local names, values = {}, {}
  for i = 1, nf do
    names[i] = ARGV[pos + 5 + 2 * i]
    values[i] = ARGV[pos + 6 + 2 * i]
  end
  pos = pos + 7 + 2 * nf

  local st = load(k)
  local plan = { k = k, id = id, stale = {}, hset = {}, hdel = {}, created = 0 }
  plans[item] = plan
  local stamped = false
  if ts == '' then
    -- Server-stamped (timestamp policy): Redis TIME is one clock for every gateway. Stamps on one record
    -- strictly increase so two quick writes from one source never share a clock (which would be a conflict).
    local stamp = nowMs
    local prevStamp = tonumber(st['$stamp'] or '')
    if prevStamp and stamp <= prevStamp then stamp = prevStamp + 1 end
    ts = string.format('%.0f', stamp)
    stamped = true
  end
  local C = parseClock(ver .. '|' .. ts .. '|' .. src)
  local isPatch = op == 'patch'
  local kindMark = op == 'put' and 'p' or 'd'

  -- Conflict: this exact clock already holds something different. Checked before anything changes.
  local conflict = false
  if not isPatch and st.floor and cmp(C, st.floor) == 0 and st['$fk'] ~= kindMark then conflict = true end
  for i = 1, nf do
    local f = st.fields[names[i]]
    if f and cmp(C, f.cl) == 0 then
      local nv = values[i]
      if isPatch and nv == 'null' then nv = nil end
      if f.v ~= nv then conflict = true end
    end
  end

  if conflict then
    plan.outcome = 'conflict'
  else
    local before = visible(st)
    local wasDeleted = st['$del'] == '1'
    local existed = st.exists
    local won = false
    local hset, hdel = plan.hset, plan.hdel

    if not isPatch then
      if not st.floor or cmp(C, st.floor) > 0 then
        st.floor = C
        st['$fk'] = kindMark
        hset[#hset + 1] = '$floor'; hset[#hset + 1] = C.str
        hset[#hset + 1] = '$fk'; hset[#hset + 1] = kindMark
        won = true
        -- A PUT or DELETE removes every field older than it, except those this PUT names: they are
        -- overwritten just below, and deleting them first would only cost Redis an HDEL.
        local named = {}
        for i = 1, nf do named[names[i]] = true end
        for name, f in pairs(st.fields) do
          if cmp(f.cl, C) < 0 and not named[name] then
            st.fields[name] = nil
            hdel[#hdel + 1] = 'c:' .. name; hdel[#hdel + 1] = 'v:' .. name
          end
        end
      elseif cmp(C, st.floor) == 0 then
        won = true -- the same PUT/DELETE again: a retry
      end
    end

    for i = 1, nf do
      local name, val = names[i], values[i]
      if isPatch and val == 'null' then val = nil end
      local f = st.fields[name]
      if f and cmp(C, f.cl) == 0 then
        won = true -- same clock, same value (a conflict was excluded above)
      elseif (not f or cmp(C, f.cl) > 0) and (not st.floor or cmp(C, st.floor) >= 0) then
        st.fields[name] = { cl = C, v = val }
        hset[#hset + 1] = 'c:' .. name; hset[#hset + 1] = C.str
        if val then
          hset[#hset + 1] = 'v:' .. name; hset[#hset + 1] = val
        else
          hdel[#hdel + 1] = 'v:' .. name
        end
        won = true
      else
        plan.stale[#plan.stale + 1] = name
      end
    end

    if not won then
      plan.outcome = 'stale'
      plan.hset, plan.hdel = {}, {}
    else
      if stamped then
        st['$stamp'] = ts
        hset[#hset + 1] = '$stamp'; hset[#hset + 1] = ts
      end
      -- Derived state: visible data, deleted flag and the record clock.
      local after = visible(st)
      local count = 0
      local clk = st.floor
      local tomb = nil
      for _, f in pairs(st.fields) do
        if f.v then
          count = count + 1
          if not clk or cmp(f.cl, clk) > 0 then clk = f.cl end
        elseif not tomb or cmp(f.cl, tomb) > 0 then
          tomb = f.cl
        end
      end
      if count > maxFields then return { 'too-many-fields', item, count } end
      -- A record that only ever saw a patch's nulls has no floor and no visible field: its clock is its
      -- newest removal, so that it still depends only on the set of writes.
      clk = clk or tomb
      local deleted = st['$fk'] == 'd' and count == 0
      st['$clk'] = clk.str
      st['$del'] = deleted and '1' or '0'
      hset[#hset + 1] = '$clk'; hset[#hset + 1] = clk.str
      hset[#hset + 1] = '$del'; hset[#hset + 1] = st['$del']

      local changed = {}
      for name, v in pairs(after) do if before[name] ~= v then changed[#changed + 1] = name end end
      for name, _ in pairs(before) do if after[name] == nil then changed[#changed + 1] = name end end
      table.sort(changed)
      plan.applied = #changed > 0 or deleted ~= wasDeleted or not existed
      st.exists = true

      if plan.applied then
        local rev = tostring(tonumber(st['$rev'] or '0') + 1)
        plan.created = (not deleted and (not existed or wasDeleted)) and 1 or 0
        plan.deleted = deleted
        local x = {}
        for i = 1, #changed do x[i] = netstring(changed[i]) end
        -- Entry pair 10 ('p', the previous seq) is filled in when the entry is written.
        plan.entry = { 'id', id, 'k', deleted and 'delete' or 'upsert', 'r', rev, 's', src, 'p', '',
          'u', nowStr, 'c', clk.str, 'x', table.concat(x) }
        for name, v in pairs(after) do plan.entry[#plan.entry + 1] = 'd:' .. name; plan.entry[#plan.entry + 1] = v end
        st['$rev'] = rev; st['$upd'] = nowStr
        hset[#hset + 1] = '$rev'; hset[#hset + 1] = rev
        hset[#hset + 1] = '$upd'; hset[#hset + 1] = nowStr
        st.lastPlan = plan
        plan.outcome = 'applied'
      else
        plan.outcome = 'unchanged'
      end
    end
  end
  -- What the result reports is the record as this item left it; its seq is known only in phase 2.
  plan.rev = st['$rev'] or '0'
  plan.seqFrom = st.lastPlan
  plan.seqBefore = st['$seq'] or ''
  plan.pairs = recordPairs(st, id)
end

-- Phase 2: every item is acceptable; write the effects in item order.
local last = redis.call('HGET', KEYS[1], 'last') or ''
local published = {}
for _, plan in ipairs(plans) do
  if plan.applied then
    plan.entry[10] = last
    local seq = redis.call('XADD', KEYS[2], 'MAXLEN', '~', maxLen, '*', unpack(plan.entry))
    plan.seq = seq
    last = seq
    plan.hset[#plan.hset + 1] = '$seq'; plan.hset[#plan.hset + 1] = seq
    if plan.deleted then redis.call('ZREM', KEYS[3], plan.id) else redis.call('ZADD', KEYS[3], 0, plan.id) end
    local msg = { netstring(seq), netstring(tostring(#plan.entry)) }
    for i = 1, #plan.entry do msg[#msg + 1] = netstring(plan.entry[i]) end
    published[#published + 1] = table.concat(msg)
  end
  -- HSET/HDEL in bounded chunks: unpack() of a huge table overflows Lua's C stack.
  local hdel, hset = plan.hdel, plan.hset
  for i = 1, #hdel, 200 do redis.call('HDEL', KEYS[plan.k], unpack(hdel, i, math.min(i + 199, #hdel))) end
  for i = 1, #hset, 200 do redis.call('HSET', KEYS[plan.k], unpack(hset, i, math.min(i + 199, #hset))) end
end
if #published > 0 then
  redis.call('HSET', KEYS[1], 'last', last)
  redis.call('PUBLISH', channel, table.concat(published))
end

local results = {}
for i, plan in ipairs(plans) do
  local seq = plan.seqFrom and plan.seqFrom.seq or plan.seqBefore
  plan.pairs[6] = seq -- recordPairs puts the seq at position 6
  results[i] = { plan.outcome, plan.created, plan.rev, seq, plan.stale, plan.pairs }
end
return results
