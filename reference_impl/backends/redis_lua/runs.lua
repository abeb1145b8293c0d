-- The live runs of a thread, least recently registered or refreshed first.
-- KEYS: 1 runs (zset run id -> ms of its last registration or refresh)
-- ARGV: 1 registry TTL ms
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now_ms - tonumber(ARGV[1])), '+inf')
