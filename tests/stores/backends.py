"""The places flashes can live, as the contract suite sees them.

A ``Place`` is a session storage (aiohttp-session's own, on a real server
where it has one) and, optionally, a flash store. The session storages come
from ``tests/support/backends.py``; the server-side ones get a ``max_age``, as
docs/workers.rst tells users to give them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp_session import AbstractStorage
from redis import asyncio as aioredis

from aiohttp_flashbag.stores import FlashStore, RedisFlashStore

from ..support import backends

#: The session storages' own ``max_age``: far beyond any test's clock moves.
SESSION_AGE = 24 * 3600
#: The Redis database of the flash store (the session storage uses 0).
STORE_DB = 6
#: Redis commands that write, counted by the server (scripts' own included).
#: Commands that write; those a script runs count one by one (a script that
#: only reads, as the Redis store's look-up of an id, writes nothing).
REDIS_WRITES = frozenset(
    {
        "set",
        "setex",
        "setnx",
        "del",
        "unlink",
        "hset",
        "hsetnx",
        "hdel",
        "hincrby",
        "incr",
        "pexpire",
        "expire",
    }
)


async def redis_writes(client: aioredis.Redis) -> int:
    """Write commands the Redis server of ``client`` has run so far."""
    stats = await client.info("commandstats")
    return sum(
        int(value["calls"])
        for name, value in stats.items()
        if name.removeprefix("cmdstat_").split("|")[0] in REDIS_WRITES
    )


class RedisSessions(backends.Redis):
    def storage(self, state: Any) -> AbstractStorage:
        from aiohttp_session.redis_storage import RedisStorage

        return RedisStorage(state, max_age=SESSION_AGE)


class MemcachedSessions(backends.Memcached):
    def storage(self, state: Any) -> AbstractStorage:
        from aiohttp_session.memcached_storage import MemcachedStorage

        return MemcachedStorage(state, max_age=SESSION_AGE)


class Place:
    """Flashes in the session of ``sessions``' storage (the default store).

    ``markup_trusted``: a ``Markup`` flashed in one request comes back as
    ``Markup`` in the next (docs/safe-html.rst).
    """

    #: flashes live in a store of their own (which needs ``setup()``)
    has_store = False

    def __init__(self, sessions: backends.Backend, *, markup_trusted: bool) -> None:
        self.sessions = sessions
        self.markup_trusted = markup_trusted
        self.state: Any = None

    @property
    def name(self) -> str:
        return self.sessions.name

    async def open(self) -> None:
        self.state = await self.sessions.begin()

    async def close(self) -> None:
        await self.sessions.end(self.state)

    def storage(self) -> AbstractStorage:
        """A new session storage instance, for one app."""
        return self.sessions.storage(self.state)

    def store(self) -> FlashStore | None:
        """A new flash store, for one app (``None``: the session)."""
        return None

    def settings(self, settings: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The keyword arguments of ``setup()`` for ``settings`` (``None``:
        no ``setup()`` call) with this place's store.
        """
        store = self.store()
        if store is None:
            return None if settings is None else dict(settings)
        return {**(settings or {}), "store": store}

    async def writes(self) -> int:
        """Writes the servers behind this place have taken so far (cookie
        storages have none: their writes are ``Set-Cookie`` headers).
        """
        if isinstance(self.sessions, backends.Redis):
            return await redis_writes(self.state)
        if isinstance(self.sessions, backends.Memcached):
            stats = await self.state.stats()
            return int(stats[b"cmd_set"])
        return 0


class RedisStorePlace(Place):
    """Flashes in ``RedisFlashStore`` on a real redis-server; the session
    (of ``sessions``' storage) keeps only the visitor's id.
    """

    has_store = True

    def __init__(self, sessions: backends.Backend, port: int) -> None:
        super().__init__(sessions, markup_trusted=True)
        self.client = aioredis.Redis(host="127.0.0.1", port=port, db=STORE_DB)

    @property
    def name(self) -> str:
        return f"RedisFlashStore over {self.sessions.name}"

    async def open(self) -> None:
        await super().open()
        await self.client.flushdb()

    async def close(self) -> None:
        await self.client.aclose()
        await super().close()

    def store(self) -> FlashStore:
        return RedisFlashStore(self.client)

    async def writes(self) -> int:
        if isinstance(self.sessions, backends.Redis):  # the same server
            return await super().writes()
        return await super().writes() + await redis_writes(self.client)
