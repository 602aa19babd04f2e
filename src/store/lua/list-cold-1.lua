--[[
  list-cold (read-only): one page of a shard's cold tasks (lib/cold.lua), by
  hash slot and, within a slot, by id: far-future tasks are not kept in due
  order, so they are listed in storage order after the shard's `due` index.
  Bounded per call like list-3.lua: at most ARGV[6] slots examined and about
  ARGV[8] bytes of records read; a page may come back short with a cursor.

  KEYS[1] cold count STRING (names the shard's cluster slot; not read)
  ARGV[1] cold prefix of this shard
  ARGV[2] shard count (the shard's hash slots are shard, shard + count, ...)
  ARGV[3] hash slot to start at (one of this shard's)
  ARGV[4] id to start after within that slot ("" = from its first)
  ARGV[5] max tasks to return
  ARGV[6] max slots to examine
  ARGV[7] name filter: the exact start of the spec json, '{"n":<json name>,'
          ("" = every name)
  ARGV[8] max record bytes to read

  Returns { next slot or "" when the shard's slots are exhausted, next id
  ("" = from the slot's first), then per task: id, score, record, false }.
]]
local prefix, step = ARGV[1], tonumber(ARGV[2])
local slot, afterId = tonumber(ARGV[3]), ARGV[4]
local limit, budget = tonumber(ARGV[5]), tonumber(ARGV[6])
local specPrefix, maxBytes = ARGV[7], tonumber(ARGV[8])
local out = { '', '' }
local found, bytes, examined = 0, 0, 0
while slot < 16384 and examined < budget do
  examined = examined + 1
  local stored = redis.call('LRANGE', prefix .. slot, 0, -1)
  if #stored > 0 then
    local entries = {}
    for i = 1, #stored do
      for entry in string.gmatch(stored[i], '[^\n]+') do
        local id, score, spec = cold_parse(entry)
        if id > afterId and (specPrefix == '' or string.sub(spec, 1, #specPrefix) == specPrefix) then
          entries[#entries + 1] = { id, score, spec }
        end
      end
    end
    table.sort(entries, function(a, b) return a[1] < b[1] end)
    for _, entry in ipairs(entries) do
      local record = cold_record(entry[2], entry[3])
      out[#out + 1] = entry[1]
      out[#out + 1] = entry[2]
      out[#out + 1] = record
      out[#out + 1] = false
      found = found + 1
      bytes = bytes + #record
      if found >= limit or bytes >= maxBytes then
        out[1] = tostring(slot)
        out[2] = entry[1]
        return out
      end
    end
  end
  slot = slot + step
  afterId = ''
end
if slot < 16384 then
  out[1] = tostring(slot)
end
return out
