--[[
  park (fenced): a claimed task whose name the node believes paused is not
  started. It leaves its batch without using up an attempt (its record is
  left as it is, so it is taken out of the batch's claim reply instead: the
  reaper must not count it as running there, see claim-6.lua) and:
  - if the name is still paused on this shard: goes back to `due` at its
    score plus a far offset, so no window ever loads it, and is indexed in
    the shard's parked set of that name (id -> its real score) for resume;
    its record keeps its real due time, so GET, cancel and reschedule still
    see a scheduled task;
  - if the name is no longer paused (a resume raced the node's view): goes
    back to `due` at its real score, to be claimed and run at once.

  KEYS[1] claims ZSET  (batch id -> visibility deadline)
  KEYS[2] due ZSET
  KEYS[3] tasks HASH
  KEYS[4] paused-names SET of the shard
  KEYS[5] parked ZSET of this shard and name
  KEYS[6] lease STRING
  KEYS[7] batches HASH (batch id -> claim reply "id\0record\0…")
  ARGV[1] lease token
  ARGV[2] id
  ARGV[3] batch id the attempt was claimed in
  ARGV[4] task name
  ARGV[5] park offset added to the score (2^48: beyond any real due time,
          and small enough that score + offset keeps the 1/16 priority
          fraction exact in a double)

  Returns "lease" if the token does not hold the lease; "parked";
  "requeued" (not paused any more); "stale" (the attempt is not running any
  more: its batch was reaped, or the task is back in `due`; nothing changed).
]]
if redis.call('GET', KEYS[6]) ~= ARGV[1] then
  return 'lease'
end
local id = ARGV[2]
local record = claimed_running(KEYS[3], KEYS[1], KEYS[2], id, ARGV[3])
if not record then
  return 'stale'
end
local claimed = redis.call('HGET', KEYS[7], ARGV[3])
if claimed then
  -- Rebuild the reply without this id's pair (rare: only tasks of a paused name get here).
  local ids, records = claimed_split(claimed)
  local kept = {}
  for i = 1, #ids do
    if ids[i] ~= id then
      kept[#kept + 1] = ids[i]
      kept[#kept + 1] = records[i]
    end
  end
  redis.call('HSET', KEYS[7], ARGV[3], table.concat(kept, '\0'))
end
local score = string.match(record, '^%d+:([^\n]+)\n')
if redis.call('SISMEMBER', KEYS[4], ARGV[4]) == 1 then
  redis.call('ZADD', KEYS[2], string.format('%.17g', tonumber(score) + tonumber(ARGV[5])), id)
  redis.call('ZADD', KEYS[5], score, id)
  return 'parked'
end
redis.call('ZADD', KEYS[2], score, id)
return 'requeued'
