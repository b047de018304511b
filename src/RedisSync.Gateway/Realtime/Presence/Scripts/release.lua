-- Forgets an instance whose members are gone: its lease or claim, and its index of collections.
-- KEYS[1] leases, KEYS[2] reaping, KEYS[3] the instance's collections (set); ARGV[1] the instance
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
return 1
