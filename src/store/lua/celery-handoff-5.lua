--[[
  celery-handoff (fenced): the Celery target's delivery when the Celery
  broker is the very Redis server tickwheel's data lives on. In one script,
  each task ends `succeeded` on its shard (as finish-7.lua does) and its
  Celery message lands on the broker's list, so no crash can leave a task
  pushed but still claimed (the reaper would run it again: pushed twice) or
  finished but never pushed.

  The broker list is in the broker's database, which may not be tickwheel's:
  the script SELECTs it for the pushes and back afterwards (a SELECT inside a
  script is replicated with its effects; before Redis 7 it also changed the
  caller's database, hence the SELECT back). The list keys are not declared
  in KEYS: they are in another database and outside the shard's hash slot,
  which is why this script is only used on a standalone server, never on a
  Redis Cluster (there the target pushes, then finishes).

  KEYS[1] tasks HASH
  KEYS[2] err HASH      (id -> last error of a pending retry)
  KEYS[3] progress HASH (id -> latest progress json)
  KEYS[4] lease STRING
  KEYS[5] claims ZSET   (batch id -> visibility deadline)
  ARGV[1] lease token
  ARGV[2] done-key prefix (final records: lib/finals.lua)
  ARGV[3] tickwheel's database index
  ARGV[4] the broker's database index
  then groups of items that share a batch and an expiry slot: batch id,
          expiry ms of the slot, item count k, and the k items' id, final
          record json, list key and message envelope, all joined by "\0"
          (lib/packed.lua; "\0" is in none of them: ids are printable
          ASCII, records and envelopes are JSON, and list keys are queue
          names refused with any control character, plus the priority
          separator "\x06\x16").

  Returns "lease" if the token does not hold the lease, else one character
  per item in order: "1" finished and pushed, "0" skipped (its batch was
  reaped: the attempt runs again elsewhere, nothing is pushed here).
]]
if redis.call('GET', KEYS[4]) ~= ARGV[1] then
  return 'lease'
end
local out = {}
local ended = {}
local pushes = {}
local at = 5
while at <= #ARGV do
  local batch, expiry, count = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2])
  local packed = ARGV[at + 3]
  at = at + 4
  if redis.call('ZSCORE', KEYS[5], batch) then
    local field = packed_reader(packed)
    local ids, fields = {}, {}
    for k = 1, count do
      local id = field()
      ids[k] = id
      fields[2 * k - 1] = id
      fields[2 * k] = field()
      pushes[#pushes + 1] = field()
      pushes[#pushes + 1] = field()
      ended[#ended + 1] = id
      out[#out + 1] = '1'
    end
    finals_put(ARGV[2], { [expiry] = fields })
    redis.call('HDEL', KEYS[1], unpack(ids))
  else
    for _ = 1, count do
      out[#out + 1] = '0'
    end
  end
end
if #ended > 0 and redis.call('EXISTS', KEYS[2], KEYS[3]) > 0 then
  redis.call('HDEL', KEYS[2], unpack(ended))
  redis.call('HDEL', KEYS[3], unpack(ended))
end
if #pushes > 0 then
  local switch = ARGV[3] ~= ARGV[4]
  if switch then
    redis.call('SELECT', ARGV[4])
  end
  for i = 1, #pushes, 2 do
    redis.call('LPUSH', pushes[i], pushes[i + 1])
  end
  if switch then
    redis.call('SELECT', ARGV[3])
  end
end
return table.concat(out)
