"""Flashes in Redis, one hash per visitor, changed one flash at a time.

The session keeps only the visitor's id, as ``{"__aiohttp_flashbag_redis__":
id}`` under the session key. A scope takes the visitor's flashes under a
lease when it opens (one script) and settles them when it commits (one
script): consumed, kept, or given back; its own flashes are written with a
new version each. The scripts and the hash's layout are in ``_redis_lua``;
why this is correct under every interleaving, a dead request and a Redis
outage is written out in docs/concurrency.rst.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import secrets
from typing import TYPE_CHECKING, Any, Final

import aiohttp_session
from aiohttp import web

from .. import _settings
from .._rule import Flash, logger, warn_dropped
from .._sessions import storage_kind
from . import _redis_lua
from ._base import Committed, FlashStore, Incoming, read_entry
from ._redis_form import (
    MARKER,
    VISITOR_ID,
    Taken,
    dropped_flashes,
    log_lost,
    positive,
    read_taken,
    refuse_old_redis_py,
    server_of,
    settle_args,
    text,
    visitor_id,
    warn_late,
)

if TYPE_CHECKING:
    import redis.asyncio

#: The expiry of a visitor's hash when neither ``setup(max_age=...)`` nor
#: the session storage's ``max_age`` gives one.
DEFAULT_TTL: Final = 24 * 3600
#: The longest expiry Redis keeps (milliseconds past now fit a signed 64-bit
#: number, with room for the clock).
MAX_TTL_MS: Final = 2**62


class RedisFlashStore(FlashStore):
    """Flashes in Redis: no concurrent request of a visitor can lose or
    repeat another's flash, a dead request loses nothing, and Redis being
    away is never a 500 (see :doc:`concurrency`).

    ``client`` is a :class:`redis.asyncio.Redis` of redis-py 4.5.4 or later
    (one that returns bytes or one with ``decode_responses=True``). The
    visitor's flashes are the fields of the hash ``prefix + id``, which
    expires ``max_age`` seconds after its last write (the session storage's
    ``max_age`` with ``setup(max_age=None)``, else a day). ``lease``:
    seconds that what a request took stays aside if the request dies
    (renewed while it runs).
    ``timeout``: seconds a Redis call may take before the store gives up
    on it (the page goes on without flashes).
    """

    def __init__(
        self,
        client: redis.asyncio.Redis,
        *,
        prefix: str = "aiohttp_flashbag:",
        lease: float = 15,
        timeout: float = 1,
    ) -> None:
        import redis  # redis is an optional extra

        refuse_old_redis_py(redis.__version__)
        if isinstance(client, redis.Redis):  # the blocking client
            raise TypeError(
                "RedisFlashStore needs a client of redis.asyncio (from redis "
                "import asyncio as aioredis; aioredis.Redis(...)), got the "
                f"blocking {type(client).__name__}"
            )
        if not isinstance(prefix, str) or not prefix:
            raise ValueError(f"prefix must be a non-empty str, got {prefix!r}")
        self.client = client
        self.prefix = prefix
        # A lease hides what a request took from the visitor's other pages:
        # a day is longer than any request.
        self.lease = positive("lease", lease, 86_400)
        self.timeout = positive("timeout", timeout, 86_400)
        self._take = client.register_script(_redis_lua.TAKE)
        self._renew = client.register_script(_redis_lua.RENEW)
        self._settle = client.register_script(_redis_lua.SETTLE)
        self._reachable = True
        self._warned_late = False
        self._errors = (redis.exceptions.RedisError, OSError, asyncio.TimeoutError)
        self._broken = (redis.exceptions.ConnectionError, ConnectionError)

    def __repr__(self) -> str:
        return (
            f"RedisFlashStore({self.client!r}, prefix={self.prefix!r}, "
            f"lease={self.lease!r}, timeout={self.timeout!r})"
        )

    def redis_key(self, visitor: str) -> str:
        """The Redis key of the hash that holds ``visitor``'s flashes."""
        return self.prefix + visitor

    def check(self, settings: _settings.Settings) -> None:
        """``ValueError`` for a ``max_age`` Redis cannot keep as an expiry."""
        max_age = settings.max_age
        if max_age is not None and math.ceil(1000 * max_age) > MAX_TTL_MS:
            raise ValueError(
                f"max_age={max_age!r} is longer than Redis keeps an expiry "
                f"({MAX_TTL_MS // 1000} seconds at most)"
            )

    def same_place(self, other: FlashStore) -> bool:
        """Do ``other``'s flashes live where this store's do? The same
        prefix in the same database of the same server, whatever else the
        two clients were made with (two clients of one URL are never equal
        in every setting).
        """
        return isinstance(other, RedisFlashStore) and (
            self.prefix,
            server_of(self.client),
        ) == (other.prefix, server_of(other.client))

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        """One script call within ``timeout``; a failure is logged once per
        outage and raised again.
        """
        try:
            reply = await asyncio.wait_for(
                self._twice(script, keys, args), timeout=self.timeout
            )
        except self._errors as exc:
            if self._reachable:
                self._reachable = False
                logger.error(
                    "The Redis flash store cannot reach Redis (%s: %s); pages go "
                    "on without flashes until it is back",
                    type(exc).__name__,
                    exc or f"no answer within {self.timeout:g} seconds",
                )
            raise
        if not self._reachable:
            self._reachable = True
            logger.warning("The Redis flash store reaches Redis again")
        return reply

    async def _twice(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        """A script call, sent once more if the connection broke: a pooled
        connection that Redis closed (a restart) fails only when it is used.
        The scripts are safe to run twice (``_redis_lua``).
        """
        try:
            return await script(keys=keys, args=args)
        except self._broken:
            return await script(keys=keys, args=args)

    def _cookie_map(self, request: web.Request) -> str | None:
        """The key that maps the sent session cookie to an id: by a hash of
        the cookie, never the cookie itself.
        """
        storage = request[aiohttp_session.STORAGE_KEY]
        sent = request.cookies.get(storage.cookie_name)
        # Only cookies no two sessions share: a random key (server-side
        # storages), or sealed with a random nonce. A plain cookie is the
        # session's JSON, the same for two sessions with the same data, and
        # a custom storage's may be too.
        if not sent or storage_kind(storage)[0] not in ("server", "sealed cookie"):
            return None
        # (a byte that is not UTF-8 arrives as a lone surrogate)
        sent_bytes = f"{storage.cookie_name}={sent}".encode("utf-8", "surrogatepass")
        digest = hashlib.sha256(sent_bytes).hexdigest()
        return f"{self.prefix}session:{digest}"

    async def load(
        self,
        request: web.Request,
        session: aiohttp_session.Session | None,
        settings: _settings.Settings,
    ) -> Incoming:
        if session is None:  # known empty: this store keeps its id in it
            session = await aiohttp_session.get_session(request)
        key, max_age = settings.session_key, settings.max_age
        storage = request[aiohttp_session.STORAGE_KEY]
        # The key lives max_age, else as long as the session; a flash's age
        # is bounded by max_age alone (docs/lifecycle.rst, "Bounded life in
        # time").
        lives = max_age if max_age is not None else storage.max_age
        ttl = min(math.ceil(1000 * (lives or DEFAULT_TTL)), MAX_TTL_MS)
        found = key in session
        visitor = visitor_id(session[key]) if found else None
        # A new session has no cookie yet: the one sent (expired, say) is
        # another session's.
        cookie_map = None if session.new else self._cookie_map(request)
        taken = Taken(session, tuple(session), visitor, found, cookie_map, ttl)
        if found and visitor is None:
            return Incoming(
                self._from_session(request, session[key], settings),
                rewrite=True,
                found=True,
                state=taken,
            )
        if visitor is not None:
            keys, mode = [self.redis_key(visitor)], "id"
        elif (
            # A server-side session rewritten by a concurrent request that
            # never saw the id: its cookie still leads to it.
            cookie_map is not None and storage_kind(storage)[0] == "server"
        ):
            keys, mode = [cookie_map], "map"
        else:
            return Incoming(state=taken)
        # A WebSocket leaves flashes as they are (docs/lifecycle.rst, "A
        # streamed response"), and may stay open for hours: it reads what
        # waits without a lease, which would hide it from the visitor's pages.
        if request.headers.get("Upgrade", "").lower() != "websocket":
            taken.token = secrets.token_urlsafe(12)
        lease = math.ceil(1000 * self.lease)
        loop = asyncio.get_running_loop()
        sent = loop.time()
        try:
            reply = await self._call(
                self._take, keys, [mode, self.prefix, taken.token, lease]
            )
        except self._errors:
            taken.lost = True  # the commit frees its lease, if Redis ran it
            return Incoming(found=found, state=taken, settle=True)
        # The lease runs from when Redis ran the take, at the earliest when
        # it was sent: an answer that took half the lease or more may come
        # after another request took the flashes again (docs/concurrency.rst,
        # "Leases"). They are not shown: they wait for the next page.
        late = loop.time() - sent
        if taken.token and late >= self.lease / 2:
            if not self._warned_late:  # else no page might ever show a flash
                self._warned_late = True
                warn_late(late, self.lease)
            taken.lost = True
            return Incoming(found=found, state=taken, settle=True)
        if mode == "map" and reply[0]:
            taken.visitor = text(reply[0])
            if not VISITOR_ID.fullmatch(taken.visitor):
                taken.visitor = None
        taken.birth = text(reply[1]).partition("@")[2]
        flashes, taken.taken = read_taken(reply, settings.clock(), max_age)
        if taken.taken and taken.token:
            self._renew_later(taken, asyncio.current_task(), self.lease / 3 - late)
        # What it took is settled at the commit, even if none of it came in
        # (expired) and the session holds no id (found through the map).
        return Incoming(flashes, found=found, state=taken, settle=bool(taken.taken))

    def _from_session(
        self, request: web.Request, raw: Any, settings: _settings.Settings
    ) -> list[Flash]:
        """Flashes kept in the session itself, by aiohttp-flashbag 0.0.3 or
        by the session store (an upgrade to this store): read as incoming,
        and moved to Redis if they travel on. Anything else is logged.
        """
        loaded = read_entry(raw, settings, ", not a visitor id")
        if loaded is None:
            return []
        storage = request[aiohttp_session.STORAGE_KEY]
        if storage_kind(storage)[0] == "plain cookie":
            for flash in loaded.flashes:  # the client wrote it: no Markup
                flash.safe = False
        return loaded.flashes

    # -- leases -------------------------------------------------------------------

    def _renew_later(
        self, taken: Taken, task: asyncio.Task[Any] | None, delay: float
    ) -> None:
        """Renew the lease ``delay`` seconds from now (a third of the way
        through it, counted from when the last take or renewal was sent),
        while ``task`` (the request) runs: a slow request keeps what it took,
        a dead one does not.
        """

        def renew() -> None:
            if taken.settled or task is None or task.done():
                return  # settled, or nobody left to settle: it runs out
            taken.renewing = asyncio.ensure_future(self._renew_now(taken, task))

        loop = asyncio.get_running_loop()
        taken.renewal = loop.call_later(max(delay, 0), renew)

    async def _renew_now(self, taken: Taken, task: asyncio.Task[Any]) -> None:
        assert taken.visitor is not None
        lease = math.ceil(1000 * self.lease)
        sent = asyncio.get_running_loop().time()
        # A failure is logged once per outage; the next renewal tries again.
        with contextlib.suppress(*self._errors):
            await self._call(
                self._renew, [self.redis_key(taken.visitor)], [taken.token, lease]
            )
        if not taken.settled:
            late = asyncio.get_running_loop().time() - sent
            self._renew_later(taken, task, self.lease / 3 - late)

    def _stop_renewing(self, taken: Taken) -> None:
        taken.settled = True
        if taken.renewal is not None:
            taken.renewal.cancel()

    # -- the commit ---------------------------------------------------------------

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
        taken: Taken = incoming.state
        self._stop_renewing(taken)
        # A take whose answer was lost may have left a lease: freed if Redis
        # answers again (else it runs out: a page waits once, not twice).
        taken.lost = taken.lost and self._reachable
        visitor = taken.visitor
        if taken.lost and taken.token and visitor is None and taken.cookie_map:
            # A take through the cookie's map: the id, and the lease, are
            # found there again.
            await self._settle_or_log(
                taken, "", [], None, taken.cookie_map, consume=False
            )
        if stored is None:  # the request never happened for flashes
            if visitor is not None and (taken.taken or taken.lost) and taken.token:
                await self._settle_or_log(taken, visitor, [], None, consume=False)
            return Committed()
        # new_session() replaces the session; invalidate() empties it (of the
        # id, or of every key it had: a key deleted alone is not a switch).
        if taken.in_session:
            switched = visitor_id(session.get(key)) != visitor
        else:
            switched = bool(taken.keys) and not any(k in session for k in taken.keys)
        if switched or session is not taken.session:
            if visitor is not None and taken.taken:  # flashes never cross
                await self._settle_or_log(taken, visitor, [], None)
            taken.taken, taken.token, visitor = [], "", None
            stored = [f for f in stored if f.own]
            cookie_map = None
        else:
            cookie_map = taken.cookie_map
        if visitor is None and not stored:
            if key in session:  # data that is not an id, or an old id
                del session[key]
                return Committed(True)
            return Committed()
        if visitor is None:  # a first flash: the racing requests of this
            # session share the cookie they came with, and so the id
            made = secrets.token_urlsafe(16)
            used, dropped = await self._settle_or_log(
                taken, made, stored, max_bytes, cookie_map
            )
            if used is None:
                return Committed()
            session[key] = {MARKER: used}
            return Committed(True, dropped)
        if not stored and not taken.taken and not taken.lost:
            return Committed()  # nothing taken, nothing to keep: not a command
        mapped = None if taken.in_session else cookie_map
        _, dropped = await self._settle_or_log(
            taken, visitor, stored, max_bytes, mapped
        )
        return Committed(False, dropped)

    async def _settle_or_log(
        self,
        taken: Taken,
        visitor: str,
        stored: list[Flash],
        max_bytes: int | None,
        cookie_map: str | None = None,
        *,
        consume: bool = True,
    ) -> tuple[str | None, list[Flash]]:
        """Settle what ``taken`` holds (what ``stored`` does not keep is
        consumed; ``consume=False``: given back as it was) and write
        ``stored``'s own flashes, in one script call; the id used, or
        ``None`` (logged) if Redis failed, and what gave way to ``max_bytes``.
        """
        args = settle_args(stored, taken.taken if consume else [])
        mode = "id" if cookie_map is None else "map"
        keys = [self.redis_key(visitor) if cookie_map is None else cookie_map]
        bound = "" if max_bytes is None else max_bytes
        once = secrets.token_urlsafe(12)  # recognises this settle if sent again
        head = [mode, visitor, self.prefix, taken.token, taken.ttl, bound, once]
        head.append(taken.birth)
        try:
            reply = await self._call(self._settle, keys, head + args)
        except self._errors:
            log_lost(stored, self.lease)  # an ERROR only if own flashes are lost
            return None, []
        used = text(reply[0]) if reply[0] else visitor
        dropped = dropped_flashes(reply[1], stored) if reply[1] else []
        if dropped:
            warn_dropped(dropped, f"over max_bytes={max_bytes}")
        return used, dropped
