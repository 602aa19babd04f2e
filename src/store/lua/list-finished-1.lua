--[[
  list-finished (read-only): one page of a shard's succeeded, cancelled or
  expired tasks after a cursor, in (ms, id) order, optionally only tasks of
  one name or name prefix. The index holds chunks, "<id> <id> ..." per
  member, all ended at the member's score (lib/console.lua); a score's
  chunks are read together and their ids ordered byte by byte, the way
  Redis orders the members of one score, so the order is the one a ZSET of
  single ids gave. Bounded like list-3.lua: at most ARGV[5] ids examined and
  about ARGV[8] bytes of records read per call; a score's chunks are always
  read whole (the ids one shard ended in one ms: at most a few claims' worth).

  KEYS[1] index ZSET (chunk -> ms its ids ended)
  ARGV[1] done-key prefix (final records: lib/finals.lua)
  ARGV[2] cursor score ("" = from the start); any ms, not only one of this
          index (the time-ordered listing gives every shard the same cursor)
  ARGV[3] cursor id: ids of the cursor's score up to this one are skipped
  ARGV[4] max tasks to return
  ARGV[5] max ids to examine
  ARGV[6] name filter: the plain name ("" = every name)
  ARGV[7] "prefix" when ARGV[6] is a name prefix, not a name
  ARGV[8] max record bytes to read (checked after each record, so every call
          makes progress)

  Returns { next cursor score or "" when the index is exhausted, next cursor
  id, then per task: id, score, final record, false (no pending error) }, the
  shape list-3.lua returns.
]]
local index, donePrefix = KEYS[1], ARGV[1]
local afterScore, afterId = ARGV[2], ARGV[3]
local limit, budget = tonumber(ARGV[4]), tonumber(ARGV[5])
local name, namePrefix = ARGV[6], ARGV[7] == 'prefix'
local maxBytes = tonumber(ARGV[8])
local slots = finals_slots(donePrefix)
local afterMs = afterScore ~= '' and tonumber(afterScore) or nil

-- The first chunk of a score at or after the cursor's: the cursor's own score may still hold ids after its id.
local rank = afterMs and redis.call('ZCOUNT', index, '-inf', '(' .. afterScore) or 0
local out = { '', '' }
local found, examined, bytes = 0, 0, 0
local lastScore, lastId = afterScore, afterId
local function full()
  return found >= limit or examined >= budget or bytes >= maxBytes
end
local exhausted = false
local function byBytes(a, b)
  return bytes_compare(a, b) < 0
end
while not full() do
  local first = redis.call('ZRANGE', index, rank, rank, 'WITHSCORES')
  if #first == 0 then
    exhausted = true
    break
  end
  local score = first[2]
  local chunks = redis.call('ZRANGEBYSCORE', index, score, score)
  rank = rank + #chunks
  local ids = {}
  for c = 1, #chunks do
    for id in string.gmatch(chunks[c], '[^ ]+') do
      ids[#ids + 1] = id
    end
  end
  table.sort(ids, byBytes)
  local sameAsCursor = afterMs ~= nil and tonumber(score) == afterMs
  for i = 1, #ids do
    local id = ids[i]
    -- An id ended twice in one ms (given again after its first run) is listed once, as before chunks.
    if id ~= ids[i - 1] and not (sameAsCursor and bytes_compare(id, afterId) <= 0) then
      examined = examined + 1
      lastScore, lastId = score, id
      local record = finals_get(slots, id)
      if record then
        bytes = bytes + #record
        if finals_name_matches(record, name, namePrefix) then
          out[#out + 1] = id
          out[#out + 1] = score
          out[#out + 1] = record
          out[#out + 1] = false
          found = found + 1
        end
      end
      if full() then
        break
      end
    end
  end
end
if not exhausted then
  out[1] = lastScore
  out[2] = lastId
end
return out
