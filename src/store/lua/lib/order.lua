--[[
  order: comparing members the way Redis orders members of equal score (byte
  by byte; Lua's own < follows the locale). Not a script of its own:
  scripts.ts puts this text in front of the listing scripts.
]]

local function bytes_compare(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y and -1 or 1 end
  end
  if #a == #b then return 0 end
  return #a < #b and -1 or 1
end
