--[[
  celery-envelope: Celery messages joined from a template and their own
  values. Not a script of its own: scripts.ts puts this text in front of the
  scripts that push Celery messages (celery-handoff-5.lua, celery-push-1.lua).

  A template is the 8 pieces of its target's envelope text, joined by "\0";
  a message's values (body, id json, expires json, argsrepr json, delivery
  tag) go between them as pool/targets/celery/message-templates.ts joinParts
  puts them, so the envelope is byte for byte the one the node built and
  checked. A burst's messages share all but these values: sending the shared
  text once per call instead of once per message halved the bytes a node
  wrote for a burst.
]]

-- The template's pieces, or nil for "" (the messages are sent whole).
local function celery_pieces(template)
  if template == '' then
    return nil
  end
  local piece = packed_reader(template)
  local p = {}
  for i = 1, 8 do
    p[i] = piece()
  end
  return p
end

-- The next message read from `field` (a packed_reader): whole when `p` is nil, else joined from
-- its values. An id json of "" stands for '"' .. id .. '"' (an id that needs no escaping).
local function celery_envelope(p, field, id)
  if not p then
    return field()
  end
  local body, idJson, expires, argsrepr, tag = field(), field(), field(), field(), field()
  if idJson == '' then
    idJson = '"' .. id .. '"'
  end
  return p[1] .. body .. p[2] .. idJson .. p[3] .. expires .. p[4] .. idJson .. p[5] .. argsrepr .. p[6] .. idJson .. p[7] .. tag .. p[8]
end

-- LPUSHes envelopes onto a list in order (LPUSH a b c: a is popped first), a thousand values per
-- call at most (unpack is bounded by Lua's C stack).
local function celery_lpush(key, envelopes)
  for from = 1, #envelopes, 1000 do
    redis.call('LPUSH', key, unpack(envelopes, from, math.min(from + 999, #envelopes)))
  end
end
