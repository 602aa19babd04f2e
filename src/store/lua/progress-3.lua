--[[
  progress: remember a running task's latest progress value, shown by
  GET /v1/tasks/:id. Written only while the task is running (its record is
  in `tasks` and its id not in `due`, see claim-6.lua), so a late progress
  call after the task finished cannot leave an entry behind.

  KEYS[1] tasks HASH
  KEYS[2] due ZSET
  KEYS[3] progress HASH
  ARGV[1] id
  ARGV[2] progress json

  Returns 1 stored, 0 the task is not running.
]]
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 and not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
  return 1
end
return 0
