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

  Returns "lease" if the token does not hold the lease, else one string: id
  and record (attempt already incremented; it starts "attempt:score\n") of
  each claimed task in due order, all joined by "\0" ("" when none). One
  string, because the client decodes one reply element far faster than two
  per task; "\0" occurs in neither ids nor records.
]]
if redis.call('GET', KEYS[4]) ~= ARGV[1] then
  return 'lease'
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
if #due == 0 then
  return ''
end
-- One HMGET and one HSET for the whole batch, not a call per task.
local ids = {}
for i = 1, #due, 2 do
  ids[#ids + 1] = due[i]
end
local records = redis.call('HMGET', KEYS[2], unpack(ids))
local out = {}
local updates = {}
local runArgs = {}
for i = 1, #ids do
  local id, score, record = ids[i], due[2 * i], records[i]
  if record then
    local colon = string.find(record, ':', 1, true)
    local nl = string.find(record, '\n', colon, true)
    record = (tonumber(string.sub(record, 1, colon - 1)) + 1) .. ':' .. score .. string.sub(record, nl)
    updates[#updates + 1] = id
    updates[#updates + 1] = record
    runArgs[#runArgs + 1] = ARGV[4]
    runArgs[#runArgs + 1] = id
    out[#out + 1] = id
    out[#out + 1] = record
  end
end
-- The claimed entries are the lowest #ids ranks: removing by rank walks the
-- skiplist once instead of looking up each member.
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, #ids - 1)
if #runArgs > 0 then
  redis.call('HSET', KEYS[2], unpack(updates))
  redis.call('ZADD', KEYS[3], unpack(runArgs))
end
return table.concat(out, '\0')
