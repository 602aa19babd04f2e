--[[
  window: what a shard's look-ahead window needs from `due`, in one reply:
  how many tasks fall due in each millisecond of a score range, and whether
  anything is due by a nearer score (the probe for a backlog or a lost hint).
  Not the ids: the wheel keeps a count per due ms and the claim reads the ids.
  Read with a plain ZRANGEBYSCORE, the node decoded two strings per task it
  then threw away: at 20,000 tasks a second, decoding those replies and the
  wake hints was a fifth of its CPU, and counts took a tenth off its total.

  KEYS[1] due ZSET
  ARGV[1] from score, exclusive, or "-inf"
  ARGV[2] to score, inclusive
  ARGV[3] read at most this many tasks
  ARGV[4] probe: is any task due at or before this score?

  Returns { counts, read, last, probe }:
    counts  per due ms that has tasks, in ascending order, "<gap>:<count>"
            joined by ","; gap is the ms minus the previous entry's ms (the
            first entry's gap is its ms): "1764667512345:2,1:1,7:3"
    read    how many tasks were read (= the limit when the read was cut off)
    last    the score of the last task read, as Redis wrote it ("" if none)
    probe   1 if a task is due by ARGV[4], else 0
]]
local from = ARGV[1] == '-inf' and '-inf' or '(' .. ARGV[1]
local flat = redis.call('ZRANGEBYSCORE', KEYS[1], from, ARGV[2], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
local previous = 0
local ms = nil
local run = 0
for i = 2, #flat, 2 do
  local due = math.floor(tonumber(flat[i]))
  if due == ms then
    run = run + 1
  else
    if ms then
      out[#out + 1] = string.format('%d:%d', ms - previous, run)
      previous = ms
    end
    ms = due
    run = 1
  end
end
if ms then out[#out + 1] = string.format('%d:%d', ms - previous, run) end
local probe = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[4], 'LIMIT', 0, 1)
return { table.concat(out, ','), #flat / 2, flat[#flat] or '', #probe }
