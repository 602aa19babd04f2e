--[[
  pause-shard: mark a task name paused on one shard. The shard's own flag is
  what the park script checks, atomically with moving the task, so a pause
  and a resume on a shard are ordered with respect to every park there.

  KEYS[1] paused-names SET of the shard
  ARGV[1] name

  Returns 1 newly paused, 0 already paused.
]]
return redis.call('SADD', KEYS[1], ARGV[1])
