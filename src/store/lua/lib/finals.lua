--[[
  finals: where finished tasks' final records live. Not a script of its own:
  scripts.ts puts this text in front of every script that reads or writes
  final records, so they all agree on the layout.

  A final record lives in a HASH per expiry slot, <done prefix><expiry ms>
  (id -> final json), which Redis deletes at that ms (PEXPIREAT). Finishing a
  batch is then one HSET per slot, not a key with its own TTL per task: the
  per-task SET ... PX was a third of the finish script's time. A slot is
  1/16 of the ttl rounded down to a power of two (at least 1,024 ms), so a
  record stays readable for at least its ttl and at most 1/16 longer.

  <done prefix>slots is a ZSET of the live slot hashes (member and score: the
  expiry ms), for lookups by id: one HGET or HMGET per live slot, about 17
  per distinct ttl in use (succeeded, dead, cancelled each have one).

  Every key shares the shard's hash tag, so a script stays in one cluster slot.
]]

-- Expiry ms of the slot that keeps a record finished at `at` for `ttl` ms.
-- A batch's items mostly share both, so the last answer is kept.
local finals_last_at, finals_last_ttl, finals_last_expiry
local function finals_expiry(at, ttl)
  if at == finals_last_at and ttl == finals_last_ttl then
    return finals_last_expiry
  end
  local width = 1024
  while width * 2 <= ttl / 16 do
    width = width * 2
  end
  finals_last_at, finals_last_ttl = at, ttl
  finals_last_expiry = string.format('%.0f', math.ceil((at + ttl) / width) * width)
  return finals_last_expiry
end

-- A final record joined from what only the node knows, its tail (codec.ts encodeFinalTail: the
-- text after "attempt":), and the spec of the task's record ("attempt:score\n<spec>"), exactly as
-- codec.ts encodeFinalText makes it. The node sends no spec: Redis has it.
local function finals_join(state, tail, record)
  return '{"state":"' .. state .. '","attempt":' .. tail .. ',"spec":' .. string.sub(record, string.find(record, '\n', 1, true) + 1) .. '}'
end

-- Redis' own clock in ms: slot hashes expire by it, so lookups use it too.
local function finals_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Stores records: `bySlot` maps an expiry (from finals_expiry) to a flat
-- array id, json, id, json, ... (at most a few thousand entries: unpack).
-- Only a slot hash this call created (no ttl yet) is given its expiry and
-- listed, which is also when expired slots are dropped from the list: most
-- calls write to an existing slot, and at a few tasks per call the fixed
-- commands were most of a finish.
local function finals_put(prefix, bySlot)
  local slots = prefix .. 'slots'
  for expiry, fields in pairs(bySlot) do
    local key = prefix .. expiry
    redis.call('HSET', key, unpack(fields))
    if redis.call('PTTL', key) == -1 then
      redis.call('PEXPIREAT', key, expiry)
      redis.call('ZADD', slots, expiry, expiry)
      redis.call('ZREMRANGEBYSCORE', slots, '-inf', finals_now())
    end
  end
end

-- The live slot hashes, newest expiry last.
local function finals_slots(prefix)
  local slots = redis.call('ZRANGEBYSCORE', prefix .. 'slots', '(' .. finals_now(), '+inf')
  for i = 1, #slots do
    slots[i] = prefix .. slots[i]
  end
  return slots
end

-- The final record of one id and the slot hash holding it, or false.
local function finals_get(slots, id)
  for i = #slots, 1, -1 do
    local json = redis.call('HGET', slots[i], id)
    if json then
      return json, slots[i]
    end
  end
  return false
end

-- The reply of a script that found nothing pending: { "final", json } or { "missing" }.
local function finals_reply(prefix, id)
  local final = finals_get(finals_slots(prefix), id)
  if final then
    return { 'final', final }
  end
  return { 'missing' }
end

-- Final records of many ids: a table position -> json of the ids found.
local function finals_get_many(slots, ids)
  local found = {}
  for i = 1, #slots do
    local values = redis.call('HMGET', slots[i], unpack(ids))
    for j = 1, #ids do
      if values[j] then
        found[j] = values[j]
      end
    end
  end
  return found
end

-- Whether a final record is of a task with this name (or, with `isPrefix`, a name starting with
-- it); "" matches every record. The listing scripts filter with it.
local function finals_name_matches(record, name, isPrefix)
  if name == '' then return true end
  local ok, decoded = pcall(cjson.decode, record)
  if not (ok and type(decoded) == 'table' and type(decoded.spec) == 'table' and type(decoded.spec.n) == 'string') then return false end
  if isPrefix then return string.sub(decoded.spec.n, 1, #name) == name end
  return decoded.spec.n == name
end
