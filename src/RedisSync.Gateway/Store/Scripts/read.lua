-- Reads records together with the Redis server's clock, for writes the server must stamp (timestamp policy,
-- no timestamp given): TIME must come from the shard that holds the record (PITFALLS 7), so it is read in the
-- same script as the records. Writes that carry their own timestamp use a plain MGET instead.
-- KEYS: record keys of one collection. Returns { seconds, microseconds, value or false per key }.
local t = redis.call('TIME')
local values = redis.call('MGET', unpack(KEYS))
table.insert(values, 1, t[2])
table.insert(values, 1, t[1])
return values
