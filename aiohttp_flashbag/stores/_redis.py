"""Flashes in Redis, one hash per visitor, changed one flash at a time.

The session keeps only the visitor's id, under the session key. The
visitor's flashes are the fields of the hash ``prefix + id``: a keyed value
under ``v`` + its key as JSON (a new set replaces it), a message under ``m``
+ a number that grows with every message (so fields are unique and sort in
flash order), and the counter itself under ``#``. Each field holds the
flash's entry of the stored form, as JSON (``_rule.entry``).

A scope takes the visitor's flashes when it opens (one script: read the hash
and remove its flashes) and gives back, when it commits, what the lifecycle
rule keeps (one script: write those fields, bound the whole hash by
``max_bytes``, set the expiry). Why that is correct under every interleaving
is written out in docs/concurrency.rst, "Why no flash is lost or shown
twice".
"""

from __future__ import annotations

import json
import math
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import aiohttp_session
from aiohttp import web

from .. import _settings
from .._rule import Flash, entry, logger, warn_dropped
from .._stored import decode
from ._base import Committed, FlashStore, Incoming

if TYPE_CHECKING:
    import redis.asyncio


#: The expiry of a visitor's hash when neither ``setup(max_age=...)`` nor
#: the session storage's ``max_age`` gives one.
DEFAULT_TTL: Final = 24 * 3600
#: What ``secrets.token_urlsafe(16)`` makes: 128 random bits.
_VISITOR_ID: Final = re.compile(r"[A-Za-z0-9_-]{22}")
_COUNTER: Final = "#"
_MESSAGE_FIELD: Final = re.compile(r"m[1-9][0-9]{0,18}")

# KEYS[1]: the visitor's hash. Returns what it held, field and entry by
# turns, and leaves only the message counter.
_TAKE: Final = """
local all = redis.call('HGETALL', KEYS[1])
local fields = {}
for i = 1, #all, 2 do
  if all[i] ~= '#' then
    fields[#fields + 1] = all[i]
    if #fields == 1000 then
      redis.call('HDEL', KEYS[1], unpack(fields))
      fields = {}
    end
  end
end
if #fields > 0 then
  redis.call('HDEL', KEYS[1], unpack(fields))
end
return all
"""

# KEYS[1]: the visitor's hash. ARGV[1]: milliseconds to live; ARGV[2]:
# max_bytes, or '' for no bound; then (kind, field, entry) for each flash
# given back, in stored order:
#   'v'  a value this request set: replaces the field
#   'm'  a message this request flashed: gets the next message field
#   'c'  a flash this request took: back under its field; a value only
#        where no newer one was set meanwhile
# Every write comes after every check that can fail, so an error stores
# nothing. Returns the flashes that gave way to max_bytes, field and entry
# by turns.
_GIVE_BACK: Final = """
local key = KEYS[1]
local function set_at(entry)
  return tonumber(string.match(entry, '^%[(%d+)'))
end
local new_messages = 0
for i = 3, #ARGV, 3 do
  if ARGV[i] == 'm' then new_messages = new_messages + 1 end
end
local number = 0
if new_messages > 0 then
  number = redis.call('HINCRBY', key, '#', new_messages) - new_messages
end
local own = {}
for i = 3, #ARGV, 3 do
  local kind, field, entry = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if kind == 'm' then
    number = number + 1
    field = 'm' .. number
  end
  if kind == 'c' then
    local current = redis.call('HGET', key, field)
    local current_at = current and set_at(current)
    if not current_at or current_at < set_at(entry) then
      redis.call('HSET', key, field, entry)
    end
  else
    own[field] = true
    redis.call('HSET', key, field, entry)
  end
end
local dropped = {}
local limit = tonumber(ARGV[2])
if limit then
  local all = redis.call('HGETALL', key)
  local values, messages, bytes = 0, 0, 0
  local others = {}
  for i = 1, #all, 2 do
    local field, entry = all[i], all[i + 1]
    local kind = string.sub(field, 1, 1)
    if kind == 'v' or kind == 'm' then
      local size, number = #entry, 0
      if kind == 'v' then
        values = values + 1
        size = size + #field + 1  -- "key": entry, the key as JSON
      else
        messages = messages + 1
        number = tonumber(string.sub(field, 2)) or 0
      end
      bytes = bytes + size
      if not own[field] then
        others[#others + 1] = {
          field = field, entry = entry, size = size, number = number,
          at = set_at(entry) or 0, message = kind == 'm' and 1 or 0,
        }
      end
    end
  end
  local function total()
    if values + messages == 0 then return 0 end
    return 11 + bytes + 2 * math.max(values - 1, 0) + 2 * math.max(messages - 1, 0)
  end
  if total() > limit then
    -- oldest first; within a second values first, each in stored order
    table.sort(others, function(a, b)
      if a.at ~= b.at then return a.at < b.at end
      if a.message ~= b.message then return a.message < b.message end
      if a.number ~= b.number then return a.number < b.number end
      return a.field < b.field
    end)
    for _, flash in ipairs(others) do
      if total() <= limit then break end
      redis.call('HDEL', key, flash.field)
      bytes = bytes - flash.size
      if flash.message == 1 then messages = messages - 1 else values = values - 1 end
      dropped[#dropped + 1] = flash.field
      dropped[#dropped + 1] = flash.entry
    end
  end
end
redis.call('PEXPIRE', key, ARGV[1])
return dropped
"""


