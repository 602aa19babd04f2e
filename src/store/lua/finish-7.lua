--[[
  finish (fenced): end attempts for good: ack (succeeded), dead (gave up) or
  expired. The task leaves the tasks hash; its final record is kept in an
  expiring slot hash for the retention (lib/finals.lua), so Redis deletes it
  and no sweeper has to scan. The record is joined here: the node sends what
  only it knows (the attempt, due and finish times and any error or result,
  as the text that follows `"attempt":`), and the spec comes from the task's
  record, read with one HMGET per group just before it is deleted. The node
  used to send the whole record, spec included, that Redis already had: on
  this machine moving those bytes through the socket cost the node more
  (a third of its CPU in a burst was system time) than the join costs here.
  Dead tasks are also indexed in the dead ZSET, which is trimmed here by age
  (a range delete, not a scan). Batches whose every attempt has ended are
  dropped from `claims` and `batches`.

  KEYS[1] tasks HASH
  KEYS[2] err HASH      (id -> last error of a pending retry)
  KEYS[3] progress HASH (id -> latest progress json)
  KEYS[4] dead ZSET     (id -> ms it died)
  KEYS[5] lease STRING
  KEYS[6] claims ZSET   (batch id -> visibility deadline)
  KEYS[7] batches HASH  (batch id -> claim reply)
  ARGV[1] lease token
  ARGV[2] done-key prefix (final records: lib/finals.lua)
  ARGV[3] now ms
  ARGV[4] dead retention ms (dead index entries older than this are trimmed)
  ARGV[5] n: how many batch ids follow, whose attempts have all ended
  ARGV[6 .. 5+n] those batch ids
  then groups of items that share a batch, an expiry slot and a state:
          batch id, expiry ms of the slot (finals.ts), state, item count k,
          and the k items' id and final record tail, all joined by "\0"
          (lib/packed.lua). One argument per group, not two per item: the
          node's cost of encoding thousands of arguments (and the garbage it
          made) limited a burst more than splitting them here costs Redis.
          The tail is codec.ts encodeFinalTail; lib/finals.lua finals_join
          makes the record of it.

  The fence is the batch: while it is in `claims`, none of its attempts was
  reaped, so an attempt the node ends there is still the task's current one.
  A late ack of a reaped batch finds it gone and is skipped (the task runs
  again, or already did).

  The lease token is checked too, with one exception: a token that no longer
  holds the lease (lost in a stall, re-taken, handed over) may still end the
  attempts of batches it claimed itself, as long as they are claimed. Such an
  attempt ran once, and nothing else can have started the task: it is not in
  `due`, and only the reaper puts it back, removing the batch. Refusing it
  (as before) left the task to the reaper, which ran it a second time one
  visibility deadline later: what the double start seen in the resize test
  on Redis Cluster looked like (a loaded node's lease lapsing while its
  attempt ran; docs/resharding.md, "Never twice";
  test/store/reshard-running.test.ts). A token naming another token's
  batch is refused ("lease"), as before.

  Console indexes (lib/console.lua, keys derived from ARGV[2]): succeeded and
  expired ids are added to their state's index (one chunk, a single ZADD
  member, per state per call, plus a trim by score and a PTTL (PEXPIREAT when
  it grows): the extra cost of making finished tasks listable), and a retried
  task's attempt history moves next to its final record.

  Returns "lease" if the token neither holds the lease nor claimed every
  batch named, else one character per item in order: "1" finished, "0"
  skipped. At most a few thousand items per call (unpack).
]]
if redis.call('GET', KEYS[5]) ~= ARGV[1] then
  -- Not the holder: only its own batches (every batch this call names was claimed under it).
  local groupAt = 6 + tonumber(ARGV[5])
  for i = 6, groupAt - 1 do
    if not claimed_by(ARGV[i], ARGV[1]) then
      return 'lease'
    end
  end
  while groupAt <= #ARGV do
    if not claimed_by(ARGV[groupAt], ARGV[1]) then
      return 'lease'
    end
    groupAt = groupAt + 5
  end
end
local out = {}
local ended = {}
local deadMembers = {}
-- state -> { members = ids, expiry = newest slot expiry } for the console indexes.
local indexed = {}
local hasHistory = redis.call('EXISTS', console_history_key(ARGV[2])) == 1
local doneCount = tonumber(ARGV[5])
local at = 6 + doneCount
while at <= #ARGV do
  local batch, expiry, state, count = ARGV[at], ARGV[at + 1], ARGV[at + 2], tonumber(ARGV[at + 3])
  local packed = ARGV[at + 4]
  at = at + 5
  if redis.call('ZSCORE', KEYS[6], batch) then
    -- One HSET and one HDEL per group, not a call per task.
    local field = packed_reader(packed)
    local ids, tails, fields = {}, {}, {}
    for k = 1, count do
      ids[k] = field()
      tails[k] = field()
    end
    local records = redis.call('HMGET', KEYS[1], unpack(ids))
    local n = 0
    for k = 1, count do
      local id = ids[k]
      local record = records[k]
      -- A claimed task's record is there until the HDEL below; one that is not (never expected)
      -- ends without a final record rather than with a made-up spec.
      if record then
        fields[n + 1] = id
        fields[n + 2] = finals_join(state, tails[k], record)
        n = n + 2
      end
      ended[#ended + 1] = id
      out[#out + 1] = '1'
      if state == 'dead' then
        deadMembers[#deadMembers + 1] = ARGV[3]
        deadMembers[#deadMembers + 1] = id
      end
    end
    if n > 0 then
      finals_put(ARGV[2], { [expiry] = fields })
    end
    redis.call('HDEL', KEYS[1], unpack(ids))
    if hasHistory then
      console_history_keep(ARGV[2], ARGV[2] .. expiry, ids)
    end
    if state ~= 'dead' then
      local index = indexed[state]
      if not index then
        index = { members = {}, expiry = expiry }
        indexed[state] = index
      end
      local members = index.members
      for k = 1, count do
        members[#members + 1] = ids[k]
      end
      if tonumber(expiry) > tonumber(index.expiry) then
        index.expiry = expiry
      end
    end
  else
    for _ = 1, count do
      out[#out + 1] = '0'
    end
  end
end
-- Errors and progress exist only for tasks that retried or reported progress.
if #ended > 0 and redis.call('EXISTS', KEYS[2], KEYS[3]) > 0 then
  redis.call('HDEL', KEYS[2], unpack(ended))
  redis.call('HDEL', KEYS[3], unpack(ended))
  redis.call('ZREM', console_index(ARGV[2], 'failed'), unpack(ended))
end
-- An entry is trimmed once its record's slot could have expired: slot expiry - now >= the ttl.
for state, index in pairs(indexed) do
  local now = tonumber(ARGV[3])
  console_index_add(ARGV[2], state, index.members, now - (tonumber(index.expiry) - now), index.expiry, now)
end
if #deadMembers > 0 then
  redis.call('ZADD', KEYS[4], unpack(deadMembers))
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. (tonumber(ARGV[3]) - tonumber(ARGV[4])))
end
if doneCount > 0 then
  redis.call('ZREM', KEYS[6], unpack(ARGV, 6, 5 + doneCount))
  redis.call('HDEL', KEYS[7], unpack(ARGV, 6, 5 + doneCount))
end
return table.concat(out)
