--[[
  cancel: remove a task that has not been claimed; keep a "cancelled" final
  record for the retention. A task already running or finished is left alone
  and its state is reported instead. Needs no lease: it only touches `due`
  entries and cold lists, and claim and promote take those atomically, so the
  two cannot both win.

  KEYS[1] due ZSET
  KEYS[2] tasks HASH
  KEYS[3] err HASH
  KEYS[4] progress HASH
  KEYS[5] cold count STRING
  ARGV[1] id
  ARGV[2] done-key prefix (final records: lib/finals.lua)
  ARGV[3] now ms
  ARGV[4] retention ms of the final record
  ARGV[5] cold list of the id's hash slot (lib/cold.lua)

  The cancelled id joins the console's cancelled index, leaves the failed one,
  and its attempt history moves next to its final record (lib/console.lua).

  Returns { "cancelled", final json } | { "running", record } |
          { "final", final json } | { "missing" }
]]
local id = ARGV[1]
if redis.call('ZSCORE', KEYS[1], id) then
  local record = redis.call('HGET', KEYS[2], id)
  local attempt, dueMs = string.match(record, '^(%d+):(%d+)')
  local spec = string.sub(record, string.find(record, '\n', 1, true) + 1)
  local lastError = redis.call('HGET', KEYS[3], id)
  local final = '{"state":"cancelled","attempt":' .. attempt .. ',"dueAt":' .. dueMs ..
    ',"finishedAt":' .. ARGV[3]
  if lastError then
    final = final .. ',"lastError":' .. cjson.encode(lastError)
  end
  final = final .. ',"spec":' .. spec .. '}'
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
  local expiry = finals_expiry(tonumber(ARGV[3]), tonumber(ARGV[4]))
  finals_put(ARGV[2], { [expiry] = { id, final } })
  if lastError then
    redis.call('ZREM', console_index(ARGV[2], 'failed'), id)
    console_history_keep(ARGV[2], ARGV[2] .. expiry, { id })
  end
  console_index_add(ARGV[2], 'cancelled', { id }, tonumber(ARGV[3]) - tonumber(ARGV[4]), expiry, tonumber(ARGV[3]))
  return { 'cancelled', final }
end
local coldScore, coldSpec = cold_remove(ARGV[5], KEYS[5], id)
if coldScore then
  local final = '{"state":"cancelled","attempt":0,"dueAt":' .. string.match(coldScore, '^%d+') ..
    ',"finishedAt":' .. ARGV[3] .. ',"spec":' .. coldSpec .. '}'
  local expiry = finals_expiry(tonumber(ARGV[3]), tonumber(ARGV[4]))
  finals_put(ARGV[2], { [expiry] = { id, final } })
  console_index_add(ARGV[2], 'cancelled', { id }, tonumber(ARGV[3]) - tonumber(ARGV[4]), expiry, tonumber(ARGV[3]))
  return { 'cancelled', final }
end
-- Not in `due` and not cold, but its record is there: it is running (see claim-6.lua).
local running = redis.call('HGET', KEYS[2], id)
if running then
  return { 'running', running }
end
return finals_reply(ARGV[2], id)
