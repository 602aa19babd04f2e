--[[
  inspect (read-only): everything GET /v1/tasks/:id needs, read atomically so
  a task moving between sets is never seen in two states or none.

  KEYS[1] due ZSET
  KEYS[2] tasks HASH
  KEYS[3] err HASH
  KEYS[4] progress HASH
  ARGV[1] id
  ARGV[2] done-key prefix (final records: lib/finals.lua)
  ARGV[3] cold list of the id's hash slot (lib/cold.lua)

  Returns { "scheduled" | "running", record, last error or false, progress or false }
        | { "final", final json } | { "missing" }
]]
local id = ARGV[1]
local record = redis.call('HGET', KEYS[2], id)
if record then
  -- A record whose id is not in `due` is running (see claim-6.lua).
  local state = 'running'
  if redis.call('ZSCORE', KEYS[1], id) then
    state = 'scheduled'
  end
  return { state, record, redis.call('HGET', KEYS[3], id), redis.call('HGET', KEYS[4], id) }
end
local coldScore, coldSpec = cold_get(ARGV[3], id)
if coldScore then
  return { 'scheduled', cold_record(coldScore, coldSpec), false, false }
end
return finals_reply(ARGV[2], id)
