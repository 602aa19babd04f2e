--[[
  reschedule: move a task that has not been claimed to a new due time,
  keeping its priority (the fractional part of its score). A cold task
  (lib/cold.lua) moves to `due` if its new time is within the cold horizon and
  stays cold otherwise; a task in `due` stays there whatever its new time.

  KEYS[1] due ZSET
  KEYS[2] tasks HASH
  KEYS[3] cold count STRING
  ARGV[1] id
  ARGV[2] done-key prefix (final records: lib/finals.lua)
  ARGV[3] new due ms (integer)
  ARGV[4] wake channel ("" = no hint)
  ARGV[5] publish command ("PUBLISH" | "SPUBLISH")
  ARGV[6] wake horizon score
  ARGV[7] cold list of the id's hash slot
  ARGV[8] cold horizon score ("" = no cold tier)

  Returns { "rescheduled", new score, record } | { "running", record } |
          { "final", final json } | { "missing" }
]]
local id = ARGV[1]
if redis.call('ZSCORE', KEYS[1], id) then
  local record = redis.call('HGET', KEYS[2], id)
  local attempt, oldScore = string.match(record, '^(%d+):([^\n]+)\n')
  local fraction = string.match(oldScore, '(%.%d+)$') or ''
  local score = ARGV[3] .. fraction
  local nl = string.find(record, '\n', 1, true)
  record = attempt .. ':' .. score .. string.sub(record, nl)
  redis.call('HSET', KEYS[2], id, record)
  redis.call('ZADD', KEYS[1], score, id)
  if ARGV[4] ~= '' and tonumber(score) <= tonumber(ARGV[6]) then
    redis.call(ARGV[5], ARGV[4], id .. '|' .. score)
  end
  return { 'rescheduled', score, record }
end
-- Not in `due`, but its record is there: it is running (see claim-6.lua).
local running = redis.call('HGET', KEYS[2], id)
if running then
  return { 'running', running }
end
local coldScore, coldSpec = cold_remove(ARGV[7], KEYS[3], id)
if coldScore then
  local score = ARGV[3] .. (string.match(coldScore, '(%.%d+)$') or '')
  local record = cold_record(score, coldSpec)
  if ARGV[8] ~= '' and tonumber(score) >= tonumber(ARGV[8]) then
    cold_append(ARGV[7], id .. '\t' .. score .. '\t' .. coldSpec)
    redis.call('INCR', KEYS[3])
  else
    redis.call('HSET', KEYS[2], id, record)
    redis.call('ZADD', KEYS[1], score, id)
    if ARGV[4] ~= '' and tonumber(score) <= tonumber(ARGV[6]) then
      redis.call(ARGV[5], ARGV[4], id .. '|' .. score)
    end
  end
  return { 'rescheduled', score, record }
end
return finals_reply(ARGV[2], id)
