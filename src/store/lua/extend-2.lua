--[[
  extend (fenced): keep the visibility deadline of long-running attempts in
  the future, so the reaper does not hand a live task to another worker.

  KEYS[1] run ZSET
  KEYS[2] lease STRING
  ARGV[1] lease token
  ARGV[2] new visibility deadline (ms epoch)
  ARGV[3..] task ids

  Returns "lease" if the token does not hold the lease, else how many run
  entries were extended (an id no longer in the run set is left alone).
]]
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 'lease'
end
local n = 0
for i = 3, #ARGV do
  n = n + redis.call('ZADD', KEYS[1], 'XX', 'CH', ARGV[2], ARGV[i])
end
return n
