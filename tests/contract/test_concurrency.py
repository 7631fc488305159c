"""Requests of one session in flight at once, on real Redis sessions.

aiohttp-session saves the whole session at the end of a request, and the last
writer wins. These tests pin down what that means for flashes: two scoped
requests that both change flashes can lose one (documented in docs/concurrency.rst);
unscoped requests, however many, never do, because they never write.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp_session import get_session
from aiohttp_session.redis_storage import RedisStorage
from redis import asyncio as aioredis

import aiohttp_flashbag as fb

from ..conftest import Client, CountingStorage, make_app

GATE = web.AppKey("gate", asyncio.Event)
ENTERED = web.AppKey("entered", asyncio.Event)


async def login(request: web.Request) -> web.Response:
    (await get_session(request))["user"] = "ann"
    return web.Response(text="in")


@fb.with_flashbag
async def slow_flash(request: web.Request) -> web.Response:
    """Flashes, then waits (holding its copy of the session) for the gate."""
    fb.flash(request, "slow")
    request.app[ENTERED].set()
    await request.app[GATE].wait()
    raise web.HTTPSeeOther("/page")


@fb.with_flashbag
async def fast_flash(request: web.Request) -> web.Response:
    fb.flash(request, "fast")
    raise web.HTTPSeeOther("/page")


@fb.with_flashbag
async def page(request: web.Request) -> web.Response:
    return web.json_response(fb.get_flashed_messages(request))


async def noise(request: web.Request) -> web.Response:
    """Unscoped, and it even reads the session: still never a write."""
    session = await get_session(request)
    return web.json_response(session.get("user"))


@pytest.fixture
async def setup(
    aiohttp_client: Any, redis_port: int
) -> AsyncIterator[tuple[Client, web.Application, CountingStorage]]:
    redis = aioredis.Redis(host="127.0.0.1", port=redis_port)
    storage = CountingStorage(RedisStorage(redis))
    app = make_app(
        [
            ("POST", "/login", login),
            ("POST", "/slow", slow_flash),
            ("POST", "/fast", fast_flash),
            ("GET", "/page", page),
            ("GET", "/noise", noise),
        ],
        storage=storage.storage,
    )
    app[GATE] = asyncio.Event()
    app[ENTERED] = asyncio.Event()
    client: Client = await aiohttp_client(app)
    await client.post("/login")  # one session, shared by what follows
    yield client, app, storage
    await redis.aclose()


async def test_two_scoped_writers_race_and_the_last_one_wins(
    setup: tuple[Client, web.Application, CountingStorage],
) -> None:
    client, app, _ = setup
    slow = asyncio.create_task(client.post("/slow", allow_redirects=False))
    await asyncio.wait_for(app[ENTERED].wait(), 5)
    # while "slow" holds the session it loaded, "fast" loads, flashes, saves
    fast = await client.post("/fast", allow_redirects=False)
    assert fast.status == 303
    app[GATE].set()
    assert (await slow).status == 303
    # "slow" saved last, from a session loaded before "fast" saved: "fast" is lost
    assert await (await client.get("/page")).json() == ["slow"]


async def test_unscoped_noise_never_loses_a_flash(
    setup: tuple[Client, web.Application, CountingStorage],
) -> None:
    client, app, storage = setup
    saves = storage.saves
    slow = asyncio.create_task(client.post("/slow", allow_redirects=False))
    await asyncio.wait_for(app[ENTERED].wait(), 5)
    answers = await asyncio.gather(*(client.get("/noise") for _ in range(30)))
    assert [await a.json() for a in answers] == ["ann"] * 30
    app[GATE].set()
    assert (await slow).status == 303
    more_noise = await asyncio.gather(*(client.get("/noise") for _ in range(30)))
    assert all(r.status == 200 for r in more_noise)
    assert storage.saves == saves + 1  # the flashing request, and nothing else
    assert await (await client.get("/page")).json() == ["slow"]


# == Apps and sub-apps on different stores ==


async def test_a_domain_sub_app_on_another_store_is_named_by_its_domain(
    aiohttp_server: Any, redis_port: int
) -> None:
    """docs/concurrency.rst, "Apps and sub-apps on different stores": the
    ``RuntimeError`` at startup names both apps and the key; a
    sub-application added for a domain (``add_domain``) is named by its
    domain, as one added under a prefix is by its prefix.
    """
    from aiohttp_flashbag.stores import RedisFlashStore

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="page")

    client = aioredis.Redis(host="127.0.0.1", port=redis_port)
    sub = web.Application()
    sub.router.add_get("/", page)
    fb.setup(sub, store=RedisFlashStore(client))
    app = make_app([("GET", "/", page)], max_age=600)
    app.add_domain("*.example.com", sub)
    try:
        with pytest.raises(RuntimeError) as refused:
            await aiohttp_server(app)
    finally:
        await client.aclose()
    text = str(refused.value)
    assert "the sub-application for '*.example.com'" in text, text
    assert "the application keeps flashes in the session" in text
    assert "'aiohttp_flashbag'" in text
    assert " object at 0x" not in text.split(" in RedisFlashStore(")[0]


def test_the_check_at_requests_keeps_no_application_alive() -> None:
    """docs/concurrency.rst, "Apps and sub-apps on different stores": where
    only a sub-application called ``setup()``, the check runs at requests
    and remembers, per main application, the store each session key was
    first used in. It remembers it without keeping the application alive:
    a process that makes many applications (a test suite makes one per test)
    does not keep every one of them, with its routes and settings, forever.
    """
    from aiohttp.test_utils import make_mocked_request

    from aiohttp_flashbag._settings import DEFAULTS, check_route

    def scoped_request_of_a_new_app() -> weakref.ref[web.Application]:
        app = web.Application()  # no setup(): checked at its requests
        check_route(make_mocked_request("GET", "/", app=app), DEFAULTS)
        return weakref.ref(app)

    gone = scoped_request_of_a_new_app()
    gc.collect()
    assert gone() is None, "the check keeps the application alive"


# == The store's client ==


async def test_the_redis_store_refuses_a_client_that_does_not_await(
    redis_port: int,
) -> None:
    """docs/concurrency.rst: ``client`` is a ``redis.asyncio.Redis``. The
    blocking ``redis.Redis`` (an easy slip: same package, same name) would
    block the server on every scoped request and then fail it with a 500;
    ``RedisFlashStore`` refuses it with :exc:`TypeError` saying which client
    to pass, and takes the asyncio one.
    """
    import redis

    from aiohttp_flashbag.stores import RedisFlashStore

    blocking = redis.Redis(host="127.0.0.1", port=redis_port)
    try:
        with pytest.raises(TypeError, match=r"redis\.asyncio"):
            RedisFlashStore(blocking)  # type: ignore[arg-type]
    finally:
        blocking.close()
    client = aioredis.Redis(host="127.0.0.1", port=redis_port)
    try:
        assert RedisFlashStore(client).client is client
    finally:
        await client.aclose()
