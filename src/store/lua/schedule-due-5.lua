--[[
  schedule-due (fenced): what the shard's planter has to look at now. The
  schedules whose wake time has come, each with its stored value and the
  state of its last planted occurrence, which the planting rule needs
  (schedule/plan.ts): still waiting in `due` ("p", also while it waits for
  a retry), running ("r": its record is there but it left `due`), or ended
  ("e": no record, it finished or was taken back). "n": none planted yet.

  KEYS[1] schedule wake ZSET (name -> ms)
  KEYS[2] schedules HASH
  KEYS[3] due ZSET
  KEYS[4] tasks HASH
  KEYS[5] lease STRING
  ARGV[1] lease token
  ARGV[2] now ms: schedules with a wake time at or before it
  ARGV[3] at most this many (a planting pass stays short)

  Returns "lease" if the token does not hold the lease, else a flat array:
  the wake ms of the first schedule not returned ("" when none), then per
  schedule its name, stored value and last-occurrence state.
]]
if redis.call('GET', KEYS[5]) ~= ARGV[1] then
  return 'lease'
end
local names = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = { '' }
local after = redis.call('ZRANGE', KEYS[1], #names, #names, 'WITHSCORES')
if after[2] then
  out[1] = after[2]
end
for _, name in ipairs(names) do
  local stored = redis.call('HGET', KEYS[2], name)
  if stored then
    local tab = string.find(stored, '\t', 1, true)
    local newline = string.find(stored, '\n', tab, true)
    local lastId = string.sub(stored, tab + 1, newline - 1)
    local state = 'n'
    if lastId ~= '' then
      if redis.call('ZSCORE', KEYS[3], lastId) then
        state = 'p'
      elseif redis.call('HEXISTS', KEYS[4], lastId) == 1 then
        state = 'r'
      else
        state = 'e'
      end
    end
    out[#out + 1] = name
    out[#out + 1] = stored
    out[#out + 1] = state
  else
    -- A wake entry without a schedule (never expected): drop it.
    redis.call('ZREM', KEYS[1], name)
  end
end
return out
