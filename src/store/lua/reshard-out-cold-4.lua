--[[
  reshard-out-cold (fenced): take up to ARGV[4] elements of one moving
  slot's cold list (lib/cold.lua) out of a source shard into its outbox,
  one outbox entry per task, on their way to the same slot's cold list in
  the new shard (reshard-in-5.lua).

  KEYS[1] lease STRING
  KEYS[2] outbox HASH (id -> bundle)
  KEYS[3] cold count STRING of the shard
  KEYS[4] cold LIST of the slot
  ARGV[1] lease token
  ARGV[2] destination shard
  ARGV[3] hash slot
  ARGV[4] max list elements to take

  Bundle ("\0"-joined): "c", dest, slot, cold entry ("<id>\t<score>\t<spec>")
  Returns { "lease" } | { moved, elements left, id, bundle, ... }
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return { 'lease' }
end
local n = tonumber(ARGV[4])
local elements = redis.call('LRANGE', KEYS[4], 0, n - 1)
local out = { 0, 0 }
local moved = 0
for _, element in ipairs(elements) do
  for entry in string.gmatch(element, '[^\n]+') do
    local id = string.sub(entry, 1, string.find(entry, '\t', 1, true) - 1)
    local bundle = 'c\0' .. ARGV[2] .. '\0' .. ARGV[3] .. '\0' .. entry
    redis.call('HSET', KEYS[2], id, bundle)
    out[#out + 1] = id
    out[#out + 1] = bundle
    moved = moved + 1
  end
end
if #elements > 0 then
  redis.call('LTRIM', KEYS[4], #elements, -1)
  redis.call('DECRBY', KEYS[3], moved)
end
out[1] = moved
out[2] = redis.call('LLEN', KEYS[4])
return out
