"""More probes from the outside (docs/concurrency.rst, docs/streamed.rst,
docs/htmx.rst, docs/testing.rst, docs/sizes.rst): what a tester who reads
only the docs would try, as an attacker and as a careless user, past the
probes of tests/contract/test_from_outside.py. Each test names the rule it
holds the library to; interleavings are forced with gates and with the
Redis proxy of tests/support/redisproxy.py, never hoped for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from redis import asyncio as aioredis

import aiohttp_flashbag as fb

from ..conftest import Client
from ..stores import test_redis_store
from ..stores.test_redis_store import (
    DB,
    PREFIX,
    SHOW,
    Make,
    held_at_gate,
    page,
    release,
    store_app,
    visitor,
)
from ..support.redisproxy import Proxy

# The fixtures of tests/stores/test_redis_store.py: the store's database,
# emptied (admin), the app's connection, and clients of a store app.
admin = test_redis_store.admin
app_redis = test_redis_store.app_redis
make = test_redis_store.make


@pytest.fixture
async def proxy(redis_port: int) -> AsyncIterator[Proxy]:
    p = Proxy(redis_port)
    await p.start()
    yield p
    await p.close()


@pytest.fixture
async def proxied(proxy: Proxy) -> AsyncIterator[aioredis.Redis]:
    """The app's client, through the proxy."""
    client = aioredis.Redis(host="127.0.0.1", port=proxy.port, db=DB)
    yield client
    with contextlib.suppress(Exception):
        await client.aclose()


async def lease_lapsed(admin: aioredis.Redis, key: str) -> None:
    """Wait until a lease is in ``key`` and every lease in ``key`` has run out by Redis's own clock
    (no time is asserted: the lease's deadline is read from Redis).
    """
    deadlines: list[int] = []
    while not deadlines:  # the take has run in Redis once a lease is there
        fields = await admin.hgetall(key)
        deadlines = [
            int(content.split(b"|", 1)[0])
            for name, content in fields.items()
            if name.startswith(b"l")
        ]
        await asyncio.sleep(0.01)
    while True:
        seconds, micros = await admin.time()
        if seconds * 1000 + micros // 1000 > max(deadlines):
            return
        await asyncio.sleep(0.05)


def share_cookies(source: Client, target: Client) -> None:
    """The browser's cookies, sent to another worker of the site."""
    target.session.cookie_jar.update_cookies(
        {m.key: m.value for m in source.session.cookie_jar},
        response_url=target.make_url("/"),
    )


# -- the Redis store: leases ---------------------------------------------------------


async def test_redis_take_answered_after_its_lease_ran_out_shows_nothing(
    aiohttp_client: Any,
    proxied: aioredis.Redis,
    proxy: Proxy,
    admin: aioredis.Redis,
    app_redis: aioredis.Redis,
) -> None:
    """docs/concurrency.rst, "The guarantee": no flash is shown twice, and a
    request still in flight never loses its lease. Redis takes the flashes
    for a request, and its answer comes back after the lease ran out
    (``timeout`` longer than ``lease``, a slow network): another page of the
    visitor (on another worker, whose Redis answers) has taken the flash
    meanwhile, so the late request must not show it too.
    """
    options = {"lease": 0.5, "timeout": 30}
    client: Client = await aiohttp_client(store_app(proxied, store_options=options))
    worker: Client = await aiohttp_client(store_app(app_redis, store_options=options))
    await page(client, ["flash", "once"], end="303")
    await page(client, end="HEAD")  # Redis knows the scripts: one call each
    ident = await visitor(client)
    proxy.hold()
    late = asyncio.create_task(page(client, SHOW))
    await lease_lapsed(admin, PREFIX + ident)
    share_cookies(client, worker)
    other = await page(worker, SHOW)
    proxy.release()
    results = [(await late)[0], other[0]]
    assert results.count([["message", "once"]]) == 1, results


async def test_redis_hash_gone_mid_request_a_newer_flash_survives(
    make: Make, admin: aioredis.Redis
) -> None:
    """docs/concurrency.rst, "The guarantee": no flash is lost to a
    concurrent request. The visitor's hash goes away while a page that took
    a flash is in flight (it expired, or Redis evicted it under memory
    pressure, as ``volatile-*`` policies do with keys that expire); another
    request then flashes anew. The page's commit consumes what it took, and
    must not remove the newer flash that happens to sit in the same field.
    """
    client = await make()
    await page(client, ["flash", "old"], end="303")
    ident = await visitor(client)
    slow = await held_at_gate(client, "slow", [SHOW])
    await admin.delete(PREFIX + ident)  # expired, or evicted
    await page(client, ["flash", "new"], end="303")
    release(client, "slow")
    assert await slow == [[["message", "old"]]]
    assert await page(client, SHOW) == [[["message", "new"]]]
