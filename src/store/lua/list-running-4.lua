--[[
  list-running (read-only): one page of a shard's running tasks, in id
  order, after a cursor id, optionally only tasks of one name. Running tasks
  have no index of their own (a sorted index per task cost more than the
  rest of claiming and finishing): the page sorts the ids of `running`,
  which holds at most what the nodes' pools run at once for this shard.

  KEYS[1] running HASH (id -> batch id)
  KEYS[2] tasks HASH   (id -> "attempt:score\n<spec json>")
  KEYS[3] err HASH     (id -> last error of an attempt that failed before)
  KEYS[4] claims ZSET  (batch id -> visibility deadline)
  ARGV[1] cursor id ("" = from the start)
  ARGV[2] max tasks to return
  ARGV[3] name filter: the exact start of the spec json, '{"n":<json name>,'
          ("" = every name)
  ARGV[4] max record bytes to read (checked after each record)

  Returns { "0" (a cursor score, for the shape list-3.lua returns) or ""
  when no running task is left after this page, next cursor id, then per
  task: id, visibility deadline of its batch, record, last error or false }.
]]
local after, limit, specPrefix, maxBytes = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local ids = {}
for _, id in ipairs(redis.call('HKEYS', KEYS[1])) do
  if after == '' or id > after then
    ids[#ids + 1] = id
  end
end
table.sort(ids)
local out = { '', '' }
local found, bytes = 0, 0
local deadlines = {}
for i, id in ipairs(ids) do
  if found >= limit or bytes >= maxBytes then
    out[1] = '0'
    out[2] = ids[i - 1]
    break
  end
  local record = redis.call('HGET', KEYS[2], id)
  local batch = redis.call('HGET', KEYS[1], id)
  if record and batch then
    bytes = bytes + #record
    local nl = string.find(record, '\n', 1, true)
    if specPrefix == '' or string.sub(record, nl + 1, nl + #specPrefix) == specPrefix then
      if deadlines[batch] == nil then
        deadlines[batch] = redis.call('ZSCORE', KEYS[4], batch) or '0'
      end
      out[#out + 1] = id
      out[#out + 1] = deadlines[batch]
      out[#out + 1] = record
      out[#out + 1] = redis.call('HGET', KEYS[3], id) or false
      found = found + 1
    end
  end
end
return out
