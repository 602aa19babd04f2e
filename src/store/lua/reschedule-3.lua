--[[
  reschedule: move a task that has not been claimed to a new due time,
  keeping its priority (the fractional part of its score).

  KEYS[1] due ZSET
  KEYS[2] tasks HASH
  KEYS[3] run ZSET
  ARGV[1] id
  ARGV[2] done-key prefix (final records: lib/finals.lua)
  ARGV[3] new due ms (integer)
  ARGV[4] wake channel ("" = no hint)
  ARGV[5] publish command ("PUBLISH" | "SPUBLISH")
  ARGV[6] wake horizon score

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
if redis.call('ZSCORE', KEYS[3], id) then
  return { 'running', redis.call('HGET', KEYS[2], id) }
end
local final = finals_get(finals_slots(ARGV[2]), id)
if final then
  return { 'final', final }
end
return { 'missing' }
