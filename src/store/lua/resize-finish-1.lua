--[[
  resize-finish: make the target count the stable map once every source
  shard reported its slots moved (the caller checked). Compare-and-set on
  the epoch: of several nodes finishing the same resize, one writes.

  KEYS[1] cluster config HASH ({config})
  ARGV[1] epoch of the resize being finished
  ARGV[2] now ms

  Returns the new epoch, or 0 if the resize was already finished.
]]
local running = redis.call('HGET', KEYS[1], 'resizeTo')
if not running or redis.call('HGET', KEYS[1], 'resizePhase') ~= 'moving' or redis.call('HGET', KEYS[1], 'shardMapEpoch') ~= ARGV[1] then
  return 0
end
local previous = redis.call('HGET', KEYS[1], 'shards')
local epoch = redis.call('HINCRBY', KEYS[1], 'shardMapEpoch', 1)
redis.call('HSET', KEYS[1], 'shards', running, 'previousShards', previous, 'resizeFinishedAt', ARGV[2])
redis.call('HDEL', KEYS[1], 'resizeTo', 'resizePhase')
return epoch
