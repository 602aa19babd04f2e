--[[
  finish (fenced): end attempts for good: ack (succeeded), dead (gave up) or
  expired. The task leaves the run set and the tasks hash; its final record is
  kept under its own key with a TTL (the retention), so Redis deletes it and
  no sweeper has to scan. Dead tasks are also indexed in the dead ZSET, which
  is trimmed here by age (a range delete, not a scan).

  KEYS[1] run ZSET
  KEYS[2] tasks HASH
  KEYS[3] err HASH      (id -> last error of a pending retry)
  KEYS[4] progress HASH (id -> latest progress json)
  KEYS[5] dead ZSET     (id -> ms it died)
  KEYS[6] lease STRING
  ARGV[1] lease token
  ARGV[2] done-key prefix
  ARGV[3] now ms
  ARGV[4] dead retention ms (dead index entries older than this are trimmed)
  ARGV[5..] groups of five: id, attempt, state, final record json, ttl ms

  Returns "lease" if the token does not hold the lease, else one integer per
  item: 1 finished, 0 skipped (the run entry is gone or belongs to another
  attempt: the task was reaped and claimed again).
]]
if redis.call('GET', KEYS[6]) ~= ARGV[1] then
  return 'lease'
end
local out = {}
local deadAdded = false
for i = 5, #ARGV, 5 do
  local id, attempt, state, final, ttl = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local record = redis.call('HGET', KEYS[2], id)
  if record and redis.call('ZSCORE', KEYS[1], id) and string.match(record, '^(%d+):') == attempt then
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
    redis.call('HDEL', KEYS[4], id)
    redis.call('SET', ARGV[2] .. id, final, 'PX', ttl)
    if state == 'dead' then
      redis.call('ZADD', KEYS[5], ARGV[3], id)
      deadAdded = true
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
if deadAdded then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. (tonumber(ARGV[3]) - tonumber(ARGV[4])))
end
return out
