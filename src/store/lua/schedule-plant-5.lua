--[[
  schedule-plant (fenced): the planter's writes of one step, for many
  schedules at once (one call per step instead of one per schedule: at
  100,000 minutely schedules the per-call cost was most of planting). For
  each schedule, the same as schedule-write-5.lua does for one: compare-
  and-set on the version, write the schedule, move its wake time, plant
  its occurrences where no record exists (pending or running). It takes
  nothing back and skips the final-record lookup: the planter plants only
  after the schedule's cursor, which never moves back, so what it plants
  cannot have run.

  KEYS[1] schedules HASH  (name -> "<version>\t<last id>\n<json>")
  KEYS[2] schedule wake ZSET
  KEYS[3] due ZSET
  KEYS[4] tasks HASH
  KEYS[5] lease STRING
  ARGV[1] lease token of the caller
  ARGV[2] wake channel ("" = publish no hints)
  ARGV[3] publish command: "PUBLISH" or "SPUBLISH" (Redis Cluster)
  ARGV[4] wake horizon score: hint only for occurrences due by then
  then per schedule 5 arguments: name, expected version, new stored value,
          wake ms ("" = out of the wake set), and its occurrences as id,
          due score, record, all "\0"-joined ("" = none)

  Returns "lease" if the token does not hold the lease, else one character
  per schedule: "1" written, "0" its version moved (nothing written).
]]
if redis.call('GET', KEYS[5]) ~= ARGV[1] then
  return 'lease'
end
local horizon = ARGV[2] ~= '' and tonumber(ARGV[4]) or nil
local hints = {}
local NONE_ENDED = {}
local out = {}
local at = 5
while at + 4 <= #ARGV do
  local name, expected, stored, wake, plants = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4]
  at = at + 5
  if schedule_version(KEYS[1], name) ~= expected then
    out[#out + 1] = '0'
  else
    schedule_store(KEYS[1], KEYS[2], name, stored, wake)
    if plants ~= '' then
      schedule_plant(KEYS[3], KEYS[4], plants, NONE_ENDED, horizon, hints)
    end
    out[#out + 1] = '1'
  end
end
if #hints > 0 then
  redis.call(ARGV[3], ARGV[2], table.concat(hints, '\n'))
end
return table.concat(out)
