--[[
  reshard-in: land tasks and schedules moved out of a source shard
  (reshard-out-7.lua, reshard-out-cold-n.lua, reshard-out-schedules-4.lua)
  in their new shard. Needs no lease (like schedule, it only adds pending
  tasks and schedules; the owner claims and plants them). Idempotent: an id
  this shard already knows (pending, running, cold, dead or finished) is
  refused, and so is a schedule name it already has, so a bundle sent twice
  (the mover died before clearing its outbox and a new owner sends it
  again) never makes a second task or schedule.

  KEYS[1] due ZSET
  KEYS[2] tasks HASH
  KEYS[3] err HASH
  KEYS[4] dead ZSET
  KEYS[5] cold count STRING
  KEYS[6] schedules HASH (name -> stored schedule, store/schedules.ts)
  KEYS[7] schedule wake ZSET (name -> ms the planter looks at it next)
  ARGV[1] done-key prefix (final records: lib/finals.lua; console indexes: lib/console.lua)
  ARGV[2] cold prefix (list of slot s: prefix .. s)
  ARGV[3] wake channel ("" = no hints)
  ARGV[4] publish command ("PUBLISH" | "SPUBLISH")
  ARGV[5] wake horizon score: hint for tasks due at or before it
  ARGV[6..] id, bundle pairs (bundles: see reshard-out-7.lua, reshard-out-cold-n.lua
          and reshard-out-schedules-4.lua; a schedule's "id" is "\0s" .. its name)

  Returns { added, refused }
]]
local slots = finals_slots(ARGV[1])
local horizon = tonumber(ARGV[5])
local hints = {}
local added, refused = 0, 0
for i = 6, #ARGV, 2 do
  local id, bundle = ARGV[i], ARGV[i + 1]
  local parts = {}
  local field, more = packed_reader(bundle)
  while more() do
    parts[#parts + 1] = field()
  end
  local kind, slot = parts[1], parts[3]
  if kind == 's' then
    -- A schedule: its stored value (version, cursor, definition) and planter wake time, as they were.
    local name = parts[4]
    if redis.call('HEXISTS', KEYS[6], name) == 1 then
      refused = refused + 1
    else
      redis.call('HSET', KEYS[6], name, parts[5])
      if (parts[6] or '') ~= '' then
        redis.call('ZADD', KEYS[7], parts[6], name)
      end
      added = added + 1
    end
  else
    local known = redis.call('HEXISTS', KEYS[2], id) == 1 or redis.call('ZSCORE', KEYS[4], id)
      or cold_get(ARGV[2] .. slot, id) or finals_get(slots, id)
    if known then
      refused = refused + 1
    elseif kind == 't' then
      local record = parts[4]
      local score = string.match(record, '^%d+:([^\n]+)\n')
      redis.call('HSET', KEYS[2], id, record)
      redis.call('ZADD', KEYS[1], score, id)
      if (parts[5] or '') ~= '' then
        redis.call('HSET', KEYS[3], id, parts[5])
      end
      -- The console's entries of a task waiting for a retry (lib/console.lua).
      if (parts[6] or '') ~= '' then
        redis.call('ZADD', ARGV[1] .. 'by:failed', parts[6], id)
      end
      if (parts[7] or '') ~= '' then
        redis.call('HSET', ARGV[1] .. 'attempts', id, parts[7])
      end
      if ARGV[3] ~= '' and tonumber(score) <= horizon then
        hints[#hints + 1] = id .. '|' .. score
      end
      added = added + 1
    elseif kind == 'd' then
      redis.call('ZADD', KEYS[4], parts[4], id)
      local fields = { id, parts[6] }
      if (parts[7] or '') ~= '' then
        fields[3] = id .. ' attempts'
        fields[4] = parts[7]
      end
      finals_put(ARGV[1], { [parts[5]] = fields })
      added = added + 1
    else
      cold_append(ARGV[2] .. slot, parts[4])
      redis.call('INCR', KEYS[5])
      added = added + 1
    end
  end
end
if #hints > 0 then
  redis.call(ARGV[4], ARGV[3], table.concat(hints, '\n'))
end
return { added, refused }
