--[[
  schedule-write: the one way a recurring schedule changes. It writes the
  schedule (or deletes it), moves its planter wake-up, takes back the
  occurrences that should no longer run and plants the ones that should,
  all at once, so a schedule and its occurrences never disagree. Used by
  PUT, pause, resume and delete (from any node, unfenced, like scheduling a
  task) and by the owning node's planter (fenced by the shard's lease).

  The schedule's stored value is "<version>\t<last occurrence id>\n<json>";
  this script reads only the header. Writes are compare-and-set on the
  version: the caller read the schedule, decided, and writes only if nobody
  wrote in between (else it reads again). The json is the node's business.

  Occurrences are ordinary tasks of this shard (their ids hash to the
  schedule's slot: task/occurrence-id.ts). Planting one that already has
  a record (pending, running, or finished within the retention) creates
  nothing: the id is the occurrence, so a second planting is a no-op. Taking one back removes it only while it
  is still waiting in `due` (not claimed, not running), and leaves no final
  record behind: the id stays free, a paused or replaced schedule can plant
  that time again.

  KEYS[1] schedules HASH  (name -> "<version>\t<last id>\n<json>")
  KEYS[2] schedule wake ZSET (name -> ms the planter looks at it next)
  KEYS[3] due ZSET
  KEYS[4] tasks HASH
  KEYS[5] lease STRING
  ARGV[1]  lease token of the caller, "" for an unfenced write (API)
  ARGV[2]  schedule name
  ARGV[3]  expected version: "" any, "0" the schedule must not exist
  ARGV[4]  new stored value, "" to delete the schedule
  ARGV[5]  wake ms, "" to take the schedule out of the planter's set
  ARGV[6]  occurrence ids to take back if still waiting, "\0"-joined ("" none)
  ARGV[7]  occurrences to plant: id, due score, record, each "\0"-joined ("" none)
  ARGV[8]  wake channel ("" = publish no hints)
  ARGV[9]  publish command: "PUBLISH" or "SPUBLISH" (Redis Cluster)
  ARGV[10] wake horizon score: hint only for occurrences due by then
  ARGV[11] done-key prefix of this shard (final records: lib/finals.lua), or
           "" to skip looking for final records: the planter plants only after
           the schedule's cursor, which never moves back, so what it plants
           cannot have run; an API write (resume after a pause moves the cursor
           back to the pause) looks.

  Returns { "ok", planted count } | { "conflict", current version ("0" when
  absent) } | "lease" when ARGV[1] is given and does not hold the lease.
]]
if ARGV[1] ~= '' and redis.call('GET', KEYS[5]) ~= ARGV[1] then
  return 'lease'
end
local name = ARGV[2]
local version = schedule_version(KEYS[1], name)
if ARGV[3] ~= '' and ARGV[3] ~= version then
  return { 'conflict', version }
end

schedule_store(KEYS[1], KEYS[2], name, ARGV[4], ARGV[5])

if ARGV[6] ~= '' then
  schedule_withdraw(KEYS[3], KEYS[4], ARGV[6])
end

local planted = 0
if ARGV[7] ~= '' then
  local hints = {}
  -- An occurrence that already ran (its final record exists) is not planted again.
  local ended = {}
  if ARGV[11] ~= '' then
    local ids = {}
    local field, more = packed_reader(ARGV[7])
    while more() do
      ids[#ids + 1] = field()
      field()
      field()
    end
    local finals = finals_get_many(finals_slots(ARGV[11]), ids)
    for i, id in ipairs(ids) do
      if finals[i] then ended[id] = true end
    end
  end
  planted = schedule_plant(KEYS[3], KEYS[4], ARGV[7], ended, ARGV[8] ~= '' and tonumber(ARGV[10]) or nil, hints)
  if #hints > 0 then
    redis.call(ARGV[9], ARGV[8], table.concat(hints, '\n'))
  end
end
return { 'ok', planted }
