--[[
  schedule: store new tasks on one shard; an id that exists (pending, running or
  finished within its retention) is the idempotency key and creates nothing.

  KEYS[1] due ZSET    (id -> due score)
  KEYS[2] tasks HASH  (id -> "attempt:score\n<spec json>")
  ARGV[1] done-key prefix of this shard (final records live at prefix .. id)
  ARGV[2] wake channel ("" = publish no hints)
  ARGV[3] publish command: "PUBLISH" (standalone) or "SPUBLISH" (Redis Cluster)
  ARGV[4] wake horizon score: hint only for tasks due at or before it
  ARGV[5..] triples: id, due score, record (ids distinct within one call)

  Publishes at most one wake hint per call: the lines "id|score" of every
  created task due by the horizon, joined by "\n" (at thousands of tasks a
  second, a message per task cost more than the rest of this script).

  Returns only the tasks that were not created (usually none), as a flat
  array of triples: position of the task in this call (1-based),
    "p", record           exists and is pending or running (record from the tasks hash)
    "f", final json       exists and is finished (its final record)
]]
local out = {}
local horizon = tonumber(ARGV[4])
local hints = {}
local position = 0
for i = 5, #ARGV, 3 do
  position = position + 1
  local id, score, record = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local existing = redis.call('HGET', KEYS[2], id)
  if existing then
    out[#out + 1] = position
    out[#out + 1] = 'p'
    out[#out + 1] = existing
  else
    local final = redis.call('GET', ARGV[1] .. id)
    if final then
      out[#out + 1] = position
      out[#out + 1] = 'f'
      out[#out + 1] = final
    else
      redis.call('HSET', KEYS[2], id, record)
      redis.call('ZADD', KEYS[1], score, id)
      if ARGV[2] ~= '' and tonumber(score) <= horizon then
        hints[#hints + 1] = id .. '|' .. score
      end
    end
  end
end
if #hints > 0 then
  redis.call(ARGV[3], ARGV[2], table.concat(hints, '\n'))
end
return out
