--[[
  finish (fenced): end attempts for good: ack (succeeded), dead (gave up) or
  expired. The task leaves `running` and the tasks hash; its final record,
  built by the node (it has the spec from the claim), is kept in an
  expiring slot hash for the retention (lib/finals.lua), so Redis deletes it
  and no sweeper has to scan. Dead tasks are also indexed in the dead ZSET,
  which is trimmed here by age (a range delete, not a scan). Batches whose
  every attempt has ended are dropped from `claims` and `batches`.

  KEYS[1] running HASH  (id -> batch id)
  KEYS[2] tasks HASH
  KEYS[3] err HASH      (id -> last error of a pending retry)
  KEYS[4] progress HASH (id -> latest progress json)
  KEYS[5] dead ZSET     (id -> ms it died)
  KEYS[6] lease STRING
  KEYS[7] claims ZSET   (batch id -> visibility deadline)
  KEYS[8] batches HASH  (batch id -> claim reply)
  ARGV[1] lease token
  ARGV[2] done-key prefix (final records: lib/finals.lua)
  ARGV[3] now ms
  ARGV[4] dead retention ms (dead index entries older than this are trimmed)
  ARGV[5] n: how many batch ids follow, whose attempts have all ended
  ARGV[6 .. 5+n] those batch ids
  then groups of items that share an expiry slot and a state:
          expiry ms of the slot (finals_slot_of), state, item count k,
          then k times: id, batch id of the attempt, final record json.
          Items are separate arguments, not one joined string: splitting
          a string in Lua cost Redis more than the rest of this script.

  An item is finished only if its task is still running in that batch: a
  late ack of an attempt that was reaped (and maybe claimed again) or sent
  back by retry or park finds another batch or none, and is skipped.

  Returns "lease" if the token does not hold the lease, else one character
  per item in order: "1" finished, "0" skipped. At most a few thousand
  items per call (unpack).
]]
if redis.call('GET', KEYS[6]) ~= ARGV[1] then
  return 'lease'
end
local out = {}
local ended = {}
local deadMembers = {}
local doneCount = tonumber(ARGV[5])
local at = 6 + doneCount
while at <= #ARGV do
  local expiry, state, count = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2])
  at = at + 3
  local ids = {}
  for k = 1, count do
    ids[k] = ARGV[at + 3 * (k - 1)]
  end
  -- One HMGET, HSET and HDEL per group, not a call per task.
  local owners = redis.call('HMGET', KEYS[1], unpack(ids))
  local fields, finished = {}, {}
  for k = 1, count do
    local item = at + 3 * (k - 1)
    if owners[k] == ARGV[item + 1] then
      finished[#finished + 1] = ids[k]
      ended[#ended + 1] = ids[k]
      fields[#fields + 1] = ids[k]
      fields[#fields + 1] = ARGV[item + 2]
      if state == 'dead' then
        deadMembers[#deadMembers + 1] = ARGV[3]
        deadMembers[#deadMembers + 1] = ids[k]
      end
      out[#out + 1] = '1'
    else
      out[#out + 1] = '0'
    end
  end
  if #finished > 0 then
    finals_put(ARGV[2], { [expiry] = fields })
    redis.call('HDEL', KEYS[1], unpack(finished))
    redis.call('HDEL', KEYS[2], unpack(finished))
  end
  at = at + 3 * count
end
-- Errors and progress exist only for tasks that retried or reported progress.
if #ended > 0 and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HDEL', KEYS[3], unpack(ended))
end
if #ended > 0 and redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('HDEL', KEYS[4], unpack(ended))
end
if #deadMembers > 0 then
  redis.call('ZADD', KEYS[5], unpack(deadMembers))
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. (tonumber(ARGV[3]) - tonumber(ARGV[4])))
end
if doneCount > 0 then
  redis.call('ZREM', KEYS[7], unpack(ARGV, 6, 5 + doneCount))
  redis.call('HDEL', KEYS[8], unpack(ARGV, 6, 5 + doneCount))
end
return table.concat(out)
