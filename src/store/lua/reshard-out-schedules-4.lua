--[[
  reshard-out-schedules (fenced): take recurring schedules of moving slots
  out of a source shard into its outbox, on their way to their new shard
  (reshard-in-7.lua lands them, reshard-ack-3.lua clears the outbox). A
  schedule moves with its stored value as it is: version, cursor (the last
  occurrence planted) and definition, and its planter wake time. Once it has
  left, this shard's planter plants nothing more for it (its compare-and-set
  finds no schedule: schedule-plant-5.lua), and the new shard's planter goes
  on from the cursor, so no occurrence is planted twice; the occurrences
  already planted here move as tasks (the same slot) or run here.

  KEYS[1] lease STRING
  KEYS[2] outbox HASH (id -> bundle; a schedule's id is "\0s" .. its name,
          which no task id can be: ids hold no "\0")
  KEYS[3] schedules HASH (name -> stored schedule)
  KEYS[4] schedule wake ZSET (name -> ms)
  ARGV[1] lease token
  ARGV[2..] name, destination shard, hash slot, for each schedule to move

  Bundle ("\0"-joined): "s", dest, slot, name, stored value, wake ms ("" = none)
  Returns { "lease" } | { moved, id, bundle, id, bundle, ... }
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return { 'lease' }
end
local out = { 0 }
local moved = 0
for i = 2, #ARGV, 3 do
  local name, dest, slot = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local stored = redis.call('HGET', KEYS[3], name)
  if stored then
    local wake = redis.call('ZSCORE', KEYS[4], name) or ''
    redis.call('HDEL', KEYS[3], name)
    redis.call('ZREM', KEYS[4], name)
    local id = '\0s' .. name
    local bundle = 's\0' .. dest .. '\0' .. slot .. '\0' .. name .. '\0' .. stored .. '\0' .. wake
    redis.call('HSET', KEYS[2], id, bundle)
    moved = moved + 1
    out[#out + 1] = id
    out[#out + 1] = bundle
  end
end
out[1] = moved
return out
