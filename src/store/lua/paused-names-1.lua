--[[
  paused-names: the cluster-wide list of paused task names (name -> ms it was
  paused), which nodes read about once a second. Written after every shard's
  own flag is set on pause, and before the flags are cleared on resume, so a
  node that sees a name here can rely on the shards' flags being set (except
  while a resume is under way, which the park script detects).

  KEYS[1] paused-names HASH
  ARGV[1] "pause" | "resume"
  ARGV[2] name
  ARGV[3] now ms

  Returns the ms the name was paused (an existing pause keeps its time) for
  "pause"; 1 if it was paused, 0 if not, for "resume".
]]
if ARGV[1] == 'pause' then
  redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3])
  return tonumber(redis.call('HGET', KEYS[1], ARGV[2]))
end
return redis.call('HDEL', KEYS[1], ARGV[2])
