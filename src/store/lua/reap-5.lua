--[[
  reap (fenced): batches whose visibility deadline passed belong to a worker
  that went silent (its node died or froze); so do the batches of a node
  that is gone from the registry (ARGV[4]), reaped without waiting for it. Their tasks that still run in
  them go back to `due` at their original score, so they run again, first
  among what is due. A task still runs in its batch if its record is the
  one the claim returned (see claim-6.lua). The reaped attempt counts as
  used up (the record's attempt goes up by one), and the node dead-letters
  a task that has used up maxAttempts this way when it claims it next.

  KEYS[1] claims ZSET   (batch id -> visibility deadline)
  KEYS[2] batches HASH  (batch id -> claim reply "id\0record\0…")
  KEYS[3] due ZSET
  KEYS[4] tasks HASH
  KEYS[5] lease STRING
  ARGV[1] lease token
  ARGV[2] now ms: batches with deadline <= now are reaped
  ARGV[3] max tasks to look at per call (whole batches: can go over by one
          batch, at most a claim's size)
  ARGV[4] "" or the live node ids, "\n"-joined: then batches claimed by a node
          not among them (it died, or froze past its TTL: its registry entry
          lapsed) are reaped too, whatever their deadline. A batch id names
          its claimer ("<n>@<nodeId>:<epoch>", claim-6.lua); ids of earlier
          versions ("<n>") name none and wait for their deadline.

  Returns "lease" if the token does not hold the lease, else a flat array:
  "1" if more expired batches are left (call again) or "0", then pairs id,
  due score for every task put back.
]]
if redis.call('GET', KEYS[5]) ~= ARGV[1] then
  return 'lease'
end
local limit = tonumber(ARGV[3])
local out = { '0' }
local looked = 0
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, limit)
if ARGV[4] ~= nil and ARGV[4] ~= '' then
  local live = {}
  for id in string.gmatch(ARGV[4], '[^\n]+') do
    live[id] = true
  end
  -- Bounded: a shard has a few claimed batches at a time, rarely hundreds.
  local later = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], '+inf', 'LIMIT', 0, 1024)
  for _, batch in ipairs(later) do
    local claimer = string.match(batch, '^%d+@(.*):%d+$')
    if claimer and not live[claimer] then
      expired[#expired + 1] = batch
    end
  end
end
for _, batch in ipairs(expired) do
  if looked >= limit then
    out[1] = '1'
    break
  end
  local claimed = redis.call('HGET', KEYS[2], batch)
  if claimed and claimed ~= '' then
    local ids, records = claimed_split(claimed)
    looked = looked + #ids
    local current = redis.call('HMGET', KEYS[4], unpack(ids))
    for i = 1, #ids do
      local record = current[i]
      if record == records[i] and not redis.call('ZSCORE', KEYS[3], ids[i]) then
        local attempt, score = string.match(record, '^(%d+):([^\n]+)\n')
        local nl = string.find(record, '\n', 1, true)
        redis.call('HSET', KEYS[4], ids[i], (tonumber(attempt) + 1) .. ':' .. score .. string.sub(record, nl))
        redis.call('ZADD', KEYS[3], score, ids[i])
        out[#out + 1] = ids[i]
        out[#out + 1] = score
      end
    end
  end
  redis.call('ZREM', KEYS[1], batch)
  redis.call('HDEL', KEYS[2], batch)
end
if #expired >= limit then
  out[1] = '1'
end
return out
