"""A server-side storage without ``max_age`` is warned about, once.

docs/lifecycle.rst, "Bad input and faults": aiohttp-session's ``RedisStorage``
and ``MemcachedStorage`` without a ``max_age`` keep an emptied session's
record forever, and flashes create sessions for anonymous visitors (a form
error). The first scope that sees such a storage logs a WARNING, once per
storage instance, not once per request; with a ``max_age``, none.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiomcache
import pytest
from aiohttp import web
from aiohttp_session import AbstractStorage, SimpleCookieStorage
from aiohttp_session.memcached_storage import MemcachedStorage
from aiohttp_session.redis_storage import RedisStorage
from redis import asyncio as aioredis

import aiohttp_flashbag as fb

from ..conftest import Client, FernetCookies
from ..support.sessions import SCOPES, build_app, flash_warnings, show


async def form_error(request: web.Request) -> web.Response:
    """An anonymous visitor's form error: it makes a session."""
    fb.flash(request, "Name is required", "error")
    raise web.HTTPSeeOther("/show")


async def asset(request: web.Request) -> web.Response:
    return web.Response(text="asset")


def app_of(storage: AbstractStorage, kind: str) -> web.Application:
    return build_app(
        storage,
        {"/form": form_error, "/show": show},
        kind=kind,
        unscoped={"/asset": asset},
    )


def max_age_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [w for w in flash_warnings(caplog) if "max_age" in w]


@pytest.fixture
async def redis_client(redis_port: int) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis(host="127.0.0.1", port=redis_port)
    yield client
    await client.aclose()


@pytest.fixture
async def memcached_client(memcached_port: int) -> AsyncIterator[aiomcache.Client]:
    client = aiomcache.Client("127.0.0.1", memcached_port)
    yield client
    await client.close()


Make = Callable[..., AbstractStorage]


@pytest.fixture(params=["RedisStorage", "MemcachedStorage"])
def make_storage(request: pytest.FixtureRequest) -> Make:
    """A server-side storage of aiohttp-session, with the test's own records."""
    if request.param == "RedisStorage":
        client = request.getfixturevalue("redis_client")

        def redis(**kwargs: Any) -> AbstractStorage:
            return RedisStorage(client, cookie_name=f"S_{uuid.uuid4().hex}", **kwargs)

        return redis
    client = request.getfixturevalue("memcached_client")

    def memcached(**kwargs: Any) -> AbstractStorage:
        return MemcachedStorage(client, cookie_name=f"S_{uuid.uuid4().hex}", **kwargs)

    return memcached


@pytest.mark.parametrize("kind", SCOPES)
async def test_without_max_age_the_first_scope_warns_once(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, make_storage: Make, kind: str
) -> None:
    storage = make_storage()
    client: Client = await aiohttp_client(app_of(storage, kind))
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        assert (await client.get("/asset")).status == 200
        if kind != "middleware":  # an unscoped request sees no storage
            assert max_age_warnings(caplog) == []
        resp = await client.get("/form")
        assert (await resp.json())["messages"] == [["error", "Name is required"]]
        warnings = max_age_warnings(caplog)
        assert len(warnings) == 1, warnings
        for _ in range(3):  # more requests, more visitors: no more warnings
            await client.get("/form")
            other: Client = await aiohttp_client(client.server)
            await other.get("/form")
        assert len(max_age_warnings(caplog)) == 1


async def test_once_per_storage_instance(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, make_storage: Make
) -> None:
    first, second = make_storage(), make_storage()
    one: Client = await aiohttp_client(app_of(first, "decorator"))
    shared: Client = await aiohttp_client(app_of(first, "middleware"))
    two: Client = await aiohttp_client(app_of(second, "decorator"))
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        for client in (one, shared, one, shared):
            await client.get("/form")
        assert len(max_age_warnings(caplog)) == 1  # the same instance, twice
        for _ in range(2):
            await two.get("/form")
        assert len(max_age_warnings(caplog)) == 2


@pytest.mark.parametrize("kind", SCOPES)
async def test_with_max_age_no_warning(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, make_storage: Make, kind: str
) -> None:
    client: Client = await aiohttp_client(app_of(make_storage(max_age=3600), kind))
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        for _ in range(3):
            resp = await client.get("/form")
            assert resp.status == 200
    assert flash_warnings(caplog) == []


@pytest.mark.parametrize(
    "make",
    [SimpleCookieStorage, lambda: FernetCookies().storage],
    ids=["simple", "encrypted"],
)
async def test_cookie_storages_keep_no_record_and_get_no_warning(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, make: Make
) -> None:
    client: Client = await aiohttp_client(app_of(make(), "decorator"))
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        for _ in range(3):
            await client.get("/form")
    assert flash_warnings(caplog) == []
