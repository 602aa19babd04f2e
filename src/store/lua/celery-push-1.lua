--[[
  celery-push: pushes Celery messages onto a broker list, for a Celery broker
  that is not tickwheel's own server (the target pushes, then finishes; see
  pool/targets/celery/celery-target.ts). Run on the broker's connection.
  Same messages as one LPUSH of them whole; the script only saves the node
  from writing a burst's shared text once per message (lib/celery-envelope.lua).

  KEYS[1] the broker list
  ARGV[1] template: its 8 pieces joined by "\0", or "" for whole envelopes
  ARGV[2] message count k
  ARGV[3] the k messages joined by "\0" (lib/packed.lua): whole envelopes,
          or each one's body, id json, expires json, argsrepr json and
          delivery tag ("\0" is in none of them: JSON text, base64, UUIDs)

  Returns k.
]]
local p = celery_pieces(ARGV[1])
local field = packed_reader(ARGV[3])
local envelopes = {}
for k = 1, tonumber(ARGV[2]) do
  envelopes[k] = celery_envelope(p, field, nil)
end
celery_lpush(KEYS[1], envelopes)
return #envelopes
