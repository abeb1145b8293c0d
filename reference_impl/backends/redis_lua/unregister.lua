-- Forget a run. KEYS: 1 run  2 gone   ARGV: 1 run id  2 key prefix of the runs zsets
-- Returns 1 if the run was registered, else 0.
local thread = redis.call('GET', KEYS[1])
redis.call('DEL', KEYS[2])
if not thread then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', ARGV[2] .. thread, ARGV[1])
return 1
