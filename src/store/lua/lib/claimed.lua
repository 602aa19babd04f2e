--[[
  claimed: reading claimed batches (claim-6.lua). Not a script of its own:
  scripts.ts puts this text in front of the scripts that read them.

  A batch's entry in `batches` is the claim's reply: id and record of each
  task, all joined by "\0". A task runs in that batch while its record is
  still the one in the reply (every way back to `due` changes the record or
  takes the task out of the reply).
]]

-- The ids and records of a claim reply, in claim order.
local function claimed_split(claimed)
  local ids, records = {}, {}
  local from = 1
  while from <= #claimed do
    local stop = string.find(claimed, '\0', from, true)
    local after = string.find(claimed, '\0', stop + 1, true) or (#claimed + 1)
    ids[#ids + 1] = string.sub(claimed, from, stop - 1)
    records[#records + 1] = string.sub(claimed, stop + 1, after - 1)
    from = after + 1
  end
  return ids, records
end

-- The record of a task whose attempt in `batch` is still running (the batch
-- is still claimed, the task not back in `due`), or false: the fence of
-- retry and park.
local function claimed_running(tasksKey, claimsKey, dueKey, id, batch)
  local record = redis.call('HGET', tasksKey, id)
  if not record or not redis.call('ZSCORE', claimsKey, batch) or redis.call('ZSCORE', dueKey, id) then
    return false
  end
  return record
end

-- True if `batch` was claimed under lease token `token` (its id is "<n>@<token>", claim-6.lua).
-- Finish and retry accept the attempts of such a batch after the lease moved on: see finish-7.lua.
local function claimed_by(batch, token)
  return string.sub(batch, -(#token + 1)) == '@' .. token
end
