--[[
  claim (fenced): move tasks due before a score from `due` to `run` with a
  visibility deadline, counting one more attempt, and return their records.
  Only the current lease holder may claim: a node that lost its lease (paused,
  partitioned) gets "lease" back and changes nothing.

  KEYS[1] due ZSET
  KEYS[2] tasks HASH
  KEYS[3] run ZSET    (id -> visibility deadline ms)
  KEYS[4] lease STRING (owner token)
  ARGV[1] lease token of the caller
  ARGV[2] exclusive upper score: claims every task with score < ARGV[2]
  ARGV[3] max tasks to claim (the pool's free slots; kept moderate, ~1,000,
          because one long script stalls every other client of this Redis)
  ARGV[4] visibility deadline (ms epoch) for the claimed attempts

  Returns "lease" if the token does not hold the lease, else a flat array of
  triples: id, due score, record (attempt already incremented).
]]
if redis.call('GET', KEYS[4]) ~= ARGV[1] then
  return 'lease'
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
if #due == 0 then
  return {}
end
local out = {}
local ids = {}
local runArgs = {}
for i = 1, #due, 2 do
  local id, score = due[i], due[i + 1]
  ids[#ids + 1] = id
  local record = redis.call('HGET', KEYS[2], id)
  if record then
    local nl = string.find(record, '\n', 1, true)
    local attempt = tonumber(string.match(record, '^(%d+):')) + 1
    record = attempt .. ':' .. score .. string.sub(record, nl)
    redis.call('HSET', KEYS[2], id, record)
    runArgs[#runArgs + 1] = ARGV[4]
    runArgs[#runArgs + 1] = id
    out[#out + 1] = id
    out[#out + 1] = score
    out[#out + 1] = record
  end
end
redis.call('ZREM', KEYS[1], unpack(ids))
if #runArgs > 0 then
  redis.call('ZADD', KEYS[3], unpack(runArgs))
end
return out
