--[[
  node-leave: remove this node from the registry at once (graceful stop),
  so the others reassign its shards without waiting for the entry to
  expire. Only the instance that registered the entry may remove it.

  KEYS[1] nodes HASH  (id -> "<instance>\n<info json>")
  KEYS[2] alive ZSET  (id -> expiry ms)
  ARGV[1] node id
  ARGV[2] instance token

  Returns 1 removed, 0 not registered by this instance.
]]
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and string.sub(current, 1, #ARGV[2] + 1) == ARGV[2] .. '\n' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
return 0
