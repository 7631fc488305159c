"""Session storages the property tests run on, and how to read what they hold."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiohttp_session import AbstractStorage, SimpleCookieStorage

from aiohttp_flashbag import DEFAULT_SESSION_KEY

from ..conftest import COOKIE, FernetCookies, unstamped


class Backend:
    """A kind of session storage, seen from the test's side."""

    name = "abstract"
    #: True when the cookie is the session: a write is a Set-Cookie
    cookie_holds_data = True

    def storage(self, state: Any) -> AbstractStorage:
        raise NotImplementedError

    async def begin(self) -> Any:
        """Per-run state (a connection, say)."""
        return None

    async def end(self, state: Any) -> None:
        return None

    async def session_data(self, state: Any, cookie: str) -> dict[str, Any]:
        raise NotImplementedError

    async def stored(self, state: Any, client: aiohttp.ClientSession) -> Any:
        """The flashbag entry the storage now holds for ``client``'s session."""
        cookie = next((m.value for m in client.cookie_jar if m.key == COOKIE), None)
        if not cookie:
            return None
        data = await self.session_data(state, cookie)
        return unstamped(data.get("session", {}).get(DEFAULT_SESSION_KEY))


class SimpleCookies(Backend):
    name = "SimpleCookieStorage"

    def storage(self, state: Any) -> AbstractStorage:
        return SimpleCookieStorage()

    async def session_data(self, state: Any, cookie: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(cookie)
        return data


class EncryptedCookies(Backend):
    name = "EncryptedCookieStorage"

    def __init__(self) -> None:
        self.cookies = FernetCookies()

    def storage(self, state: Any) -> AbstractStorage:
        return self.cookies.storage

    async def session_data(self, state: Any, cookie: str) -> dict[str, Any]:
        return self.cookies.read(cookie)


class Redis(Backend):
    """aiohttp-session's RedisStorage on a real redis-server."""

    name = "RedisStorage"
    cookie_holds_data = False

    def __init__(self, port: int) -> None:
        self.port = port

    async def begin(self) -> Any:
        from redis import asyncio as aioredis

        client = aioredis.Redis(host="127.0.0.1", port=self.port)
        await client.flushall()
        return client

    async def end(self, state: Any) -> None:
        await state.aclose()

    def storage(self, state: Any) -> AbstractStorage:
        from aiohttp_session.redis_storage import RedisStorage

        return RedisStorage(state)

    async def session_data(self, state: Any, cookie: str) -> dict[str, Any]:
        raw = await state.get(f"{COOKIE}_{cookie}")
        data: dict[str, Any] = json.loads(raw) if raw else {}
        return data


class Memcached(Backend):
    """aiohttp-session's MemcachedStorage on a real memcached."""

    name = "MemcachedStorage"
    cookie_holds_data = False

    def __init__(self, port: int) -> None:
        self.port = port

    async def begin(self) -> Any:
        import aiomcache

        client = aiomcache.Client("127.0.0.1", self.port)
        await client.flush_all()
        return client

    async def end(self, state: Any) -> None:
        await state.close()

    def storage(self, state: Any) -> AbstractStorage:
        from aiohttp_session.memcached_storage import MemcachedStorage

        return MemcachedStorage(state)

    async def session_data(self, state: Any, cookie: str) -> dict[str, Any]:
        raw = await state.get(f"{COOKIE}_{cookie}".encode())
        data: dict[str, Any] = json.loads(raw) if raw else {}
        return data


def cookie_backends() -> list[Backend]:
    return [SimpleCookies(), EncryptedCookies()]
