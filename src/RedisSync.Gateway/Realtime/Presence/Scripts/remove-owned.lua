-- Removes from one collection's presence hash every member owned by one instance; returns their JSON.
-- KEYS[1] rs:{c}:presence (hash connectionId -> "<instance> <member JSON>"), ARGV[1] the instance
local prefix = ARGV[1] .. ' '
local removed = {}
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  local value = entries[i + 1]
  if string.sub(value, 1, #prefix) == prefix then
    redis.call('HDEL', KEYS[1], entries[i])
    removed[#removed + 1] = string.sub(value, #prefix + 1)
  end
end
return removed
