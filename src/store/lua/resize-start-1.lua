--[[
  resize-start: begin changing the shard count (docs/resharding.md). The
  resize starts "preparing" (resize-move-1.lua says why). Only one
  resize runs at a time: a second request while one runs is refused, so two
  requests at once cannot both write the map (the script is atomic).

  KEYS[1] cluster config HASH ({config})
  ARGV[1] target shard count
  ARGV[2] now ms

  Returns { "started", new epoch } | { "busy", target of the running resize }
        | { "same", count } (the count is already the target)
]]
local current = tonumber(redis.call('HGET', KEYS[1], 'shards'))
local running = redis.call('HGET', KEYS[1], 'resizeTo')
if running then
  return { 'busy', running }
end
if current == tonumber(ARGV[1]) then
  return { 'same', tostring(current) }
end
local epoch = redis.call('HINCRBY', KEYS[1], 'shardMapEpoch', 1)
redis.call('HSET', KEYS[1], 'resizeTo', ARGV[1], 'resizePhase', 'preparing', 'resizeStartedAt', ARGV[2])
return { 'started', tostring(epoch) }
