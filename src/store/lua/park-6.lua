--[[
  park (fenced): a claimed task whose name the node believes paused is not
  started. It leaves `running` without using up an attempt (its record is
  left as it is) and:
  - if the name is still paused on this shard: goes back to `due` at its
    score plus a far offset, so no window ever loads it, and is indexed in
    the shard's parked set of that name (id -> its real score) for resume;
    its record keeps its real due time, so GET, cancel and reschedule still
    see a scheduled task;
  - if the name is no longer paused (a resume raced the node's view): goes
    back to `due` at its real score, to be claimed and run at once.

  KEYS[1] running HASH (id -> batch id)
  KEYS[2] due ZSET
  KEYS[3] tasks HASH
  KEYS[4] paused-names SET of the shard
  KEYS[5] parked ZSET of this shard and name
  KEYS[6] lease STRING
  ARGV[1] lease token
  ARGV[2] id
  ARGV[3] batch id the attempt was claimed in
  ARGV[4] task name
  ARGV[5] park offset added to the score (2^48: beyond any real due time,
          and small enough that score + offset keeps the 1/16 priority
          fraction exact in a double)

  Returns "lease" if the token does not hold the lease; "parked";
  "requeued" (not paused any more); "stale" (the task is not running in
  that batch: reaped and maybe claimed again; nothing changed).
]]
if redis.call('GET', KEYS[6]) ~= ARGV[1] then
  return 'lease'
end
local id = ARGV[2]
local record = redis.call('HGET', KEYS[3], id)
if not record or redis.call('HGET', KEYS[1], id) ~= ARGV[3] then
  return 'stale'
end
local score = string.match(record, '^%d+:([^\n]+)\n')
redis.call('HDEL', KEYS[1], id)
if redis.call('SISMEMBER', KEYS[4], ARGV[4]) == 1 then
  redis.call('ZADD', KEYS[2], string.format('%.17g', tonumber(score) + tonumber(ARGV[5])), id)
  redis.call('ZADD', KEYS[5], score, id)
  return 'parked'
end
redis.call('ZADD', KEYS[2], score, id)
return 'requeued'
