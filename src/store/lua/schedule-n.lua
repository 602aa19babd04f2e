--[[
  schedule, several shards at once: what schedule-4.lua does for one shard,
  for each of several shards of one Redis server in one call (lib/
  schedule-shard.lua is the body of both). Only where every shard's keys
  live on one server: a Redis Cluster refuses a script whose keys are in
  more than one hash slot, so there each shard keeps its own call.

  Why: a producer's call holds tasks of most shards (16 by default), which
  went as sixteen script calls of a few dozen tasks each: sixteen commands
  for the client to build and Redis to dispatch. Joined, a bulk enqueue
  (scripts/bench/enqueue-cpu.ts, four alternating pairs) used ~7 % less CPU
  per task in the producer and ~5 % less in Redis. What each shard's part
  costs (its fence read, cold count, hint, one list push per hash slot) is
  unchanged. A Redis refusal (out of memory, read-only) is one for the
  whole call: no shard's tasks are stored.

  KEYS    four per shard, in the order schedule-4.lua lists them
          (due, tasks, cold count, mapepoch), shard after shard
  ARGV    eleven per shard, as schedule-4.lua's ARGV[1..11], in the same
          shard order

  Returns one entry per shard, in order: schedule-4.lua's reply for it
  ({ 0, "stale", fence } for a shard whose fence refused the writer's map;
  the others are written).
]]
local replies = {}
for part = 0, #KEYS / 4 - 1 do
  replies[part + 1] = schedule_shard(part * 4, part * 11)
end
return replies
