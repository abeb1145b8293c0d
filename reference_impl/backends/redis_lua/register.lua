-- Register run -> thread atomically; a run registered to another thread is a conflict.
-- KEYS: 1 run  2 gone (tombstone: says "expired" after the run key is gone)  3 runs (zset)
-- ARGV: 1 run id  2 thread id  3 registry TTL ms  4 tombstone ms
-- Returns the other thread on conflict, else nil.
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[2] then
  return current
end
local ttl = tonumber(ARGV[3])
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
redis.call('SET', KEYS[2], 'expired', 'PX', ttl + tonumber(ARGV[4]))
redis.call('ZADD', KEYS[3], now_ms, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. (now_ms - ttl))
redis.call('PEXPIRE', KEYS[3], ttl)
return false
