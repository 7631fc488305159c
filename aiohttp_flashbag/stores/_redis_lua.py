"""The Lua scripts of the Redis flash store (aiohttp_flashbag/_redis.py).

A visitor's hash holds (docs/concurrency.rst, "How it works"):

- ``#``: a counter; every flash written gets the next number, its version;
- ``@``: when the hash was made (Redis's clock, milliseconds): a hash made
  again (it expired, or Redis evicted it, while requests that took from it
  are in flight) counts versions from 1 again, and what those requests
  took names none of its flashes;
- ``v`` + a key as JSON: a keyed value, ``<version>|<entry JSON>``;
- ``m`` + its version: a message, ``<version>|<entry JSON>``;
- ``l`` + a token: a lease, ``<deadline ms>|<JSON [[field, version], ...]>``:
  the flashes one request took, invisible to other takes until the request
  settles them or the deadline (Redis's own clock) passes.

Redis runs each script as one operation: no other command of any client
runs in the middle of it. What a take returns is read, and what a settle
is given written, in ``_redis_form``.
"""

from __future__ import annotations

from typing import Final

from .._rule import FRAME

# Shared helpers: Redis's clock, and the flashes live leases hold.
_COMMON: Final = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function ms(number)
  return string.format('%.0f', number)
end
-- The store writes ASCII only (JSON with its escapes): other bytes are
-- not its own, and a client that decodes replies could not decode them.
local function ascii(s)
  return not string.find(s, '[\\128-\\255]')
end
local function is_id(s)
  return #s == 22 and string.match(s, '^[%w_%-]+$') ~= nil
end
-- a lease's deadline and {field -> version}, or nil if it is not one
local function lease_of(content)
  local deadline, list = string.match(content, '^(%d+)|(.*)$')
  if not deadline then return nil end
  local ok, taken = pcall(cjson.decode, list)
  if not ok or type(taken) ~= 'table' then return nil end
  local held = {}
  for _, pair in ipairs(taken) do
    if type(pair) ~= 'table' or type(pair[1]) ~= 'string'
        or type(pair[2]) ~= 'string' then
      return nil
    end
    held[pair[1]] = pair[2]
  end
  return tonumber(deadline), held
