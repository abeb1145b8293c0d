-- Append one event to a thread's log: the only way an event enters a Redis-backed log.
-- KEYS: 1 meta (hash epoch, seq)  2 log (stream, IDs "<seq>-0")  3 run  4 gone  5 runs (zset)
-- ARGV: 1 draft JSON  2 idempotency token  3 epoch to use if the thread has none  4 maxlen
--       5 log TTL ms  6 wake-up channel  7 thread id  8 run id  9 registry TTL ms
--       10 tombstone ms  11 how many newest entries to search for the token (0 on a first
--       attempt: its token is new)  12 1: refuse if the run is registered to another thread
-- Returns {seq, epoch, 1 if this token was already appended (a retry) else 0}, or
-- {0, the other thread, 2} when ARGV[12] refused it (nothing was written).
local registered = redis.call('GET', KEYS[3])
if ARGV[12] == '1' and registered and registered ~= ARGV[7] then
  return {0, registered, 2}
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local seq
if epoch then
  -- A retried append whose first attempt did run: answer with the stored event, once.
  local window = tonumber(ARGV[11])
  if window > 0 then
    local recent = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', window)
    for _, entry in ipairs(recent) do
      local fields = entry[2]
      for i = 1, #fields, 2 do
        if fields[i] == 'k' and fields[i + 1] == ARGV[2] then
          return {tonumber(string.match(entry[1], '^(%d+)')), epoch, 1}
        end
      end
    end
  end
  seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0') + 1
else
  -- No counter: this thread's history is gone (never written, expired or lost). A new epoch
  -- tells every resuming client so; whatever is left of an old stream belongs to no epoch.
  epoch = ARGV[3]
  redis.call('DEL', KEYS[2])
  seq = 1
end
-- XADD first: if it fails, nothing was numbered.
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], seq .. '-0', 'd', ARGV[1], 'k', ARGV[2])
redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', seq)
local log_ttl = tonumber(ARGV[5])
redis.call('PEXPIRE', KEYS[1], log_ttl)
redis.call('PEXPIRE', KEYS[2], log_ttl)
-- A run that emits is alive: refresh its registration.
if registered == ARGV[7] then
  local ttl = tonumber(ARGV[9])
  local now = redis.call('TIME')
  redis.call('PEXPIRE', KEYS[3], ttl)
  redis.call('PEXPIRE', KEYS[4], ttl + tonumber(ARGV[10]))
  redis.call('ZADD', KEYS[5], 'XX', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000), ARGV[8])
  redis.call('PEXPIRE', KEYS[5], ttl)
end
redis.call('PUBLISH', ARGV[6], cjson.encode({t = ARGV[7], e = epoch, s = seq, d = ARGV[1]}))
return {seq, epoch, 0}
