--[[
  reshard-out (fenced): take up to a batch of one source shard's tasks of
  moving slots out of it, into its outbox, on their way to their new shard
  (reshard-in-7.lua copies them there, reshard-ack-3.lua clears the outbox).
  A task taken out is in no due set until the copy lands (a few ms), and
  never in two: the source can no longer claim, cancel or reschedule it, and
  the destination refuses an id it already has.

  Only pending tasks move (in `due`, parked ones included: they move at their
  real score and the destination's node parks them again if their name is
  still paused). A running task stays: its finish, retry or reap happens here
  and the next pass moves what comes back to `due` (the resize waits for it).

  KEYS[1] lease STRING
  KEYS[2] due ZSET
  KEYS[3] tasks HASH
  KEYS[4] err HASH
  KEYS[5] progress HASH
  KEYS[6] outbox HASH (id -> bundle)
  KEYS[7] dead ZSET
  ARGV[1] lease token
  ARGV[2] kind: "task" (pending tasks) or "dead" (dead tasks with their final record)
  ARGV[3] done-key prefix of the shard (final records: lib/finals.lua)
  ARGV[4..] id, destination shard, hash slot, for each task to move

  Bundles ("\0"-joined): "t", dest, slot, record, last error, score in the
                         console's failed index ("" = not there), attempt
                         history ("" = none) (lib/console.lua)
                         "d", dest, slot, ms it died, final expiry, final json,
                         attempt history kept beside the final ("" = none)
  A pending task takes its console entries along (failed index, history), so
  GET /v1/tasks?state=failed and the task page find it at its new shard.
  Returns { "lease" } | { moved, still running, id, bundle, id, bundle, ... }
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return { 'lease' }
end
local out = { 0, 0 }
local moved, running = 0, 0
local slots = nil
for i = 4, #ARGV, 3 do
  local id, dest, slot = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local bundle = nil
  if ARGV[2] == 'task' then
    if redis.call('ZSCORE', KEYS[2], id) then
      local record = redis.call('HGET', KEYS[3], id)
      local err = redis.call('HGET', KEYS[4], id) or ''
      redis.call('ZREM', KEYS[2], id)
      redis.call('HDEL', KEYS[3], id)
      redis.call('HDEL', KEYS[4], id)
      redis.call('HDEL', KEYS[5], id)
      local failedKey, historyKey = ARGV[3] .. 'by:failed', ARGV[3] .. 'attempts'
      local failed = redis.call('ZSCORE', failedKey, id) or ''
      local history = redis.call('HGET', historyKey, id) or ''
      if failed ~= '' then
        redis.call('ZREM', failedKey, id)
      end
      if history ~= '' then
        redis.call('HDEL', historyKey, id)
      end
      bundle = 't\0' .. dest .. '\0' .. slot .. '\0' .. record .. '\0' .. err .. '\0' .. failed .. '\0' .. history
    elseif redis.call('HEXISTS', KEYS[3], id) == 1 then
      running = running + 1
    end
  else
    local diedAt = redis.call('ZSCORE', KEYS[7], id)
    if diedAt then
      slots = slots or finals_slots(ARGV[3])
      local final, key = finals_get(slots, id)
      redis.call('ZREM', KEYS[7], id)
      if final then
        local history = redis.call('HGET', key, id .. ' attempts') or ''
        redis.call('HDEL', key, id, id .. ' attempts')
        local expiry = string.sub(key, #ARGV[3] + 1)
        bundle = 'd\0' .. dest .. '\0' .. slot .. '\0' .. diedAt .. '\0' .. expiry .. '\0' .. final .. '\0' .. history
      end
    end
  end
  if bundle then
    redis.call('HSET', KEYS[6], id, bundle)
    moved = moved + 1
    out[#out + 1] = id
    out[#out + 1] = bundle
  end
end
out[1] = moved
out[2] = running
return out
