--[[
  retry (fenced): a failed attempt goes back to `due` at a later score
  (backoff), remembering its error for GET /v1/tasks/:id.

  KEYS[1] run ZSET
  KEYS[2] due ZSET
  KEYS[3] tasks HASH
  KEYS[4] err HASH
  KEYS[5] lease STRING
  ARGV[1] lease token
  ARGV[2] id
  ARGV[3] attempt that failed
  ARGV[4] new due score
  ARGV[5] error message

  Returns "lease" if the token does not hold the lease, 1 if rescheduled, 0 if
  the run entry is not this attempt's (reaped and claimed again).
]]
if redis.call('GET', KEYS[5]) ~= ARGV[1] then
  return 'lease'
end
local id = ARGV[2]
local record = redis.call('HGET', KEYS[3], id)
if not record or not redis.call('ZSCORE', KEYS[1], id) or string.match(record, '^(%d+):') ~= ARGV[3] then
  return 0
end
local nl = string.find(record, '\n', 1, true)
redis.call('HSET', KEYS[3], id, ARGV[3] .. ':' .. ARGV[4] .. string.sub(record, nl))
redis.call('ZREM', KEYS[1], id)
redis.call('ZADD', KEYS[2], ARGV[4], id)
redis.call('HSET', KEYS[4], id, ARGV[5])
return 1
