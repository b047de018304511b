-- Reads records together with the Redis server's clock, for writes the server must stamp (timestamp policy,
-- no timestamp given): TIME must come from the shard that holds the record (PITFALLS 7), so it is read in the
-- same script as the records. Writes that carry their own timestamp use a plain MGET instead.
-- KEYS[1]: the collection's meta key (routes the script to its shard); KEYS[2..]: record keys.
-- Returns { seconds, microseconds, value or false per record key }.
local t = redis.call('TIME')
local values = { t[1], t[2] }
for i = 2, #KEYS, 4000 do
  local part = redis.call('MGET', unpack(KEYS, i, math.min(i + 3999, #KEYS)))
  for k = 1, #part do values[#values + 1] = part[k] end
end
return values
