--[[
  resume-shard: clear a task name's paused flag on one shard and put up to
  ARGV[3] of its parked tasks back in `due` at their real scores (they are
  usually past due and run at once). The caller repeats until nothing is
  left. An entry whose task was cancelled or rescheduled meanwhile (no longer
  at a parked score) is just dropped from the index.

  KEYS[1] paused-names SET of the shard
  KEYS[2] parked ZSET of this shard and name (id -> real score)
  KEYS[3] due ZSET
  KEYS[4] tasks HASH
  ARGV[1] name
  ARGV[2] park offset (see park-7.lua)
  ARGV[3] max entries per call
  ARGV[4] wake channel ("" = no hints)
  ARGV[5] publish command ("PUBLISH" | "SPUBLISH")

  Returns { tasks put back, entries left in the parked index }.
]]
redis.call('SREM', KEYS[1], ARGV[1])
local offset = tonumber(ARGV[2])
local entries = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[3]) - 1)
local moved = 0
for _, id in ipairs(entries) do
  local current = redis.call('ZSCORE', KEYS[3], id)
  local record = redis.call('HGET', KEYS[4], id)
  if current and record and tonumber(current) >= offset then
    local score = string.match(record, '^%d+:([^\n]+)\n')
    redis.call('ZADD', KEYS[3], score, id)
    if ARGV[4] ~= '' then
      redis.call(ARGV[5], ARGV[4], id .. '|' .. score)
    end
    moved = moved + 1
  end
  redis.call('ZREM', KEYS[2], id)
end
return { moved, redis.call('ZCARD', KEYS[2]) }
