--[[
  schedule-shard: storing new tasks on one shard, the body of schedule-4.lua
  (one shard per call) and schedule-n.lua (several shards of one Redis
  server per call). Not a script of its own: scripts.ts puts this text in
  front of both (after lib/packed.lua, lib/cold.lua and lib/finals.lua).

  schedule_shard(k, a) reads the shard's four keys at KEYS[k + 1 .. k + 4]
  and its eleven arguments at ARGV[a + 1 .. a + 11], laid out as
  schedule-4.lua's header describes them, and returns that script's reply
  for the shard.
]]
local function schedule_shard(k, a)
  local fence = redis.call('GET', KEYS[k + 4])
  if fence and tonumber(fence) > tonumber(ARGV[a + 11]) then
    return { 0, 'stale', fence }
  end
  local out = {}
  local horizon = tonumber(ARGV[a + 4])
  local coldFrom = ARGV[a + 7] ~= '' and tonumber(ARGV[a + 7]) or nil
  local coldPrefix = ARGV[a + 8]
  local hints = {}
  local position = 0
  local fresh = ARGV[a + 6] == '1'
  local field, more = packed_reader(ARGV[a + 5])
  -- Writes go out as one HSET and one ZADD per call (at most SCHEDULE_CHUNK
  -- tasks, well inside unpack's limit), and one RPUSH per cold list: a
  -- redis.call per task and command was most of this script's time.
  local fields, members = {}, {}
  local coldEntries, coldSlots, coldCount = {}, {}, 0
  local hinting = ARGV[a + 2] ~= ''
  local function add(id, slot, score, record)
    if coldFrom and tonumber(score) >= coldFrom then
      local entries = coldEntries[slot]
      if not entries then
        entries = {}
        coldEntries[slot] = entries
        coldSlots[#coldSlots + 1] = slot
      end
      entries[#entries + 1] = id .. '\t' .. score .. '\t' .. string.sub(record, string.find(record, '\n', 1, true) + 1)
      coldCount = coldCount + 1
      return
    end
    fields[#fields + 1] = id
    fields[#fields + 1] = record
    members[#members + 1] = score
    members[#members + 1] = id
    if hinting and tonumber(score) <= horizon then
      hints[#hints + 1] = id .. '|' .. score
    end
  end
  if fresh then
    -- Ids the caller just generated cannot exist: no lookups, one pass.
    while more() do
      local id = field()
      local slot = field()
      local score = field()
      add(id, slot, score, field())
    end
  else
    local entries, ids = {}, {}
    while more() do
      position = position + 1
      local id = field()
      local slot = field()
      local score = field()
      ids[position] = id
      entries[position] = { id, slot, score, field() }
    end
    local existing = position > 0 and redis.call('HMGET', KEYS[k + 2], unpack(ids)) or {}
    local finals = position > 0 and finals_get_many(finals_slots(ARGV[a + 1]), ids) or {}
    -- An id given twice in one call: the first creates, the second finds it.
    local added = {}
    for i = 1, position do
      local id, slot, score, record = entries[i][1], entries[i][2], entries[i][3], entries[i][4]
      local stored = existing[i] or added[id]
      if not stored and coldPrefix ~= '' then
        local coldScore, coldSpec = cold_get(coldPrefix .. slot, id)
        if coldScore then
          stored = cold_record(coldScore, coldSpec)
        end
      end
      local final = not stored and finals[i]
      if stored then
        out[#out + 1] = i
        out[#out + 1] = 'p'
        out[#out + 1] = stored
      elseif final then
        out[#out + 1] = i
        out[#out + 1] = 'f'
        out[#out + 1] = final
      else
        added[id] = record
        add(id, slot, score, record)
      end
    end
  end
  if #fields > 0 then
    redis.call('HSET', KEYS[k + 2], unpack(fields))
    redis.call('ZADD', KEYS[k + 1], unpack(members))
  end
  for _, slot in ipairs(coldSlots) do
    cold_append(coldPrefix .. slot, table.concat(coldEntries[slot], '\n'))
  end
  if ARGV[a + 9] ~= '' then
    local coldField, coldMore = packed_reader(ARGV[a + 9])
    while coldMore() do
      local key = coldPrefix .. coldField()
      cold_append(key, coldField())
    end
    coldCount = coldCount + tonumber(ARGV[a + 10])
  end
  if coldCount > 0 then
    redis.call('INCRBY', KEYS[k + 3], coldCount)
  end
  if #hints > 0 then
    redis.call(ARGV[a + 3], ARGV[a + 2], table.concat(hints, '\n'))
  end
  return out
end