@dataclass
class _Taken:
    """What a scope took: the store's ``Incoming.state``."""

    #: the session the scope opened with
    session: aiohttp_session.Session
    #: the visitor's id in that session, if it held a valid one
    visitor: str | None
    #: milliseconds the visitor's hash lives after a write
    ttl: int


def _text(raw: Any) -> str:
    """A reply item as text (the client may or may not decode responses)."""
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _value_field(key: str) -> str:
    return "v" + json.dumps(key)


class RedisFlashStore(FlashStore):
    """Flashes in Redis: no concurrent request of a visitor can lose or
    repeat another's flash (see :doc:`concurrency`).

    ``client`` is a :class:`redis.asyncio.Redis` (one that returns bytes or
    one with ``decode_responses=True``). The session keeps only a random id
    under the session key; the visitor's flashes are the fields of the Redis
    hash ``prefix + id``, which expires ``max_age`` seconds after its last
    write (the session storage's ``max_age`` with ``setup(max_age=None)``,
    else a day). A scoped request takes the visitor's flashes atomically when
    its scope opens and gives back what the lifecycle keeps when it ends:
    at most one script call each, none for a visitor who never stored a
    flash, none outside every scope. Errors of the client propagate: the request
    fails, and nothing is stored in part.
    """

    def __init__(
        self, client: redis.asyncio.Redis, *, prefix: str = "aiohttp_flashbag:"
    ) -> None:
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, got {prefix!r}")
        self.client = client
        self.prefix = prefix
        self._take = client.register_script(_TAKE)
        self._give_back = client.register_script(_GIVE_BACK)

    def __repr__(self) -> str:
        return f"RedisFlashStore({self.client!r}, prefix={self.prefix!r})"

    def redis_key(self, visitor: str) -> str:
        """The Redis key of the hash that holds ``visitor``'s flashes."""
        return self.prefix + visitor

    async def load(
        self,
        request: web.Request,
        session: aiohttp_session.Session,
        settings: _settings.Settings,
    ) -> Incoming:
        key, max_age = settings.session_key, settings.max_age
        if max_age is None:
            max_age = request[aiohttp_session.STORAGE_KEY].max_age
        ttl = math.ceil(1000 * (DEFAULT_TTL if max_age is None else max_age))
        if key not in session:
            return Incoming(state=_Taken(session, None, ttl))
        visitor = session[key]
        if not (isinstance(visitor, str) and _VISITOR_ID.fullmatch(visitor)):
            logger.warning(
                "Ignoring unrecognised data under session key %r (a %s, not a "
                "visitor id); it is treated as no flashes and replaced at the "
                "next commit",
                key,
                type(visitor).__name__,
            )
            return Incoming(rewrite=True, found=True, state=_Taken(session, None, ttl))
        reply = await self._take(keys=[self.redis_key(visitor)])
        flashes = self._read(reply, visitor, settings.clock(), settings.max_age)
        return Incoming(flashes, found=True, state=_Taken(session, visitor, ttl))

    def _read(
        self, reply: list[Any], visitor: str, now: float, max_age: float | None
    ) -> list[Flash]:
        """The flashes of a taken hash, keyed values first, then messages."""
        values: list[Flash] = []
        messages: list[tuple[int, Flash]] = []
        unrecognised: list[str] = []
        for i in range(0, len(reply) - 1, 2):
            field, raw = _text(reply[i]), reply[i + 1]
            if field == _COUNTER:
                continue
            try:
                item = json.loads(raw)
                if _MESSAGE_FIELD.fullmatch(field):
                    loaded = decode([2, {}, [item]], now, max_age)
                elif field.startswith("v"):
                    name = json.loads(field[1:])
                    if type(name) is not str:
                        raise ValueError(field)
                    loaded = decode([2, {name: item}, []], now, max_age)
                else:
                    raise ValueError(field)
            except (ValueError, RecursionError):
                loaded = None
            if loaded is None:
                unrecognised.append(field)
                continue
            for flash in loaded.flashes:  # none if expired or refused
                flash.ref = field
                if flash.message:
                    messages.append((int(field[1:]), flash))
                else:
                    values.append(flash)
        if unrecognised:
            logger.warning(
                "Ignoring %d unrecognised field(s) in %r: %s; they are treated "
                "as no flashes and dropped",
                len(unrecognised),
                self.redis_key(visitor),
                ", ".join(map(repr, sorted(unrecognised))),
            )
        values.sort(key=lambda f: (f.set_at, f.ref))
        messages.sort(key=lambda pair: pair[0])
        return [*values, *(flash for _, flash in messages)]

    async def commit(
        self,
        request: web.Request,
        response: web.StreamResponse | None,
        session: aiohttp_session.Session,
        settings: _settings.Settings,
        incoming: Incoming,
        stored: list[Flash] | None,
    ) -> Committed:
        key, max_bytes = settings.session_key, settings.max_bytes
        taken: _Taken = incoming.state
        if stored is None:  # the request never happened for flashes
            if taken.visitor is not None and incoming.flashes:
                await self._put(taken.visitor, incoming.flashes, taken.ttl, None)
            return Committed()
        visitor = taken.visitor
        if session is not taken.session or session.get(key) != visitor:
            visitor = None  # a new session gets a new id
        if not stored:
            if visitor is None and key in session:
                del session[key]  # data that is not an id, or an old id
                return Committed(True)
            return Committed()
        changed = visitor is None
        if visitor is None:
            visitor = secrets.token_urlsafe(16)
            session[key] = visitor
        dropped = await self._put(visitor, stored, taken.ttl, max_bytes)
        return Committed(changed, dropped)

    async def _put(
        self, visitor: str, flashes: list[Flash], ttl: int, max_bytes: int | None
    ) -> list[Flash]:
        """Give ``flashes`` back to ``visitor``'s hash in one script call."""
        args: list[Any] = [ttl, "" if max_bytes is None else max_bytes]
        for flash in flashes:
            if not flash.own:
                kind, field = "c", flash.ref
            elif flash.message:
                kind, field = "m", ""
            else:
                kind, field = "v", _value_field(flash.key)
            args += (kind, field, json.dumps(entry(flash)))
        reply = await self._give_back(keys=[self.redis_key(visitor)], args=args)
        dropped = []
        for i in range(0, len(reply) - 1, 2):
            field, item = _text(reply[i]), json.loads(reply[i + 1])
            if field[0] == "v":
                dropped.append(Flash(json.loads(field[1:]), item[1], item[0], False))
            else:
                dropped.append(Flash(item[1], item[2], item[0], True))
        if dropped:
            warn_dropped(dropped, f"over max_bytes={max_bytes}")
        return dropped
