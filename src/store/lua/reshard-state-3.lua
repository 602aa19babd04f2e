--[[
  reshard-state (fenced): a source shard's progress in the resize of one
  epoch (docs/resharding.md), kept in Redis so a new owner resumes where the
  last one stopped. The first call of an epoch starts the shard's move: its
  progress is reset and its write fence (mapepoch) raised to the epoch, so a
  producer still using the map before the resize can no longer schedule into
  this shard (schedule-4.lua answers "stale" and the producer reloads the
  map); what such producers wrote before the fence is found by the scans.

  KEYS[1] lease STRING of the shard
  KEYS[2] reshard HASH (epoch, phase, cursor, slotIndex, moved, passMoving)
  KEYS[3] mapepoch STRING (lowest map epoch a writer must hold)
  ARGV[1] lease token
  ARGV[2] epoch of the resize
  ARGV[3..] field, value pairs to set (optional)

  Returns { "lease" } if the token does not hold the lease, { "stale" } if
  the shard's progress is of a later resize than ARGV[2] (a node whose map
  is behind must not reset it), else the progress HASH as a flat field,
  value list.
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return { 'lease' }
end
local stored = redis.call('HGET', KEYS[2], 'epoch')
if stored and tonumber(stored) > tonumber(ARGV[2]) then
  return { 'stale' }
end
if stored ~= ARGV[2] then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], 'epoch', ARGV[2], 'phase', 'cold', 'cursor', '0', 'slotIndex', '0', 'moved', '0', 'passMoving', '0')
end
local fence = tonumber(redis.call('GET', KEYS[3]) or '0')
if fence < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[3], ARGV[2])
end
if #ARGV > 2 then
  redis.call('HSET', KEYS[2], unpack(ARGV, 3))
end
return redis.call('HGETALL', KEYS[2])
