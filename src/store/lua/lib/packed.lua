--[[
  packed: reading an argument that carries many small fields joined by "\0"
  (one argument per call instead of several per task: encoding thousands of
  small arguments cost the client more than anything else). Not a script of
  its own: scripts.ts puts this text in front of the scripts that take one.
]]

-- Returns read(), the next field ("" once past the end, so an empty last
-- field reads as ""), and more(), whether any field is left.
local function packed_reader(packed)
  local from = 1
  local function read()
    local stop = string.find(packed, '\0', from, true)
    local value
    if stop then
      value = string.sub(packed, from, stop - 1)
      from = stop + 1
    else
      value = string.sub(packed, from)
      from = #packed + 2
    end
    return value
  end
  local function more()
    return from <= #packed
  end
  return read, more
end
