--[[
  schedule: store new tasks on one shard; an id that exists (pending, running or
  finished within its retention) is the idempotency key and creates nothing.

  KEYS[1] due ZSET    (id -> due score)
  KEYS[2] tasks HASH  (id -> "attempt:score\n<spec json>")
  ARGV[1] done-key prefix of this shard (final records live at prefix .. id)
  ARGV[2] wake channel ("" = publish no hints)
  ARGV[3] publish command: "PUBLISH" (standalone) or "SPUBLISH" (Redis Cluster)
  ARGV[4] wake horizon score: hint only for tasks due at or before it
  ARGV[5..] triples: id, due score, record

  Returns a flat array, two entries per task in ARGV order:
    "c", score            created
    "p", record           exists and is pending or running (record from the tasks hash)
    "f", final json       exists and is finished (its final record)
]]
local out = {}
local horizon = tonumber(ARGV[4])
for i = 5, #ARGV, 3 do
  local id, score, record = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local existing = redis.call('HGET', KEYS[2], id)
  if existing then
    out[#out + 1] = 'p'
    out[#out + 1] = existing
  else
    local final = redis.call('GET', ARGV[1] .. id)
    if final then
      out[#out + 1] = 'f'
      out[#out + 1] = final
    else
      redis.call('HSET', KEYS[2], id, record)
      redis.call('ZADD', KEYS[1], score, id)
      if ARGV[2] ~= '' and tonumber(score) <= horizon then
        redis.call(ARGV[3], ARGV[2], id .. '|' .. score)
      end
      out[#out + 1] = 'c'
      out[#out + 1] = score
    end
  end
end
return out
