--[[
  cold: where far-future tasks wait. Not a script of its own: scripts.ts puts
  this text in front of every script that reads or writes cold tasks.

  A task due later than the cold horizon (TICKWHEEL_COLD_AFTER_MS from when it
  was scheduled) is not put in `due` and `tasks`: a skiplist entry and a hash
  field cost ~280 bytes of Redis per task whatever its size. It is pushed onto
  the cold LIST of its hash slot, <cold prefix><slot>, as an entry
  "<id>\t<score>\t<spec json>" (ids are printable ASCII without space;
  compact JSON has no raw tab or newline). A list element holds one or more
  entries joined by "\n": the tasks one schedule call adds to a slot go in
  as one element, so the script pushes them without taking them apart.
  Redis packs list elements into listpacks, so a cold task costs its bytes
  and a few more: ~115 bytes for small args against ~290 in `due` and
  `tasks` (BENCHMARKS.md). The shard's owner moves
  entries into `due` and `tasks` (promote-4.lua) once they come within the
  horizon, visiting every list of the shard a few times per horizon, so the
  wheel and the claim never see the cold tier. A cold task is always attempt
  0: retries and reaped attempts go back to `due`, whatever their due time.

  Freshly generated ids need no idempotency check, so the store pushes those
  tasks with RPUSH in a MULTI, without a script (task-writes.ts schedule).

  A list holds ~1/16384 of the cold tasks (a few KB at a million): reading a
  whole list to find one id is cheap, and only cancel, reschedule, inspect,
  idempotency checks and listing do it.

  <count key> (a STRING counter per shard) holds how many tasks are cold.
]]

-- An entry's id, score and spec.
local function cold_parse(entry)
  local tab1 = string.find(entry, '\t', 1, true)
  local tab2 = string.find(entry, '\t', tab1 + 1, true)
  return string.sub(entry, 1, tab1 - 1), string.sub(entry, tab1 + 1, tab2 - 1), string.sub(entry, tab2 + 1)
end

-- A cold entry as the tasks hash record of a pending task.
local function cold_record(score, spec)
  return '0:' .. score .. '\n' .. spec
end

-- Where id's entry is: the list index (0-based) and text of its element,
-- the entry's first and last position in it, and its score and spec; or nil.
local function cold_find(key, id)
  local prefix = id .. '\t'
  local elements = redis.call('LRANGE', key, 0, -1)
  for i = 1, #elements do
    local element = elements[i]
    local at = string.find(element, prefix, 1, true)
    while at do
      -- An entry starts the element or follows a "\n"; "<id>\t" anywhere else is the end of a
      -- longer id or of a score.
      if at == 1 or string.byte(element, at - 1) == 10 then
        local stop = string.find(element, '\n', at, true)
        stop = stop and stop - 1 or #element
        local _, score, spec = cold_parse(string.sub(element, at, stop))
        return i - 1, element, at, stop, score, spec
      end
      at = string.find(element, prefix, at + 1, true)
    end
  end
  return nil
end

-- The score and spec of a cold task, or nil.
local function cold_get(key, id)
  local index, element, first, last, score, spec = cold_find(key, id)
  return score, spec
end

-- Removes a cold task; returns its score and spec, or nil if it is not there.
local function cold_remove(key, countKey, id)
  local index, element, first, last, score, spec = cold_find(key, id)
  if not index then
    return nil
  end
  -- The entry goes with the "\n" that joins it to the next entry, or else to the previous one.
  local rest
  if last < #element then
    rest = string.sub(element, 1, first - 1) .. string.sub(element, last + 2)
  else
    rest = string.sub(element, 1, math.max(0, first - 2))
  end
  if rest == '' then
    -- No two elements are equal (each holds distinct ids), so this removes exactly this one.
    redis.call('LREM', key, 1, element)
  else
    redis.call('LSET', key, index, rest)
  end
  redis.call('DECR', countKey)
  return score, spec
end

-- Pushes entries ("\n"-joined "<id>\t<score>\t<spec>") as one element.
local function cold_append(key, entries)
  redis.call('RPUSH', key, entries)
end
