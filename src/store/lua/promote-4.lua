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
  -- Entries are "<id>\t<score>\t<spec>" joined by "\n" within an element. Most are not due:
  -- for those only the score is cut out (no string per entry); what stays is kept as the
  -- stretches of text between the promoted entries.
  local kept = {}
  local changed = false
  for j = 1, #elements do
    local element = elements[j]
    local from, keptFrom = 1, 1
    local length = #element
    while from <= length do
      local tab1 = string.find(element, '\t', from, true)
      local tab2 = string.find(element, '\t', tab1 + 1, true)
      local stop = string.find(element, '\n', tab2 + 1, true) or (length + 1)
      local score = string.sub(element, tab1 + 1, tab2 - 1)
      if tonumber(score) < upTo then
        local id = string.sub(element, from, tab1 - 1)
        fields[#fields + 1] = id
        fields[#fields + 1] = cold_record(score, string.sub(element, tab2 + 1, stop - 1))
        members[#members + 1] = score
        members[#members + 1] = id
        moved = moved + 1
        changed = true
        if from > keptFrom then
          kept[#kept + 1] = string.sub(element, keptFrom, from - 2)
        end
        keptFrom = stop + 1
        -- unpack takes a few thousand values at most.
        if #fields >= 2000 then
          flush()
        end
      end
      from = stop + 1
    end
    if keptFrom <= length then
      kept[#kept + 1] = keptFrom == 1 and element or string.sub(element, keptFrom)
    end
  end
  -- The list is rewritten only if something moved, its kept stretches as elements.
  if changed then
    redis.call('DEL', key)
    for j = 1, #kept, 1000 do
      redis.call('RPUSH', key, unpack(kept, j, math.min(#kept, j + 999)))
    end
  end
end
flush()
if moved > 0 then
  redis.call('DECRBY', KEYS[3], moved)
end
return moved
