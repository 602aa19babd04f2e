--[[
  finish (fenced): end attempts for good: ack (succeeded), dead (gave up) or
  expired. The task leaves the run set and the tasks hash; its final record is
  kept in an expiring slot hash for the retention (lib/finals.lua), so Redis
  deletes it and no sweeper has to scan. Dead tasks are also indexed in the
  dead ZSET, which is trimmed here by age (a range delete, not a scan).

  KEYS[1] run ZSET
  KEYS[2] tasks HASH
  KEYS[3] err HASH      (id -> last error of a pending retry)
  KEYS[4] progress HASH (id -> latest progress json)
  KEYS[5] dead ZSET     (id -> ms it died)
  KEYS[6] lease STRING
  ARGV[1] lease token
  ARGV[2] done-key prefix (final records: lib/finals.lua)
  ARGV[3] now ms
  ARGV[4] dead retention ms (dead index entries older than this are trimmed)
  ARGV[5] number of items
  ARGV[6] the items, six fields each, all joined by "\0": id, attempt, state,
          finished-at ms, ttl ms, and the final record's optional fields as a
          JSON fragment (',"lastError":…', ',"result":…', or ""; JSON escapes
          control characters, so it holds no "\0"). One argument rather than
          six per task: encoding thousands of small arguments was most of the
          node's cost of a finish. The script writes the final record around
          them from the stored task record, in the shape codec.ts encodeFinal
          makes: {"state","attempt","dueAt","finishedAt",<fragment>,"spec"};
          the spec is not sent back and forth.

  Returns "lease" if the token does not hold the lease, else one character
  per item: "1" finished, "0" skipped (the run entry is gone or belongs to
  another attempt: the task was reaped and claimed again). Items are distinct
  ids; at most a few thousand per call (unpack). Needs Redis >= 6.2 (ZMSCORE).
]]
if redis.call('GET', KEYS[6]) ~= ARGV[1] then
  return 'lease'
end
local count = tonumber(ARGV[5])
if count < 1 then
  return ''
end
local field = packed_reader(ARGV[6])
local ids, attempts, states, finishedAts, ttls, extras = {}, {}, {}, {}, {}, {}
for i = 1, count do
  ids[i] = field()
  attempts[i] = field()
  states[i] = field()
  finishedAts[i] = field()
  ttls[i] = field()
  extras[i] = field()
end
-- Reads and deletes go out as one command per batch (HMGET, ZMSCORE, ZREM,
-- HDEL): a redis.call per task and command was most of this script's time.
local records = redis.call('HMGET', KEYS[2], unpack(ids))
local running = redis.call('ZMSCORE', KEYS[1], unpack(ids))
local out = {}
local finished = {}
local deadAdded = false
local bySlot = {}
for i = 1, count do
  local record = records[i]
  local colon = record and string.find(record, ':', 1, true)
  local attempt = attempts[i]
  if running[i] and colon and string.sub(record, 1, colon - 1) == attempt then
    local id, state = ids[i], states[i]
    local nl = string.find(record, '\n', colon, true)
    local dueMs = string.match(record, '^%d+:(%d+)')
    local final = '{"state":"' .. state .. '","attempt":' .. attempt .. ',"dueAt":' .. dueMs ..
      ',"finishedAt":' .. finishedAts[i] .. extras[i] .. ',"spec":' .. string.sub(record, nl + 1) .. '}'
    finished[#finished + 1] = id
    local expiry = finals_expiry(tonumber(finishedAts[i]), tonumber(ttls[i]))
    local slot = bySlot[expiry]
    if not slot then
      slot = {}
      bySlot[expiry] = slot
    end
    slot[#slot + 1] = id
    slot[#slot + 1] = final
    if state == 'dead' then
      redis.call('ZADD', KEYS[5], ARGV[3], id)
      deadAdded = true
    end
    out[i] = '1'
  else
    out[i] = '0'
  end
end
if #finished > 0 then
  finals_put(ARGV[2], bySlot)
  redis.call('ZREM', KEYS[1], unpack(finished))
  redis.call('HDEL', KEYS[2], unpack(finished))
  redis.call('HDEL', KEYS[3], unpack(finished))
  redis.call('HDEL', KEYS[4], unpack(finished))
end
if deadAdded then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. (tonumber(ARGV[3]) - tonumber(ARGV[4])))
end
return table.concat(out)
