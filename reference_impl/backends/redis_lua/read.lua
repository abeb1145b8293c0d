-- Read a thread's log position and the events after a seq, in one consistent step.
-- KEYS: 1 meta  2 log
-- ARGV: 1 after seq (-1: position only)  2 epoch to use if the thread has none  3 log TTL ms
-- Returns {epoch, head seq, entries after the seq}. A thread without a log gets an empty one
-- now, so the epoch a subscriber sees before the first event is the one that event gets.
local state = redis.call('HMGET', KEYS[1], 'epoch', 'seq')
local epoch = state[1]
local head = 0
if epoch then
  head = tonumber(state[2] or '0')
else
  epoch = ARGV[2]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
end
local after = tonumber(ARGV[1])
local entries = {}
if after >= 0 and after < head then
  entries = redis.call('XRANGE', KEYS[2], (after + 1) .. '-0', '+')
end
return {epoch, head, entries}