end
-- field -> version held by live leases (but `mine`), and lapsed lease fields
-- (and those that are no lease)
local function leases(all, now, mine)
  local held, lapsed = {}, {}
  for i = 1, #all, 2 do
    local field = all[i]
    if string.sub(field, 1, 1) == 'l' and field ~= mine then
      local deadline, taken = lease_of(all[i + 1])
      if deadline and deadline >= now then
        for name, version in pairs(taken) do held[name] = version end
      else
        lapsed[#lapsed + 1] = field
      end
    end
  end
  return held, lapsed
end
-- the id a map key holds, or false; and true if it held what the store
-- never writes there (then it is removed)
local function mapped(key)
  local id = redis.pcall('GET', key)
  if type(id) == 'table' or (id and not is_id(id)) then
    redis.call('DEL', key)
    return false, true
  end
  return id, false
end
local function hdel_all(key, fields)
  for i = 1, #fields, 1000 do
    redis.call('HDEL', key, unpack(fields, i, math.min(i + 999, #fields)))
  end
end
"""

# KEYS[1]: the visitor's hash; or, with ARGV[1] == 'map', the key that maps
# the session cookie's hash to the visitor's id (ARGV[2]: the prefix).
# ARGV[3]: the lease's token ('': read without a lease); ARGV[4]: the
# lease in milliseconds. Sent
# again with the same token (a client that lost the reply), it takes again
# what the first run leased, and more if there is.
# Returns {id found through the map or '', 'hash@' .. when the hash was made
# (or 'hash@') | 'none' | 'foreign' (the hash or the map held what the store
# never writes: removed), {unrecognised fields, bytes past ASCII as '?'},
# field, content, field, content, ...}: the flashes taken, now under the
# lease.
TAKE: Final = (
    _COMMON
    + """
local key, found = KEYS[1], ''
if ARGV[1] == 'map' then
  local foreign
  found, foreign = mapped(KEYS[1])
  if foreign then return {'', 'foreign', {}} end
  if not found then return {'', 'none', {}} end
  key = ARGV[2] .. found
end
local all = redis.pcall('HGETALL', key)
if all['err'] then  -- another type: not the store's, replaced by what comes next
  redis.call('DEL', key)
  return {found, 'foreign', {}}
end
local candidates, garbage, named = {}, {}, {}
local any_lease, birth = false, ''
for i = 1, #all, 2 do
  local field, content = all[i], all[i + 1]
  local first = string.sub(field, 1, 1)
  local ours = ascii(field) and ascii(content)
  if ours and (first == 'v' or first == 'm') then
    local version = string.match(content, '^(%d+)|')
    if version then
      candidates[#candidates + 1] = {field, version, content}
    else
      ours = false
    end
  elseif first == 'l' then
    any_lease = true
  elseif ours and field == '@' and string.match(content, '^%d+$') then
    birth = content
  elseif field ~= '#' then
    ours = false
  end
  if not ours then
    garbage[#garbage + 1] = field
    named[#named + 1] = (string.gsub(field, '[\\128-\\255]', '?'))
  end
end
local reply, taken = {found, 'hash@' .. birth, named}, {}
hdel_all(key, garbage)
if #candidates == 0 and not any_lease then return reply end
local now = now_ms()
-- a take sent again (its reply lost) takes again what its lease holds
local held, lapsed = leases(all, now, 'l' .. ARGV[3])
for _, flash in ipairs(candidates) do
  if held[flash[1]] ~= flash[2] then
    taken[#taken + 1] = {flash[1], flash[2]}
    reply[#reply + 1] = flash[1]
    reply[#reply + 1] = flash[3]
  end
end
hdel_all(key, lapsed)
if #taken > 0 and ARGV[3] ~= '' then
  redis.call('HSET', key, 'l' .. ARGV[3],
    ms(now + tonumber(ARGV[4])) .. '|' .. cjson.encode(taken))
end
return reply
"""
)

# KEYS[1]: the visitor's hash; ARGV[1]: the token; ARGV[2]: the lease in
# milliseconds. Moves the lease's deadline, if the lease is still there.
RENEW: Final = (
    _COMMON
    + """
local field = 'l' .. ARGV[1]
local lease = redis.pcall('HGET', KEYS[1], field)
if type(lease) ~= 'string' then return 0 end
local rest = string.match(lease, '^%d+(|.*)$')
if not rest then return 0 end
redis.call('HSET', KEYS[1], field, ms(now_ms() + tonumber(ARGV[2])) .. rest)
return 1
"""
)

# KEYS[1]: the visitor's hash; or, with ARGV[1] == 'map', the key that maps
# the session cookie's hash to the visitor's id: the id there, else ARGV[2]
# (then stored there; if it is '', nothing is done). ARGV[3]: the prefix;
# ARGV[4]: the lease's token or ''; ARGV[5]: milliseconds to live; ARGV[6]:
# max_bytes or ''; ARGV[7]:
# this settle's own token: sent again (a client that lost the reply, or one
# that sends a command again by itself), a settle that wrote flashes is
# recognised by it (the key prefix .. 'settled:' .. token, kept a minute,
# or the visitor's time to live if shorter)
# and does nothing. ARGV[8]: when the hash the take saw was made ('' if it
# says nothing): if the hash is another one now, what was taken is gone and
# nothing of it is kept or consumed. Then (kind, field, version, entry) for
# each flash:
#   'k'  taken and kept: stays; rewritten with `entry` if that is not ''
#        and the field still holds that version
#   'c'  taken and consumed: removed if the field still holds that version
#        and no live lease of another request holds it
#   'v'  a value this request set: its key's field, with the next version
#   'm'  a message this request flashed: the next message field
# Returns {the id, {field, entry, ...} that gave way to max_bytes}.
SETTLE: Final = (
    _COMMON
    # the bytes of the empty stored form, as the session store counts them
    + f"local FRAME = {FRAME}\n"
    + """
local key, id = KEYS[1], ''
local ttl = tonumber(ARGV[5])
if ARGV[1] == 'map' then
  id = mapped(KEYS[1])
  if not id and ARGV[2] == '' then return {'', {}} end  -- a lease to free only
  if not id then
    id = ARGV[2]
    redis.call('SET', KEYS[1], id, 'PX', ttl)
  else
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
  key = ARGV[3] .. id
end
local counter = redis.pcall('HGET', key, '#')
-- another type, or a counter that is not the store's: versions stay below
-- 10^14, which a script writes as digits
if type(counter) == 'table'
    or (counter and not (string.match(counter, '^%d+$') and #counter <= 13)) then
  redis.call('DEL', key)
end
local same = (redis.call('HGET', key, '@') or '') == ARGV[8]
local function version_of(field)
  if not same then return nil end  -- another hash: its versions are others
  local content = redis.call('HGET', key, field)
  return content and string.match(content, '^(%d+)|')
end
local own = 0
for i = 9, #ARGV, 4 do
  if ARGV[i] == 'v' or ARGV[i] == 'm' then own = own + 1 end
end
local done = ARGV[3] .. 'settled:' .. ARGV[7]
if own > 0 then
  if redis.call('EXISTS', done) == 1 then return {id, {}} end  -- sent again
  redis.call('SET', done, '1', 'PX', math.min(ttl, 60000))
end
local number = 0
if own > 0 then
  if not redis.call('HGET', key, '#') then
    redis.call('HSET', key, '@', ms(now_ms()))  -- a new hash
  end
  number = redis.call('HINCRBY', key, '#', own) - own
end
local mine = 'l' .. ARGV[4]
local held = nil
local mine_field = {}
for i = 9, #ARGV, 4 do
  local kind, field, version, entry = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if kind == 'k' then
    if entry ~= '' and version_of(field) == version then
      redis.call('HSET', key, field, version .. '|' .. entry)
    end
  elseif kind == 'c' then
    if held == nil then
      held = leases(redis.call('HGETALL', key), now_ms(), mine)
    end
    if held[field] ~= version and version_of(field) == version then
      redis.call('HDEL', key, field)
    end
  else
    number = number + 1
    if kind == 'm' then field = 'm' .. number end
    mine_field[field] = true
    redis.call('HSET', key, field, number .. '|' .. entry)
  end
end
if ARGV[4] ~= '' then redis.call('HDEL', key, mine) end
local dropped = {}
local limit = tonumber(ARGV[6])
if limit then
  local all = redis.call('HGETALL', key)
  local values, messages, bytes = 0, 0, 0
  local others = {}
  for i = 1, #all, 2 do
    local field = all[i]
    local first = string.sub(field, 1, 1)
    local version, entry = string.match(all[i + 1], '^(%d+)|(.*)$')
    if (first == 'v' or first == 'm') and version then
      local size = #entry
      if first == 'v' then
        values = values + 1
        size = size + #field + 1  -- "key": entry, the key as JSON
      else
        messages = messages + 1
      end
      bytes = bytes + size
      if not mine_field[field] then
        others[#others + 1] = {
          field = field, entry = entry, size = size,
          number = tonumber(version), message = first == 'm' and 1 or 0,
          at = tonumber(string.match(entry, '^%[(%d+)')) or 0,
        }
      end
    end
  end
  local function total()
    if values + messages == 0 then return 0 end
    return FRAME + bytes + 2 * math.max(values - 1, 0) + 2 * math.max(messages - 1, 0)
  end
  if total() > limit then
    -- oldest first; within a second values first (by key), then messages
    -- in flash order
    table.sort(others, function(a, b)
      if a.at ~= b.at then return a.at < b.at end
      if a.message ~= b.message then return a.message < b.message end
      if a.message == 0 then return a.field < b.field end  -- values: by key
      return a.number < b.number
    end)
    for _, flash in ipairs(others) do
      if total() <= limit then break end
      redis.call('HDEL', key, flash.field)
      bytes = bytes - flash.size
      if flash.message == 1 then messages = messages - 1 else values = values - 1 end
      -- named only if it is a flash the store wrote (not data of another)
      if ascii(flash.field) and ascii(flash.entry)
          and pcall(cjson.decode, flash.entry) then
        dropped[#dropped + 1] = flash.field
        dropped[#dropped + 1] = flash.entry
      end
    end
  end
end
redis.call('PEXPIRE', key, ttl)
return {id, dropped}
"""
)
