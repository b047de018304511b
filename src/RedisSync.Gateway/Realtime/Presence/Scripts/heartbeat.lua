-- Renews this instance's lease and claims the instances whose lease expired, in one atomic step, so
-- that each dead instance is claimed by exactly one survivor.
-- KEYS[1] leases (zset instance -> last renewal, ms), KEYS[2] reaping (zset instance -> claimed at, ms)
-- ARGV[1] this instance, ARGV[2] lease expiry in ms, ARGV[3] '1' to register a new instance
-- Returns { 1, claimed... }, or { 0 } when this instance no longer holds a lease (a survivor expired it).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and ARGV[3] ~= '1' then
  return { 0 }
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
local before = '(' .. (now - tonumber(ARGV[2]))
local result = { 1 }
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', before)) do
  redis.call('ZREM', KEYS[1], dead)
  redis.call('ZADD', KEYS[2], now, dead)
  result[#result + 1] = dead
end
-- A claim its survivor did not finish (it died too) is claimed again after the same expiry.
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', before)) do
  redis.call('ZADD', KEYS[2], now, dead)
  result[#result + 1] = dead
end
return result
