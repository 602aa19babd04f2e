--[[
  retry-dead: give a dead task a fresh set of attempts. It goes back to `due`
  (attempt counter 0) at the given score and leaves the dead index; its final
  record is deleted; its last error is kept for GET /v1/tasks/:id until it
  runs again. The caller read the final record and built the new task record
  from it; the script applies it only if the final record is still exactly
  that one (compare-and-set), so two concurrent retries requeue it once.

  KEYS[1] dead ZSET
  KEYS[2] due ZSET
  KEYS[3] tasks HASH
  KEYS[4] err HASH
  ARGV[1] id
  ARGV[2] expected final record json
  ARGV[3] new task record ("0:<score>\n<spec json>")
  ARGV[4] new due score
  ARGV[5] last error to keep
  ARGV[6] wake channel ("" = no hint)
  ARGV[7] publish command ("PUBLISH" | "SPUBLISH")
  ARGV[8] wake horizon score
  ARGV[9] done-key prefix (final records: lib/finals.lua)

  Returns "retried" | "changed" (the final record is not the expected one:
  read again) | "pending" (the id is scheduled or running) | "missing".
]]
local id = ARGV[1]
if redis.call('HEXISTS', KEYS[3], id) == 1 then
  return 'pending'
end
local final, slot = finals_get(finals_slots(ARGV[9]), id)
if not final then
  redis.call('ZREM', KEYS[1], id)
  return 'missing'
end
if final ~= ARGV[2] then
  return 'changed'
end
redis.call('HDEL', slot, id)
redis.call('ZREM', KEYS[1], id)
redis.call('HSET', KEYS[3], id, ARGV[3])
redis.call('HSET', KEYS[4], id, ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[4], id)
if ARGV[6] ~= '' and tonumber(ARGV[4]) <= tonumber(ARGV[8]) then
  redis.call(ARGV[7], ARGV[6], id .. '|' .. ARGV[4])
end
return 'retried'
