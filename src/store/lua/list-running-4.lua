--[[
  list-running (read-only): one page of a shard's running tasks after a
  cursor, in claim order: batches by visibility deadline (then batch id),
  each in the order it was claimed. Running tasks have no index of their own
  (an entry per task cost more than the rest of claiming and finishing);
  a batch's claim reply lists its tasks, and those whose record is still
  the one claimed are running (see claim-6.lua). Bounded per call: at most
  ARGV[6] batches, ARGV[3] tasks and about ARGV[5] record bytes.

  KEYS[1] claims ZSET  (batch id -> visibility deadline)
  KEYS[2] batches HASH (batch id -> claim reply "id\0record\0…")
  KEYS[3] tasks HASH
  KEYS[4] err HASH     (id -> last error of an attempt that failed before)
  ARGV[1] cursor score: the deadline of the cursor's batch ("" = from the start)
  ARGV[2] cursor id: "<batch id>:<position in its reply>" ("" = from the start)
  ARGV[3] max tasks to return
  ARGV[4] name filter: the exact start of the spec json, '{"n":<json name>,'
          ("" = every name)
  ARGV[5] max record bytes to read (checked after each record)
  ARGV[6] max batches to look at

  Returns { next cursor score or "" when no batch is left, next cursor id,
  then per task: id, visibility deadline of its batch, record, last error
  or false }.
]]
local afterScore, afterId = ARGV[1], ARGV[2]
local limit, specPrefix, maxBytes, budget = tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local afterBatch, afterPosition = string.match(afterId, '^(.*):(%d+)$')
afterPosition = tonumber(afterPosition) or 0

local out = { '', '' }
local found, bytes, looked = 0, 0, 0
local candidates = redis.call('ZRANGEBYSCORE', KEYS[1], afterScore ~= '' and afterScore or '-inf', '+inf', 'WITHSCORES')
for c = 1, #candidates, 2 do
  local batch, score = candidates[c], candidates[c + 1]
  -- Batches at the cursor's deadline that sort before its batch were listed already.
  local skip = afterScore ~= '' and tonumber(score) == tonumber(afterScore) and afterBatch ~= nil and bytes_compare(batch, afterBatch) < 0
  if not skip then
    if looked >= budget or found >= limit or bytes >= maxBytes then
      out[1], out[2] = score, batch .. ':0'
      break
    end
    looked = looked + 1
    local from = (batch == afterBatch) and afterPosition or 0
    local ids, records = claimed_split(redis.call('HGET', KEYS[2], batch) or '')
    local current = #ids > 0 and redis.call('HMGET', KEYS[3], unpack(ids)) or {}
    for i = from + 1, #ids do
      if found >= limit or bytes >= maxBytes then
        out[1], out[2] = score, batch .. ':' .. (i - 1)
        break
      end
      local record = current[i]
      if record and record == records[i] then
        bytes = bytes + #record
        local nl = string.find(record, '\n', 1, true)
        if specPrefix == '' or string.sub(record, nl + 1, nl + #specPrefix) == specPrefix then
          out[#out + 1] = ids[i]
          out[#out + 1] = score
          out[#out + 1] = record
          out[#out + 1] = redis.call('HGET', KEYS[4], ids[i]) or false
          found = found + 1
        end
      end
    end
    if out[1] ~= '' then
      break
    end
  end
end
return out
