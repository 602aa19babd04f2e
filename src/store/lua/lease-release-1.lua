--[[
  lease-release: give a lease up at once (graceful stop, rebalancing), so the
  next owner need not wait for the TTL. Only the holder may release it.

  KEYS[1] lease STRING
  ARGV[1] token

  Returns 1 released, 0 not held by this token.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
