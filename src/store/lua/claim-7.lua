--[[
  claim (fenced): take the tasks due before a score out of `due` as one
  batch: the batch gets a number, one visibility deadline in `claims`, and
  keeps what this script returns in `batches` (for the reaper); each task
  gets one `running` entry naming the batch. Only the current lease holder
  may claim: a node that lost its lease (paused, partitioned) gets "lease"
  back and changes nothing.

  The task records are not rewritten: a record's attempt counts the attempts
  used up (failed, or reaped when their worker died), so the attempt being
  claimed is that number plus one. Per-task work is what limits a burst, and
  a ZSET entry per running task, or a rewritten record, each cost more than
  the rest of the claim and finish together.

  KEYS[1] due ZSET
  KEYS[2] tasks HASH
  KEYS[3] claims ZSET   (batch id -> visibility deadline ms)
  KEYS[4] batches HASH  (batch id -> this script's reply string)
  KEYS[5] running HASH  (id -> batch id)
  KEYS[6] batch counter STRING
  KEYS[7] lease STRING (owner token)
  ARGV[1] lease token of the caller
  ARGV[2] exclusive upper score: claims every task with score < ARGV[2]
  ARGV[3] max tasks to claim (the pool's free slots; kept moderate, ~1,000,
          because one long script stalls every other client of this Redis)
  ARGV[4] visibility deadline (ms epoch) of the batch

  Returns "lease" if the token does not hold the lease; "" when nothing is
  due; else { batch id, one string: id and record ("attempt:score\n<spec>")
  of each claimed task in due order, all joined by "\0" }. One string,
  because the client decodes one reply element far faster than two per
  task; "\0" occurs in neither ids nor records.
]]
if redis.call('GET', KEYS[7]) ~= ARGV[1] then
  return 'lease'
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
if #ids == 0 then
  return ''
end
-- One HMGET and one HSET for the whole batch, not a call per task.
local records = redis.call('HMGET', KEYS[2], unpack(ids))
-- The claimed entries are the lowest #ids ranks: removing by rank walks the
-- skiplist once instead of looking up each member.
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, #ids - 1)
local batch = tostring(redis.call('INCR', KEYS[6]))
local out = {}
local owners = {}
for i = 1, #ids do
  local record = records[i]
  -- A due entry without a record (never expected) is dropped with the claim.
  if record then
    out[#out + 1] = ids[i]
    out[#out + 1] = record
    owners[#owners + 1] = ids[i]
    owners[#owners + 1] = batch
  end
end
if #out == 0 then
  return ''
end
local claimed = table.concat(out, '\0')
redis.call('HSET', KEYS[5], unpack(owners))
redis.call('HSET', KEYS[4], batch, claimed)
redis.call('ZADD', KEYS[3], ARGV[4], batch)
return { batch, claimed }
