--[[
  list (read-only): one page of a shard's index of one id per member (due,
  dead, or the console's failed) after a cursor, in index order (score, then
  id), optionally only tasks of one name. The finished states' indexes hold
  chunks of ids: list-finished-1.lua.
  Bounded per call: it examines at most ARGV[6] entries and reads at most
  about ARGV[9] bytes of records (args can be large), so a rare name in a big
  shard costs several short calls (each returns a cursor), never one long one.

  KEYS[1] index ZSET (due: id -> due score; dead: id -> ms it died; the
          console's failed: id -> due score of the retry)
  KEYS[2] tasks HASH (id -> "attempt:score\n<spec json>")
  KEYS[3] err HASH   (id -> last error of a pending retry)
  ARGV[1] where records live: "hash" (the tasks hash) or "done" (final records)
  ARGV[2] done-key prefix (final records: lib/finals.lua)
  ARGV[3] cursor score ("" = from the start)
  ARGV[4] cursor id
  ARGV[5] max tasks to return
  ARGV[6] max index entries to examine
  ARGV[7] name filter for "hash" records: the exact start of the spec json,
          '{"n":<json name>,' ("" = every name)
  ARGV[8] name filter for "done" records: the plain name ("" = every name)
  ARGV[9] max record bytes to read (checked after each record, so every call
          makes progress)
  ARGV[10] optional: the due ZSET, when only ids still in it count (the
          console's failed index: a retried task that is running again is
          not waiting for its retry any more); "" or absent = no check
  ARGV[11] optional: "prefix" when ARGV[8] is a name prefix, not a name

  Returns { next cursor score or "" when the index is exhausted, next cursor
  id, then per task: id, index score, record, last error or false }.
]]
local index, tasks, errs = KEYS[1], KEYS[2], KEYS[3]
local source, donePrefix = ARGV[1], ARGV[2]
local afterScore, afterId = ARGV[3], ARGV[4]
local limit, budget = tonumber(ARGV[5]), tonumber(ARGV[6])
local specPrefix, plainName = ARGV[7], ARGV[8]
local maxBytes = tonumber(ARGV[9])
local requireIn = ARGV[10] or ''
local namePrefix = ARGV[11] == 'prefix'
local finalSlots = source == 'done' and finals_slots(donePrefix) or {}

local start = 0
if afterScore ~= '' then
  local current = redis.call('ZSCORE', index, afterId)
  if current and tonumber(current) == tonumber(afterScore) then
    start = redis.call('ZRANK', index, afterId) + 1
  else
    -- The cursor's entry moved or left: start after every (score, id) <= the cursor's.
    -- Entries of exactly that score sit at ranks [lo, hi), ordered by id: binary search.
    local lo = redis.call('ZCOUNT', index, '-inf', '(' .. afterScore)
    local hi = redis.call('ZCOUNT', index, '-inf', afterScore)
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      local member = redis.call('ZRANGE', index, mid, mid)[1]
      if bytes_compare(member, afterId) <= 0 then lo = mid + 1 else hi = mid end
    end
    start = lo
  end
end

local function matches(record)
  if source == 'hash' then
    if specPrefix == '' then return true end
    local nl = string.find(record, '\n', 1, true)
    return nl ~= nil and string.sub(record, nl + 1, nl + #specPrefix) == specPrefix
  end
  return finals_name_matches(record, plainName, namePrefix)
end

local out = { '', '' }
local found, examined, bytes, pos = 0, 0, 0, start
local lastScore, lastId = afterScore, afterId
local exhausted = false
local function full()
  return found >= limit or examined >= budget or bytes >= maxBytes
end
while not full() do
  local chunk = math.min(100, budget - examined)
  local entries = redis.call('ZRANGE', index, pos, pos + chunk - 1, 'WITHSCORES')
  local stopped = false
  for i = 1, #entries, 2 do
    local id, score = entries[i], entries[i + 1]
    examined = examined + 1
    pos = pos + 1
    lastScore, lastId = score, id
    local record
    if source == 'hash' then
      if requireIn == '' or redis.call('ZSCORE', requireIn, id) then
        record = redis.call('HGET', tasks, id)
      end
    else
      record = finals_get(finalSlots, id)
    end
    if record then
      bytes = bytes + #record
      if matches(record) then
        out[#out + 1] = id
        out[#out + 1] = score
        out[#out + 1] = record
        out[#out + 1] = (source == 'hash' and redis.call('HGET', errs, id)) or false
        found = found + 1
      end
    end
    if full() and i + 1 < #entries then
      stopped = true
      break
    end
  end
  if not stopped and #entries < chunk * 2 then
    exhausted = true
    break
  end
end
if not exhausted then
  out[1] = lastScore
  out[2] = lastId
end
return out
