--[[
  node-list (read-only): every live node with its info, for /admin/nodes
  and /admin/shards. Entries past their expiry are left out (the next
  heartbeat of any node removes them).

  KEYS[1] nodes HASH  (id -> "<instance>\n<info json>")
  KEYS[2] alive ZSET  (id -> expiry ms)

  Returns { now ms, id, expiry ms, "<instance>\n<info json>", ... } by expiry.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = redis.call('ZRANGEBYSCORE', KEYS[2], now, '+inf', 'WITHSCORES')
local out = { now }
for i = 1, #live, 2 do
  local entry = redis.call('HGET', KEYS[1], live[i])
  if entry then
    out[#out + 1] = live[i]
    out[#out + 1] = live[i + 1]
    out[#out + 1] = entry
  end
end
return out
