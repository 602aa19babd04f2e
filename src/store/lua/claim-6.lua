--[[
  claim (fenced): take the tasks due before a score out of `due` as one
  batch: the batch gets a number, one visibility deadline in `claims`, and
  keeps what this script returns in `batches`. Only the current lease
  holder may claim: a node that lost its lease (paused, partitioned) gets
  "lease" back and changes nothing.

  Nothing is written per task. A running task is one whose record is in
  `tasks` but whose id is not in `due`; it runs in the batch whose reply
  holds its record exactly as it is now, because every way back to `due`
  changes the record (retry and reap count an attempt, park takes the task
  out of its batch's reply). The record's attempt counts the attempts used
  up, so the attempt being claimed is that number plus one. At a burst's
  rate, an index entry or a rewritten record per task cost more Redis time
  than the rest of claiming and finishing together.

  KEYS[1] due ZSET
  KEYS[2] tasks HASH
  KEYS[3] claims ZSET   (batch id -> visibility deadline ms)
  KEYS[4] batches HASH  (batch id -> this script's reply string)
  KEYS[5] batch counter STRING
  KEYS[6] lease STRING (owner token)
  ARGV[1] lease token of the caller
  ARGV[2] exclusive upper score: claims every task with score < ARGV[2]
  ARGV[3] max tasks to claim (the pool's free slots; kept moderate, ~1,000,
          because one long script stalls every other client of this Redis)
  ARGV[4] visibility deadline (ms epoch) of the batch

  Returns "lease" if the token does not hold the lease; "" when nothing is
  due; else { batch id ("<n>@<lease token>"), one string: id and record ("attempt:score\n<spec>")
  of each claimed task in due order, all joined by "\0" }. One string,
  because the client decodes one reply element far faster than two per
  task; "\0" occurs in neither ids nor records.
]]
if redis.call('GET', KEYS[6]) ~= ARGV[1] then
  return 'lease'
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
if #ids == 0 then
  return ''
end
-- One HMGET for the whole batch, not a call per task.
local records = redis.call('HMGET', KEYS[2], unpack(ids))
-- The claimed entries are the lowest #ids ranks: removing by rank walks the
-- skiplist once instead of looking up each member.
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, #ids - 1)
-- The batch id names the lease it was claimed under ("<n>@<nodeId>:<epoch>"): a reaper can tell
-- the batches of a node that is gone from the registry and take them back at once (reap-5.lua).
local batch = redis.call('INCR', KEYS[5]) .. '@' .. ARGV[1]
local out = {}
for i = 1, #ids do
  local record = records[i]
  -- A due entry without a record (never expected) is dropped with the claim.
  if record then
    out[#out + 1] = ids[i]
    out[#out + 1] = record
  end
end
if #out == 0 then
  return ''
end
local claimed = table.concat(out, '\0')
redis.call('HSET', KEYS[4], batch, claimed)
redis.call('ZADD', KEYS[3], ARGV[4], batch)
return { batch, claimed }
