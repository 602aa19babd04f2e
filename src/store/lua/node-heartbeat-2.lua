--[[
  node-heartbeat: register or refresh this node in the registry, forget
  nodes whose entry expired, and answer the live members. Time is Redis'
  own clock (TIME), so nodes whose clocks disagree still agree on who is
  alive.

  A node id may be held by one running process at a time: each process has
  a random instance token, and an entry of the same id with another
  instance that has not expired is a conflict (two live nodes, one id).

  KEYS[1] nodes HASH  (id -> "<instance>\n<info json>")
  KEYS[2] alive ZSET  (id -> expiry ms, Redis time)
  ARGV[1] node id
  ARGV[2] instance token of this process
  ARGV[3] ttl ms: the entry expires unless refreshed within it
  ARGV[4] info json (address, started, version, owned shards, pool load)
  ARGV[5] max expired entries to forget per call (keeps the script short)

  Returns { 1, now, id, expiry ms, id, expiry ms, ... } registered; the
          pairs are every live member (this node included), by expiry
        | { 0, now, expiry ms, "<instance>\n<info json>" } the id is held
          by another live instance: nothing changed
  where now is Redis' time in ms with its microseconds as a decimal fraction
  (a string: "1800000000123.456"). The node's estimate of Redis' clock is
  built on it; a whole ms would put that estimate up to 1 ms behind, and
  every held start as late.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowText = t[1] .. string.format('%03d.%03d', math.floor(tonumber(t[2]) / 1000), tonumber(t[2]) % 1000)
local id, instance = ARGV[1], ARGV[2]

local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. now, 'LIMIT', 0, tonumber(ARGV[5]))
for _, gone in ipairs(expired) do
  redis.call('ZREM', KEYS[2], gone)
  redis.call('HDEL', KEYS[1], gone)
end

local current = redis.call('HGET', KEYS[1], id)
if current then
  local nl = string.find(current, '\n', 1, true)
  local holder = nl and string.sub(current, 1, nl - 1) or ''
  local expiry = redis.call('ZSCORE', KEYS[2], id)
  if holder ~= instance and expiry and tonumber(expiry) >= now then
    return { 0, nowText, tonumber(expiry), current }
  end
end

redis.call('HSET', KEYS[1], id, instance .. '\n' .. ARGV[4])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), id)
local live = redis.call('ZRANGEBYSCORE', KEYS[2], now, '+inf', 'WITHSCORES')
local out = { 1, nowText }
for i = 1, #live do
  out[#out + 1] = live[i]
end
return out
