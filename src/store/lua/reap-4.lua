--[[
  reap (fenced): attempts whose visibility deadline passed belong to a worker
  that went silent (its node died or froze). Put them back in `due` at their
  original score so they run again, first among what is due. The attempt
  counter is kept; the claim that follows counts the next attempt, and the
  node dead-letters a task that has used up maxAttempts this way.

  KEYS[1] run ZSET
  KEYS[2] due ZSET
  KEYS[3] tasks HASH
  KEYS[4] lease STRING
  ARGV[1] lease token
  ARGV[2] now ms: entries with deadline <= now are reaped
  ARGV[3] max entries per call (bounded so the script stays short)

  Returns "lease" if the token does not hold the lease, else a flat array of
  pairs: id, due score, for every task put back.
]]
if redis.call('GET', KEYS[4]) ~= ARGV[1] then
  return 'lease'
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[1], id)
  local record = redis.call('HGET', KEYS[3], id)
  if record then
    local score = string.match(record, '^%d+:([^\n]+)\n')
    redis.call('ZADD', KEYS[2], score, id)
    out[#out + 1] = id
    out[#out + 1] = score
  end
end
return out
