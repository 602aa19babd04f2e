--[[
  lease-acquire: take a free shard lease with a new fencing epoch.

  KEYS[1] lease STRING (token "nodeId:epoch", expires after the TTL)
  KEYS[2] epoch STRING (counter, INCR on every acquisition, never reset)
  ARGV[1] node id
  ARGV[2] ttl ms

  Returns { 1, token } when acquired, { 0, current token, its remaining ms }
  when another holder has it (a holder token of this node id means an older
  incarnation whose lease has not expired yet). The remaining ms let a node
  that wants the shard of a departed holder try again the moment it lapses.
]]
local current = redis.call('GET', KEYS[1])
if current then
  return { 0, current, redis.call('PTTL', KEYS[1]) }
end
local epoch = redis.call('INCR', KEYS[2])
local token = ARGV[1] .. ':' .. epoch
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return { 1, token }
