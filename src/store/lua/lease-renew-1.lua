--[[
  lease-renew: extend a lease this token still holds.

  KEYS[1] lease STRING
  ARGV[1] token
  ARGV[2] ttl ms

  Returns 1 renewed, 0 lost (expired or taken by another node).
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
