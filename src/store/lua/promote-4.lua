--[[
  promote (fenced): move the cold tasks of some hash slots that are due before
  a score into `due` and `tasks`, where the wheel and the claim find them (see
  lib/cold.lua). Only the lease holder promotes, like it claims.

  KEYS[1] due ZSET
  KEYS[2] tasks HASH
  KEYS[3] cold count STRING
  KEYS[4] lease STRING
  ARGV[1] lease token
  ARGV[2] cold prefix of this shard
  ARGV[3] score: entries with a lower score are promoted
  ARGV[4..] the hash slots whose cold lists to look at (slots of this shard)

  Returns "lease" if the token does not hold the lease, else the number of
  tasks promoted.
]]
if redis.call('GET', KEYS[4]) ~= ARGV[1] then
  return 'lease'
end
local upTo = tonumber(ARGV[3])
local fields, members = {}, {}
local moved = 0
local function flush()
  if #fields > 0 then
    redis.call('HSET', KEYS[2], unpack(fields))
    redis.call('ZADD', KEYS[1], unpack(members))
    fields, members = {}, {}
  end
end
for i = 4, #ARGV do
  local key = ARGV[2] .. ARGV[i]
  local elements = redis.call('LRANGE', key, 0, -1)
  local kept = {}
  local changed = false
  for j = 1, #elements do
    for entry in string.gmatch(elements[j], '[^\n]+') do
      local id, score, spec = cold_parse(entry)
      if tonumber(score) < upTo then
        fields[#fields + 1] = id
        fields[#fields + 1] = cold_record(score, spec)
        members[#members + 1] = score
        members[#members + 1] = id
        moved = moved + 1
        changed = true
        -- unpack takes a few thousand values at most.
        if #fields >= 2000 then
          flush()
        end
      else
        kept[#kept + 1] = entry
      end
    end
  end
  -- The list is rewritten only if something moved, as elements of up to 64 entries.
  if changed then
    redis.call('DEL', key)
    for j = 1, #kept, 64 do
      redis.call('RPUSH', key, table.concat(kept, '\n', j, math.min(#kept, j + 63)))
    end
  end
end
flush()
if moved > 0 then
  redis.call('DECRBY', KEYS[3], moved)
end
return moved
