-- Forget a run. KEYS: 1 run  2 gone   ARGV: 1 run id  2 key prefix of the runs zsets
-- 3 tombstone ms. Returns 1 if the run was registered, else 0.
local thread = redis.call('GET', KEYS[1])
if not thread then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], 'unregistered', 'PX', tonumber(ARGV[3]))
redis.call('ZREM', ARGV[2] .. thread, ARGV[1])
return 1
