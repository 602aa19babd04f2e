--[[
  console: the indexes that let an operator list tasks in every state (issue
  15), and the bounded attempt history a task page shows. Not a script of its
  own: scripts.ts puts this text in front of the scripts that write them.

  Every key here is derived from the shard's done-key prefix (lib/finals.lua),
  so it shares the shard's hash tag and no script's key count changes:

  <done prefix>by:failed   ZSET id -> due score of its retry: tasks waiting
                           for their next attempt.
  <done prefix>by:<state>  for succeeded, cancelled, expired: ZSET of chunks,
                           member "<id> <id> ...", the ids one call ended in
                           that state, score the ms it ran at (ids hold no
                           spaces). One member per call, not per task: at a
                           burst's rate a skiplist entry per finished task was
                           a fifth of the finish script's time (BENCHMARKS.md,
                           the fifteenth session). A chunk of one id is what
                           the index held before chunks, so an index written
                           by an older node reads the same. Listing expands a
                           score's chunks and orders their ids byte by byte
                           (list-finished-1.lua), so pages come in (ms, id)
                           order as they did. Every finished index is trimmed
                           by score whenever it is written to,
                           and the key expires with its newest final record,
                           so an index never outlives what it points at and
                           nothing scans to clean it. Listing skips ids whose
                           record is gone (a record's slot can expire up to
                           1/16 of its ttl before its index entry is trimmed).
  <done prefix>attempts    HASH id -> the last CONSOLE_HISTORY failed attempts
                           of a pending task, "<ms>\t<attempt>\t<error>" lines.
                           When the task ends, its history moves into the final
                           record's slot hash (field "<id> attempts": a space
                           is not allowed in ids), so it expires with it.
]]

-- Failed attempts kept per task: a page shows them all; older ones add nothing.
local CONSOLE_HISTORY = 10
-- Error text kept per attempt in the history (the last error itself is kept whole elsewhere).
local CONSOLE_ERROR_BYTES = 1000

local function console_index(donePrefix, state)
  return donePrefix .. 'by:' .. state
end

local function console_history_key(donePrefix)
  return donePrefix .. 'attempts'
end

-- Adds the ids one call ended in `state` at `nowMs` (the caller's clock, as
-- the slot expiries are) as one chunk, drops chunks of calls before
-- `trimBelow`, and keeps the key at least until `expiry` (the slot expiry of
-- the newest record it points at; only ever pushed later, as nodes may keep
-- records for different retentions).
local function console_index_add(donePrefix, state, ids, trimBelow, expiry, nowMs)
  local key = console_index(donePrefix, state)
  redis.call('ZADD', key, nowMs, table.concat(ids, ' '))
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. trimBelow)
  if redis.call('PTTL', key) < tonumber(expiry) - nowMs then
    redis.call('PEXPIREAT', key, expiry)
  end
end

-- Appends one failed attempt to a pending task's history, keeping the last CONSOLE_HISTORY.
local function console_history_append(donePrefix, id, attempt, error, nowMs)
  local key = console_history_key(donePrefix)
  local line = nowMs .. '\t' .. attempt .. '\t' .. string.gsub(string.sub(error, 1, CONSOLE_ERROR_BYTES), '\n', ' ')
  local old = redis.call('HGET', key, id)
  local lines = { line }
  if old then
    local kept = {}
    for existing in string.gmatch(old, '[^\n]+') do
      kept[#kept + 1] = existing
    end
    lines = {}
    for i = math.max(1, #kept - CONSOLE_HISTORY + 2), #kept do
      lines[#lines + 1] = kept[i]
    end
    lines[#lines + 1] = line
  end
  redis.call('HSET', key, id, table.concat(lines, '\n'))
end

-- Moves the histories of ended ids into the slot hash that keeps their final
-- records (so they expire together), and forgets them as pending.
local function console_history_keep(donePrefix, slotKey, ids)
  local key = console_history_key(donePrefix)
  local values = redis.call('HMGET', key, unpack(ids))
  local fields = {}
  for i = 1, #ids do
    if values[i] then
      fields[#fields + 1] = ids[i] .. ' attempts'
      fields[#fields + 1] = values[i]
    end
  end
  if #fields > 0 then
    redis.call('HSET', slotKey, unpack(fields))
    redis.call('HDEL', key, unpack(ids))
  end
end
