--[[
  reshard-ack (fenced): the destination has every bundle of these ids
  (reshard-in-7.lua answered): clear them from the source's outbox and
  count them as moved in the shard's progress.

  KEYS[1] lease STRING
  KEYS[2] outbox HASH
  KEYS[3] reshard HASH (progress, see reshard-state-3.lua)
  ARGV[1] lease token
  ARGV[2..] ids

  Returns "lease" | ids cleared
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 'lease'
end
local cleared = 0
for i = 2, #ARGV do
  cleared = cleared + redis.call('HDEL', KEYS[2], ARGV[i])
end
redis.call('HINCRBY', KEYS[3], 'moved', cleared)
return cleared
