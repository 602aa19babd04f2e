--[[
  extend (fenced): keep the visibility deadline of batches with long-running
  attempts in the future, so the reaper does not hand a live task to another
  worker. A batch's deadline covers all its attempts.

  KEYS[1] claims ZSET (batch id -> visibility deadline)
  KEYS[2] lease STRING
  ARGV[1] lease token
  ARGV[2] new visibility deadline (ms epoch)
  ARGV[3..] batch ids

  Returns "lease" if the token does not hold the lease, else how many
  batches were extended (one already reaped or ended is left alone).
]]
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 'lease'
end
local members = {}
for i = 3, #ARGV do
  members[#members + 1] = ARGV[2]
  members[#members + 1] = ARGV[i]
end
return redis.call('ZADD', KEYS[1], 'XX', 'CH', unpack(members))
