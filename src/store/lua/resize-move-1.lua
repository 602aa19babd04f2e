--[[
  resize-move: a prepared resize starts moving slots (docs/resharding.md).
  A resize is first "preparing": writers keep the old map while the nodes
  take the new shards' leases, so nothing is written to a shard no one
  owns; once every shard is leased a node calls this. Compare-and-set on
  the epoch: of several nodes, one moves the resize on.

  KEYS[1] cluster config HASH ({config})
  ARGV[1] epoch of the preparing resize

  Returns the new epoch, or 0 if the resize is not that preparing one.
]]
if redis.call('HGET', KEYS[1], 'resizePhase') ~= 'preparing' or redis.call('HGET', KEYS[1], 'shardMapEpoch') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'resizePhase', 'moving')
return redis.call('HINCRBY', KEYS[1], 'shardMapEpoch', 1)
