--[[
  progress: remember a running task's latest progress value, shown by
  GET /v1/tasks/:id. Written only while the task is running, so a late
  progress call after the task finished cannot leave an entry behind.

  KEYS[1] running HASH (id -> batch id)
  KEYS[2] progress HASH
  ARGV[1] id
  ARGV[2] progress json

  Returns 1 stored, 0 the task is not running.
]]
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  return 1
end
return 0
