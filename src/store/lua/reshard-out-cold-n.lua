--[[
  reshard-out-cold (fenced): take the cold lists (lib/cold.lua) of a run of
  moving slots out of a source shard into its outbox, one outbox entry per
  task, on their way to the same slot's cold list in the new shard
  (reshard-in-7.lua). Most lists are empty, so one call walks many slots;
  it stops early once it has taken ARGV[3] list elements.

  KEYS[1] lease STRING
  KEYS[2] outbox HASH (id -> bundle)
  KEYS[3] cold count STRING of the shard
  KEYS[4..] cold LIST of each slot, in order (all of the same shard)
  ARGV[1] lease token
  ARGV[2] new shard count (a slot's destination is slot mod it)
  ARGV[3] max list elements to take
  ARGV[4..] hash slot of each list (same order as KEYS[4..])

  Bundle ("\0"-joined): "c", dest, slot, cold entry ("<id>\t<score>\t<spec>")
  Returns { "lease" } | { moved, slots emptied from the first on, id, bundle, ... }
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return { 'lease' }
end
local budget = tonumber(ARGV[3])
local count = tonumber(ARGV[2])
local out = { 0, 0 }
local moved, emptied = 0, 0
for k = 4, #KEYS do
  local slot = ARGV[k]
  local dest = tostring(tonumber(slot) % count)
  local elements = redis.call('LRANGE', KEYS[k], 0, budget - 1)
  for _, element in ipairs(elements) do
    for entry in string.gmatch(element, '[^\n]+') do
      local id = string.sub(entry, 1, string.find(entry, '\t', 1, true) - 1)
      local bundle = 'c\0' .. dest .. '\0' .. slot .. '\0' .. entry
      redis.call('HSET', KEYS[2], id, bundle)
      out[#out + 1] = id
      out[#out + 1] = bundle
      moved = moved + 1
    end
  end
  if #elements > 0 then
    redis.call('LTRIM', KEYS[k], #elements, -1)
  end
  budget = budget - #elements
  if redis.call('LLEN', KEYS[k]) > 0 then
    break
  end
  emptied = emptied + 1
  if budget <= 0 then
    break
  end
end
if moved > 0 then
  redis.call('DECRBY', KEYS[3], moved)
end
out[1] = moved
out[2] = emptied
return out
