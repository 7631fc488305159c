"""Session writes counted by the Redis server itself (INFO commandstats)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp_session.redis_storage import RedisStorage
from redis import asyncio as aioredis

from ..conftest import COOKIE, Client
from ..support.opsapp import ops_app, ops_headers

# Commands the test's own admin connection sends; everything else is the app.
ADMIN = {"info", "config", "client", "hello", "flushall", "ping", "select"}


@pytest.fixture
async def admin(redis_port: int) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis(host="127.0.0.1", port=redis_port)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
async def client(
    aiohttp_client: Any, redis_port: int, admin: aioredis.Redis
) -> AsyncIterator[Client]:
    app_redis = aioredis.Redis(host="127.0.0.1", port=redis_port)
    c: Client = await aiohttp_client(ops_app(RedisStorage(app_redis)))
    yield c
    await app_redis.aclose()


async def commands(admin: aioredis.Redis) -> dict[str, int]:
    """Calls per command since the last reset, the admin's own left out."""
    stats = await admin.info("commandstats")
    counts = {
        name.removeprefix("cmdstat_"): int(value["calls"])
        for name, value in stats.items()
    }
    return {name: n for name, n in counts.items() if name.split("|")[0] not in ADMIN}


async def reset(admin: aioredis.Redis) -> None:
    await admin.config_resetstat()


async def test_unscoped_requests_send_no_redis_command(
    client: Client, admin: aioredis.Redis
) -> None:
    await client.get("/scoped", headers=ops_headers([["set", "a", 1]]))
    assert COOKIE in {m.key for m in client.session.cookie_jar}
    await reset(admin)
    for _ in range(20):
        assert (await client.get("/asset")).status == 200
    assert await commands(admin) == {}
    # and the flash is still there
    resp = await client.get("/scoped", headers=ops_headers([["get", "a"]]))
    assert resp.headers["X-Results"] == "[1]"


async def test_scoped_requests_with_nothing_to_do_never_write(
    client: Client, admin: aioredis.Redis
) -> None:
    await reset(admin)
    for _ in range(5):  # an anonymous visitor: not even a read
        await client.get("/scoped", headers=ops_headers([["get", "a"]]))
    assert await commands(admin) == {}

    await client.get("/scoped", headers=ops_headers([["set", "a", 1]]))
    await client.get("/scoped", headers=ops_headers([["get", "a"]]))  # consumes
    await reset(admin)
    for _ in range(5):  # a visitor with a session and nothing to show
        await client.get("/scoped", headers=ops_headers([["get", "a"]]))
    counts = await commands(admin)
    assert counts.get("set", 0) == 0
    assert set(counts) <= {"get"}


async def test_a_page_that_consumes_a_flash_writes_once(
    client: Client, admin: aioredis.Redis
) -> None:
    await client.get("/scoped", headers=ops_headers([["flash", "Saved"]]))
    await reset(admin)
    resp = await client.get("/scoped", headers=ops_headers([["messages", False, []]]))
    assert resp.headers["X-Results"] == '[["Saved"]]'
    assert await commands(admin) == {"get": 1, "set": 1}
