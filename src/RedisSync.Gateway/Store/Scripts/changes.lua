-- Reads a collection's change log after a position, and decides whether that position is still covered.
-- Lua only because StackExchange.Redis 1.2.6 has no stream commands; the check and the read are one step.
--
-- KEYS[1] change log (stream)   KEYS[2] meta hash (`last`)
-- ARGV[1] after: a seq, or '' for "from the oldest retained entry"
-- ARGV[2] max entries to return
-- Returns { 'ok', last, entries } or { 'resync', last }; entries as XRANGE returns them.
--
-- `after` is covered when nothing after it was trimmed away: the oldest retained entry's `p` (the seq
-- of the change before it) must not be newer than `after`. Stream ids alone cannot tell (PITFALLS 2).
-- An `after` beyond the collection's last seq comes from a log that no longer exists (a wiped Redis):
-- that client must resync too, or it would wait for positions that will never be reached.

local after = ARGV[1]
local count = tonumber(ARGV[2])
local last = redis.call('HGET', KEYS[2], 'last') or ''

local function parse(id)
  local ms, sq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(sq)
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end

local from = '-'
if after ~= '' then
  if last == '' then
    if after ~= '0-0' then return { 'resync', last } end
  else
    if less(last, after) then return { 'resync', last } end
    local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
    if not first then
      if less(after, last) then return { 'resync', last } end
    elseif less(after, first[1]) then
      local fields = first[2]
      local prev = ''
      for i = 1, #fields, 2 do if fields[i] == 'p' then prev = fields[i + 1] end end
      if prev ~= '' and less(after, prev) then return { 'resync', last } end
    end
  end
  from = '(' .. after
end

return { 'ok', last, redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', count) }
