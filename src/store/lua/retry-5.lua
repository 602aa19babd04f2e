--[[
  retry (fenced): a failed attempt goes back to `due` at a later score
  (backoff), remembering its error for GET /v1/tasks/:id. Its record now
  counts the failed attempt as used up (which also tells the reaper that
  the task left its batch: see claim-6.lua).

  KEYS[1] claims ZSET (batch id -> visibility deadline)
  KEYS[2] due ZSET
  KEYS[3] tasks HASH
  KEYS[4] err HASH
  KEYS[5] lease STRING
  ARGV[1] lease token
  ARGV[2] id
  ARGV[3] batch id the attempt was claimed in
  ARGV[4] attempt that failed
  ARGV[5] new due score
  ARGV[6] error message
  ARGV[7] done-key prefix, for the console's failed index and attempt
          history (lib/console.lua); "" = keep neither
  ARGV[8] now ms (the attempt's time in the history)

  Returns "lease" if the token neither holds the lease nor claimed the batch, 1 if rescheduled, 0 if
  the attempt is not running any more (its batch was reaped, or the task is
  back in `due`).
]]
-- A token that lost the lease still retries an attempt of a batch it claimed (see finish-7.lua).
if redis.call('GET', KEYS[5]) ~= ARGV[1] and not claimed_by(ARGV[3], ARGV[1]) then
  return 'lease'
end
local id = ARGV[2]
local record = claimed_running(KEYS[3], KEYS[1], KEYS[2], id, ARGV[3])
if not record then
  return 0
end
local nl = string.find(record, '\n', 1, true)
redis.call('HSET', KEYS[3], id, ARGV[4] .. ':' .. ARGV[5] .. string.sub(record, nl))
redis.call('ZADD', KEYS[2], ARGV[5], id)
redis.call('HSET', KEYS[4], id, ARGV[6])
if ARGV[7] and ARGV[7] ~= '' then
  redis.call('ZADD', console_index(ARGV[7], 'failed'), ARGV[5], id)
  console_history_append(ARGV[7], id, ARGV[4], ARGV[6], ARGV[8])
end
return 1
