--[[
  schedule-write-many: schedule-write-5.lua for many schedules of one shard
  in one call (bulk creation: one schedule per tenant, 100,000s of them; one
  call per schedule was most of the cost). For each schedule, exactly what
  schedule-write-5.lua does for one: compare-and-set on the version the
  caller read, write (or delete) the schedule, move its wake time, take back
  the occurrences named while they still wait in `due`, and plant the ones
  given where no record exists (pending, running, or final within the
  retention). A schedule whose version moved is left as it is and reported;
  the others are written. The final-record lookup is done once for every
  occurrence of the call, not once per schedule.

  The caller bounds a call (store/schedules.ts WRITE_MANY_CHUNK) so that it
  stays a few milliseconds of Redis time.

  KEYS[1] schedules HASH  (name -> "<version>\t<last id>\n<json>")
  KEYS[2] schedule wake ZSET (name -> ms the planter looks at it next)
  KEYS[3] due ZSET
  KEYS[4] tasks HASH
  KEYS[5] lease STRING
  ARGV[1] lease token of the caller, "" for an unfenced write (API)
  ARGV[2] wake channel ("" = publish no hints)
  ARGV[3] publish command: "PUBLISH" or "SPUBLISH" (Redis Cluster)
  ARGV[4] wake horizon score: hint only for occurrences due by then
  ARGV[5] done-key prefix of this shard (final records: lib/finals.lua), or
          "" to skip looking for final records (as schedule-write-5.lua)
  then per schedule 6 arguments: name, expected version ("" any, "0" must
          not exist), new stored value ("" deletes), wake ms ("" = out of the
          wake set), occurrence ids to take back ("\0"-joined, "" none), and
          occurrences to plant as id, due score, record ("\0"-joined, "" none)

  Returns "lease" when ARGV[1] is given and does not hold the lease, else
  one character per schedule: "1" written, "0" its version moved (nothing
  written for it).
]]
if ARGV[1] ~= '' and redis.call('GET', KEYS[5]) ~= ARGV[1] then
  return 'lease'
end
local FIRST, PER = 6, 6

-- Final records of every occurrence the call would plant, looked up at once.
local finals = {}
if ARGV[5] ~= '' then
  local ids = {}
  local at = FIRST
  while at + PER - 1 <= #ARGV do
    local plants = ARGV[at + 5]
    if plants ~= '' then
      local field, more = packed_reader(plants)
      while more() do
        ids[#ids + 1] = field()
        field()
        field()
      end
    end
    at = at + PER
  end
  if #ids > 0 then
    local slots = finals_slots(ARGV[5])
    -- HMGET in chunks: unpack() of a very long list would overflow Lua's stack.
    for from = 1, #ids, 1000 do
      local chunk = {}
      for i = from, math.min(from + 999, #ids) do
        chunk[#chunk + 1] = ids[i]
      end
      local found = finals_get_many(slots, chunk)
      for j = 1, #chunk do
        if found[j] then
          finals[chunk[j]] = true
        end
      end
    end
  end
end

local horizon = ARGV[2] ~= '' and tonumber(ARGV[4]) or nil
local hints = {}
local out = {}
local at = FIRST
while at + PER - 1 <= #ARGV do
  local name, expected, stored, wake, withdraw, plants = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4], ARGV[at + 5]
  at = at + PER
  if expected ~= '' and expected ~= schedule_version(KEYS[1], name) then
    out[#out + 1] = '0'
  else
    schedule_store(KEYS[1], KEYS[2], name, stored, wake)
    if withdraw ~= '' then
      schedule_withdraw(KEYS[3], KEYS[4], withdraw)
    end
    if plants ~= '' then
      schedule_plant(KEYS[3], KEYS[4], plants, finals, horizon, hints)
    end
    out[#out + 1] = '1'
  end
end
if #hints > 0 then
  redis.call(ARGV[3], ARGV[2], table.concat(hints, '\n'))
end
return table.concat(out)
