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
  ARGV[5] now ms (the console's succeeded index, as finish-7.lua writes it)
  then groups of items that share a batch, an expiry slot, a broker list
          and a message template: batch id, expiry ms of the slot, list key,
          template (its 8 pieces joined by "\0", or "" for whole
          envelopes), item count k, and the k items' fields, all joined by
          "\0" (lib/packed.lua): id, final record tail (joined around the
          spec of the task's record, as finish-7.lua does), then the envelope
          whole, or with a template its values body, id json ("": "\"" ..
          id .. "\""), expires json, argsrepr json and delivery tag, which
          go between the pieces (pool/targets/celery/message-templates.ts
          joins them in the same order). "\0" is in none of them: ids are
          printable ASCII, records, envelopes and pieces are JSON, the values
          JSON, base64 or UUIDs. lib/celery-envelope.lua joins them. A
          group's messages go onto its list with one LPUSH of many values, in
          the group's order (LPUSH a b c: a is popped first).

  Console (lib/console.lua), as finish-7.lua does for a succeeded task: the
  ids join the `succeeded` index, leave the `failed` one, and a retried
  task's attempt history moves into its final record's slot.

  Returns "lease" if the token neither holds the lease nor claimed the
  batch (see finish-7.lua), else one character
  per item in order: "1" finished and pushed, "0" skipped (its batch was
  reaped: the attempt runs again elsewhere; or it already ended: nothing
  is pushed here).
]]
-- A token that lost the lease still ends attempts of a batch it claimed (see finish-7.lua): the
-- batch check below fences them.
if redis.call('GET', KEYS[4]) ~= ARGV[1] then
  for g = 6, #ARGV, 6 do
    if not claimed_by(ARGV[g], ARGV[1]) then
      return 'lease'
    end
  end
end
local out = {}
local ended = {}
local now = tonumber(ARGV[5])
local hasHistory = redis.call('EXISTS', console_history_key(ARGV[2])) == 1
local succeeded, newestExpiry = {}, nil
-- Per group handed off: its list key and its envelopes, pushed after the SELECT below.
local pushKeys, pushValues = {}, {}
local at = 6
while at <= #ARGV do
  local batch, expiry, listKey, template, count = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], tonumber(ARGV[at + 4])
  local packed = ARGV[at + 5]
  at = at + 6
  if redis.call('ZSCORE', KEYS[5], batch) then
    local field = packed_reader(packed)
    local p = celery_pieces(template)
    local ids, tails, envelopes = {}, {}, {}
    for k = 1, count do
      local id = field()
      ids[k] = id
      tails[k] = field()
      envelopes[k] = celery_envelope(p, field, id)
    end
    -- Only attempts still running end and push here: a call repeated after its reply was lost
    -- (the node sends a failed call again) finds them gone and pushes nothing a second time.
    local records = redis.call('HMGET', KEYS[1], unpack(ids))
    local kept, fields, pushed, flags = {}, {}, {}, {}
    for k = 1, count do
      local record = records[k]
      if record then
        kept[#kept + 1] = ids[k]
        ended[#ended + 1] = ids[k]
        fields[#fields + 1] = ids[k]
        fields[#fields + 1] = finals_join('succeeded', tails[k], record)
        pushed[#pushed + 1] = envelopes[k]
        succeeded[#succeeded + 1] = ids[k]
        flags[k] = '1'
      else
        flags[k] = '0'
      end
    end
    if #kept > 0 then
      finals_put(ARGV[2], { [expiry] = fields })
      redis.call('HDEL', KEYS[1], unpack(kept))
      if hasHistory then
        console_history_keep(ARGV[2], ARGV[2] .. expiry, kept)
      end
      if not newestExpiry or tonumber(expiry) > newestExpiry then
        newestExpiry = tonumber(expiry)
      end
      pushKeys[#pushKeys + 1] = listKey
      pushValues[#pushValues + 1] = pushed
    end
    out[#out + 1] = table.concat(flags)
  else
    out[#out + 1] = string.rep('0', count)
  end
end
if #ended > 0 and redis.call('EXISTS', KEYS[2], KEYS[3]) > 0 then
  redis.call('HDEL', KEYS[2], unpack(ended))
  redis.call('HDEL', KEYS[3], unpack(ended))
  redis.call('ZREM', console_index(ARGV[2], 'failed'), unpack(ended))
end
-- Trimmed like finish-7.lua's: an entry goes once its record's slot could have expired.
if #succeeded > 0 then
  console_index_add(ARGV[2], 'succeeded', succeeded, now - (newestExpiry - now), newestExpiry, now)
end
if #pushKeys > 0 then
  local switch = ARGV[3] ~= ARGV[4]
  if switch then
    redis.call('SELECT', ARGV[4])
  end
  for g = 1, #pushKeys do
    celery_lpush(pushKeys[g], pushValues[g])
  end
  if switch then
    redis.call('SELECT', ARGV[3])
  end
end
return table.concat(out)
