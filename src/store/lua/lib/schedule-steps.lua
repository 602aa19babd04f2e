--[[
  The steps the schedule scripts share (schedule-write, schedule-write-many,
  schedule-plant): reading a schedule's version, storing it with its wake
  time, taking back occurrences still waiting, and planting occurrences.
  Needs lib/packed.lua (packed_reader) before it.
]]

-- The stored version of schedule `name` ("<version>\t..."), "0" when absent.
local function schedule_version(schedulesKey, name)
  local current = redis.call('HGET', schedulesKey, name)
  if not current then
    return '0'
  end
  return string.sub(current, 1, string.find(current, '\t', 1, true) - 1)
end

-- Writes (or, with stored "", deletes) schedule `name` and sets (or, with
-- wake "", clears) its wake time.
local function schedule_store(schedulesKey, wakeKey, name, stored, wake)
  if stored == '' then
    redis.call('HDEL', schedulesKey, name)
  else
    redis.call('HSET', schedulesKey, name, stored)
  end
  if wake == '' then
    redis.call('ZREM', wakeKey, name)
  else
    redis.call('ZADD', wakeKey, wake, name)
  end
end

-- Takes back the occurrences (packed ids) still waiting in `due`: not
-- claimed, so nothing runs them; a claimed or ended one is left alone.
local function schedule_withdraw(due_key, tasks_key, packed)
  local field, more = packed_reader(packed)
  while more() do
    local id = field()
    if redis.call('ZREM', due_key, id) == 1 then
      redis.call('HDEL', tasks_key, id)
    end
  end
end

-- Plants packed (id, due score, record) occurrences that have no record
-- (pending or running) and are not in `ended` (a set of ids whose final
-- record exists: they ran already). Each planted id due by `horizon`
-- (nil: none) is added to `hints` as "id|score". Returns how many it planted.
local function schedule_plant(due_key, tasks_key, packed, ended, horizon, hints)
  local planted = 0
  local field, more = packed_reader(packed)
  while more() do
    local id = field()
    local score = field()
    local record = field()
    if not ended[id] and redis.call('HSETNX', tasks_key, id, record) == 1 then
      redis.call('ZADD', due_key, score, id)
      planted = planted + 1
      if horizon and tonumber(score) <= horizon then
        hints[#hints + 1] = id .. '|' .. score
      end
    end
  end
  return planted
end
