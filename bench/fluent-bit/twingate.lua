-- The real-host benchmark's Lua filter (bench/src/fluent_bit.rs): what a
-- Fluent Bit user could write instead of the wasm module. A JSON decoder
-- (string.find skips plain runs), then a flattener to dotted keys; service
-- lines are dropped. Lua tables lose the key order, an empty array becomes
-- an empty map and a null value drops its key: the benchmark's check allows
-- for these.
local byte, sub, find, char, tonumber = string.byte, string.sub, string.find, string.char, tonumber
local concat = table.concat

local escapes = { [34] = '"', [92] = '\\', [47] = '/', [98] = '\b', [102] = '\f',
                  [110] = '\n', [114] = '\r', [116] = '\t' }

local function utf8(code)
  if code < 0x80 then return char(code) end
  if code < 0x800 then return char(0xC0 + math.floor(code / 64), 0x80 + code % 64) end
  if code < 0x10000 then
    return char(0xE0 + math.floor(code / 4096), 0x80 + math.floor(code / 64) % 64, 0x80 + code % 64)
  end
  return char(0xF0 + math.floor(code / 262144), 0x80 + math.floor(code / 4096) % 64,
              0x80 + math.floor(code / 64) % 64, 0x80 + code % 64)
end

local decode_value

-- s: text, i: index just after the opening quote; returns string, next index
local function decode_string(s, i)
  local parts, n = nil, 0
  local start = i
  while true do
    local j = find(s, '["\\]', i)
    if not j then error("unterminated string") end
    if byte(s, j) == 34 then
      if not parts then return sub(s, start, j - 1), j + 1 end
      n = n + 1; parts[n] = sub(s, i, j - 1)
      return concat(parts), j + 1
    end
    parts = parts or {}
    n = n + 1; parts[n] = sub(s, i, j - 1)
    local e = byte(s, j + 1)
    if e == 117 then
      local code = tonumber(sub(s, j + 2, j + 5), 16)
      if not code then error("bad \\u escape") end
      local next_i = j + 6
      if code >= 0xD800 and code < 0xDC00 and sub(s, next_i, next_i + 1) == "\\u" then
        local low = tonumber(sub(s, next_i + 2, next_i + 5), 16)
        if low and low >= 0xDC00 and low < 0xE000 then
          code = 0x10000 + (code - 0xD800) * 1024 + (low - 0xDC00)
          next_i = next_i + 6
        end
      end
      if code >= 0xD800 and code < 0xE000 then code = 0xFFFD end
      n = n + 1; parts[n] = utf8(code)
      i = next_i
    else
      local c = escapes[e]
      if not c then error("bad escape") end
      n = n + 1; parts[n] = c
      i = j + 2
    end
  end
end

local function skip(s, i)
  return find(s, '[^ \t\r\n]', i) or #s + 1
end

decode_value = function(s, i)
  i = skip(s, i)
  local c = byte(s, i)
  if c == 34 then
    return decode_string(s, i + 1)
  elseif c == 123 then
    local object = {}
    i = skip(s, i + 1)
    if byte(s, i) == 125 then return object, i + 1 end
    while true do
      if byte(s, i) ~= 34 then error("expected a key") end
      local key
      key, i = decode_string(s, i + 1)
      i = skip(s, i)
      if byte(s, i) ~= 58 then error("expected :") end
      object[key], i = decode_value(s, i + 1)
      i = skip(s, i)
      c = byte(s, i)
      if c == 125 then return object, i + 1 end
      if c ~= 44 then error("expected , or }") end
      i = skip(s, i + 1)
    end
  elseif c == 91 then
    local array, n = {}, 0
    i = skip(s, i + 1)
    if byte(s, i) == 93 then return array, i + 1 end
    while true do
      n = n + 1
      array[n], i = decode_value(s, i)
      i = skip(s, i)
      c = byte(s, i)
      if c == 93 then return array, i + 1 end
      if c ~= 44 then error("expected , or ]") end
      i = i + 1
    end
  elseif c == 116 and sub(s, i, i + 3) == "true" then return true, i + 4
  elseif c == 102 and sub(s, i, i + 4) == "false" then return false, i + 5
  elseif c == 110 and sub(s, i, i + 3) == "null" then return nil, i + 4
  else
    local _, e = find(s, '^-?%d+%.?%d*[eE]?[-+]?%d*', i)
    if not e then error("unexpected character") end
    return tonumber(sub(s, i, e)), e + 1
  end
end

local function flatten(value, prefix, out)
  for key, v in pairs(value) do
    local name = prefix and (prefix .. "." .. key) or key
    if type(v) == "table" and next(v) ~= nil and v[1] == nil then
      flatten(v, name, out)
    else
      out[name] = v
    end
  end
end

-- Fluent Bit's entry point: -1 drops the record, 2 replaces it and keeps
-- its timestamp.
function twingate_flatten(tag, timestamp, record)
  local line = record["log"]
  if type(line) ~= "string" or sub(line, 1, 10) ~= "ANALYTICS " then
    return -1, timestamp, record
  end
  local ok, payload = pcall(decode_value, line, 11)
  if not ok or type(payload) ~= "table" then
    record["twingate.parse_error"] = tostring(payload)
    return 2, timestamp, record
  end
  record["log"] = nil
  local location = payload["location"]
  if type(location) == "string" and byte(location, 1) == 123 then
    local parsed_ok, parsed = pcall(decode_value, location, 1)
    if parsed_ok and type(parsed) == "table" then payload["location"] = parsed end
  end
  flatten(payload, nil, record)
  return 2, timestamp, record
end
