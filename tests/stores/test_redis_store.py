"""The Redis flash store on a real redis-server (docs/concurrency.rst).

The lifecycle of docs/lifecycle.rst holds with the store as with the
session; what changes is where flashes live (a hash per visitor, the session
keeps an id), what concurrent requests of a visitor can do to each other
(nothing: no flash lost, none shown twice), and what a request costs in
Redis commands, counted by the server itself (``INFO commandstats``).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp_session import AbstractStorage, SimpleCookieStorage, get_session
from aiohttp_session import new_session as aiohttp_new_session
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from aiohttp_session.redis_storage import RedisStorage
from markupsafe import Markup
from redis import asyncio as aioredis

import aiohttp_flashbag as fb
from aiohttp_flashbag import Message
from aiohttp_flashbag.stores import RedisFlashStore
from aiohttp_flashbag.testing import record_flashes

from ..conftest import COOKIE, Client, FernetCookies, make_app
from ..support import pages
from ..support.edges import plant
from ..support.opsapp import finish, ops_headers, run_ops, unscoped
from ..support.pages import (
    NOTHING_SHOWN,
    SEEDED,
    redirect_to_show,
    redis_store,
    routes_app,
    sealed,
    seed,
    seed_flash,
    show_incoming,
    show_messages,
    shown,
)
from ..support.servers import free_port, process, require_binary

#: Other tests use database 0 (and flush it); these use their own.
DB = 5
KEY = fb.DEFAULT_SESSION_KEY
MARKER = "__aiohttp_flashbag_redis__"
PREFIX = "aiohttp_flashbag:"

GATES = web.AppKey("gates", dict)
LOG = "aiohttp_flashbag"


# -- the app ------------------------------------------------------------------


async def gate(request: web.Request) -> None:
    """Hold the request (its flashes taken) while ``X-Gate`` names a gate."""
    name = request.headers.get("X-Gate")
    if name is not None:
        entered, go = request.app[GATES][name]
        entered.set()
        await go.wait()


@fb.with_flashbag
async def scoped(request: web.Request) -> web.StreamResponse:
    """tests/support/opsapp.py's scoped handler, which can also wait at a gate."""
    results = run_ops(request, json.loads(request.headers["X-Ops"]))
    await gate(request)
    return finish(request, results)


async def plain(request: web.Request) -> web.StreamResponse:
    """``scoped`` without a door of its own: scoped by the middleware, in an
    app that installs it.
    """
    results = run_ops(request, json.loads(request.headers["X-Ops"]))
    await gate(request)
    return finish(request, results)


class GatedView(fb.FlashbagMixin, web.View):
    """``scoped`` as a class-based view: the mixin opens the scope."""

    async def post(self) -> web.StreamResponse:
        return await plain(self.request)


#: The path of ``scoped`` behind each door (the middleware's needs an app
#: made with ``middleware=True``).
DOOR_PATHS = {"decorator": "/scoped", "mixin": "/mixin", "middleware": "/plain"}


@fb.with_flashbag
async def log_in(request: web.Request) -> web.Response:
    """A new session, and a flash for it."""
    await aiohttp_new_session(request)
    fb.flash(request, "Welcome")
    raise web.HTTPSeeOther("/scoped")


@fb.with_flashbag
async def log_out(request: web.Request) -> web.Response:
    (await get_session(request)).invalidate()
    fb.flash(request, "Bye")
    raise web.HTTPSeeOther("/scoped")


async def session_id(request: web.Request) -> web.Response:
    """What the session holds under the session key (unscoped)."""
    return web.json_response((await get_session(request)).get(KEY))


def store_app(
    client: aioredis.Redis,
    storage: AbstractStorage | None = None,
    routes: tuple[tuple[str, str, Any], ...] = (),
    store_options: dict[str, Any] | None = None,
    **settings: Any,
) -> web.Application:
    app = make_app(
        [
            ("*", "/scoped", scoped),
            ("*", "/mixin", GatedView),
            ("POST", "/plain", plain),
            ("GET", "/asset", unscoped),
            ("POST", "/login", log_in),
            ("POST", "/logout", log_out),
            ("GET", "/id", session_id),
            *routes,
        ],
        storage=storage,
        # a busy machine must not look like Redis being away
        store=RedisFlashStore(client, **{"timeout": 30, **(store_options or {})}),
        **settings,
    )
    app[GATES] = {}
    return app


# -- fixtures and helpers ---------------------------------------------------------


@pytest.fixture
async def admin(redis_port: int) -> AsyncIterator[aioredis.Redis]:
    """The test's own connection to the store's database, emptied."""
    client = aioredis.Redis(host="127.0.0.1", port=redis_port, db=DB)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
async def app_redis(redis_port: int) -> AsyncIterator[aioredis.Redis]:
    """The app's connection."""
    client = aioredis.Redis(host="127.0.0.1", port=redis_port, db=DB)
    yield client
    await client.aclose()


# The fixture of tests/support/pages.py: a database of its own for the flash
# store, emptied.
flash_redis = pages.flash_redis


Make = Callable[..., Awaitable[Client]]


@pytest.fixture
def make(aiohttp_client: Any, app_redis: aioredis.Redis, admin: aioredis.Redis) -> Make:
    """A client of a store app: ``await make(storage=None, routes=(), **settings)``."""

    async def make(
        storage: AbstractStorage | None = None,
        routes: tuple[tuple[str, str, Any], ...] = (),
        **settings: Any,
    ) -> Client:
        app = store_app(app_redis, storage, routes, **settings)
        client: Client = await aiohttp_client(app)
        return client

    return make


async def visitor(client: Client) -> Any:
    """The visitor's id, as the session holds it under the session key."""
    entry = await (await client.get("/id")).json()
    return entry.get(MARKER) if isinstance(entry, dict) else entry


def session_cookie(client: Client) -> dict[str, Any]:
    """The session of a SimpleCookieStorage cookie."""
    cookie = next(m.value for m in client.session.cookie_jar if m.key == COOKIE)
    data: dict[str, Any] = json.loads(cookie).get("session", {})
    return data


async def stored_form(admin: aioredis.Redis, visitor_id: str) -> list[Any]:
    """The visitor's hash as the session store would hold the same flashes:
    ``[2, {key: entry}, [entry, ...]]``, messages in flash order.
    """
    raw = await admin.hgetall(PREFIX + visitor_id)
    values: dict[str, Any] = {}
    messages: list[tuple[int, Any]] = []
    for name, data in raw.items():
        field = name.decode()  # type: ignore[union-attr]
        version, _, text = data.partition(b"|")  # type: ignore[arg-type]
        if field.startswith("v"):
            values[json.loads(field[1:])] = json.loads(text)
        elif field.startswith("m"):
            messages.append((int(version), json.loads(text)))
    return [2, values, [item for _, item in sorted(messages)]]


async def held(
    admin: aioredis.Redis, visitor_id: str
) -> tuple[dict[str, Any], list[Any]]:
    """(values, messages as [category, message]) in the visitor's hash."""
    _, values, messages = await stored_form(admin, visitor_id)
    return {k: v[1] for k, v in values.items()}, [m[1:3] for m in messages]


async def page(
    client: Client, *ops: list[Any], end: str = "200", path: str = "/scoped"
) -> Any:
    """A scoped request running ``ops``; what they returned."""
    method = "HEAD" if end == "HEAD" else "POST"
    resp = await client.request(
        method,
        path,
        headers=ops_headers(list(ops), "200" if end == "HEAD" else end),
        allow_redirects=False,
    )
    results = resp.headers.get("X-Results")
    return None if results is None else json.loads(results)


SHOW = ["messages", True, []]

#: Commands sent by the test itself, left out of the counts.
ADMIN = {"info", "config", "client", "hello", "flushdb", "ping", "select"}
#: Commands the store's scripts run inside Redis (counted there too).
IN_SCRIPTS = {
    *("hgetall", "hdel", "hget", "hset", "hincrby", "pexpire", "time"),
    *("exists", "set", "get"),
}


async def reset(admin: aioredis.Redis) -> None:
    await admin.config_resetstat()


async def commands(admin: aioredis.Redis) -> dict[str, int]:
    """Calls per command since the last reset, the test's own left out."""
    stats = await admin.info("commandstats")
    counts = {
        name.removeprefix("cmdstat_"): int(value["calls"])
        for name, value in stats.items()
    }
    return {n: c for n, c in counts.items() if n.split("|")[0] not in ADMIN}


def sent(counts: dict[str, int]) -> dict[str, int]:
    """The commands a client sent (round trips), without those scripts ran."""
    return {n: c for n, c in counts.items() if n not in IN_SCRIPTS}


# -- the lifecycle on the store ------------------------------------------------


async def test_set_redirect_then_the_page_shows_it_once(
    make: Make, admin: aioredis.Redis
) -> None:
    client = await make()
    with record_flashes() as records:
        await page(client, ["flash", "Saved", "success"], ["set", "a", [1]], end="303")
        ident = await visitor(client)
        assert await held(admin, ident) == ({"a": [1]}, [["success", "Saved"]])
        assert await page(client, ["get", "a"], SHOW) == [[1], [["success", "Saved"]]]
        assert await page(client, ["get", "a"], SHOW) == [None, []]
    assert records[0].stored.messages == [Message("success", "Saved")]
    assert records[0].stored.values == {"a": [1]}
    assert records[1].stored == records[2].stored == ({}, [])
    assert await held(admin, ident) == ({}, [])


async def test_the_cookie_holds_only_a_random_id(
    make: Make, admin: aioredis.Redis
) -> None:
    client = await make()
    await page(client, ["get", "a"])
    assert COOKIE not in {m.key for m in client.session.cookie_jar}  # no id yet
    await page(client, ["flash", "x" * 500], end="303")
    session = session_cookie(client)
    assert list(session) == [KEY]
    assert list(session[KEY]) == [MARKER]  # docs/concurrency.rst, "The visitor id"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", session[KEY][MARKER])  # 128 bits
    assert await admin.exists(PREFIX + session[KEY][MARKER])
    # the id stays while the session lasts, also once nothing is left
    await page(client, SHOW)
    await page(client, ["flash", "again"], end="303")
    assert session_cookie(client) == session


async def test_head_500_and_crash_give_back_everything(
    make: Make, admin: aioredis.Redis
) -> None:
    client = await make()
    await page(client, ["set", "a", 1], ["flash", "one"], end="303")
    ident = await visitor(client)
    for end in ("500", "500-raised", "crash"):
        assert await page(client, ["get", "a"], SHOW, ["set", "b", 2], end=end) in (
            [1, [["message", "one"]], None],
            None,
        )
        assert await held(admin, ident) == ({"a": 1}, [["message", "one"]])
    # HEAD consumes nothing and stores what it set
    await page(
        client, ["get", "a"], SHOW, ["set", "b", 2], ["flash", "two"], end="HEAD"
    )
    assert await held(admin, ident) == (
        {"a": 1, "b": 2},
        [["message", "one"], ["message", "two"]],
    )
    assert await page(client, SHOW) == [[["message", "one"], ["message", "two"]]]


async def test_keep_clear_and_now(make: Make, admin: aioredis.Redis) -> None:
    client = await make()
    await page(client, ["set", "a", 1], ["set", "b", 2], ["flash", "m"], end="303")
    ident = await visitor(client)
    # a page keeps "a", and shows a message it flashed "now"
    results = await page(client, ["keep", "a"], ["flash_now", "now", "info"], SHOW)
    assert results == [None, None, [["message", "m"], ["info", "now"]]]
    assert await held(admin, ident) == ({"a": 1}, [])
    # keep everything, then clear: nothing travels on but what follows
    await page(client, ["keep"], ["clear"], ["set", "c", 3], end="303")
    assert await held(admin, ident) == ({"c": 3}, [])
    # a redirect carries what it did not show
    await page(client, ["set", "d", 4], end="303")
    await page(client, ["get", "c"], end="303")
    assert await held(admin, ident) == ({"d": 4}, [])


async def test_unread_keep(make: Make, admin: aioredis.Redis) -> None:
    client = await make(unread="keep")
    await page(client, ["flash", "one"], ["flash", "two", "error"], end="303")
    ident = await visitor(client)
    assert await page(client, ["messages", False, ["error"]]) == [["two"]]
    assert await held(admin, ident) == ({}, [["message", "one"]])
    assert await page(client, ["get", "z"]) == [None]  # shows nothing
    assert await page(client, SHOW) == [[["message", "one"]]]
    assert await held(admin, ident) == ({}, [])


async def test_a_new_session_gets_a_new_id_and_no_old_flashes(
    make: Make, admin: aioredis.Redis
) -> None:
    client = await make()
    await page(client, ["flash", "old"], ["set", "a", 1], end="303")
    old = await visitor(client)
    resp = await client.post("/login", allow_redirects=False)
    assert resp.status == 303
    new = await visitor(client)
    assert new != old
    assert await held(admin, new) == ({}, [["message", "Welcome"]])
    assert await held(admin, old) == ({}, [])  # taken, and not carried over
    assert await page(client, SHOW, ["get", "a"]) == [[["message", "Welcome"]], None]

    await page(client, ["flash", "before"], end="303")
    await client.post("/logout", allow_redirects=False)
    after = await visitor(client)
    assert after not in (old, new)
    assert await page(client, SHOW) == [[["message", "Bye"]]]


async def test_an_invalid_id_is_no_flashes_and_replaced(
    make: Make, admin: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make()
    bad = json.dumps({"session": {KEY: "../../etc"}, "created": 1})
    client.session.cookie_jar.update_cookies({COOKIE: bad}, client.make_url("/"))
    with caplog.at_level(logging.WARNING, logger=LOG):
        assert await page(client, SHOW) == [[]]
    assert "not a visitor id" in caplog.text
    assert session_cookie(client) == {}  # removed at the commit
    client.session.cookie_jar.update_cookies({COOKIE: bad}, client.make_url("/"))
    await page(client, ["flash", "hi"], end="303")
    ident = await visitor(client)
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", ident)
    assert await held(admin, ident) == ({}, [["message", "hi"]])


@pytest.mark.parametrize("sessions", ["encrypted", "redis"])
async def test_redis_a_session_cookie_that_is_not_utf8_is_no_500(
    make: Make, app_redis: aioredis.Redis, sessions: str
) -> None:
    """docs/lifecycle.rst, "Bad input and faults": a session cookie the
    storage cannot load is a fresh session, never a 500. A cookie holding
    a byte that is not UTF-8 (sent by a broken client, or planted) was
    loaded as a fresh session, then failed every page of the Redis store,
    which looks the sent cookie up by its hash.
    """
    storage: AbstractStorage = (
        EncryptedCookieStorage(os.urandom(32))
        if sessions == "encrypted"
        else RedisStorage(app_redis, max_age=3600)
    )
    client = await make(storage)
    assert client.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        writer.write(
            b"POST /scoped HTTP/1.1\r\nHost: localhost\r\n"
            + f"Cookie: {COOKIE}=ab\xffcd\r\n".encode("latin-1")
            + b'X-Ops: [["flash", "hi"]]\r\nX-End: 303\r\n'
            + b"Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
        status = (await reader.readline()).split()
    finally:
        writer.close()
    assert status[1] == b"303"


async def test_bad_stored_flashes_are_dropped_with_a_warning(
    make: Make, admin: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make()
    await page(client, ["set", "a", 1], ["flash", "fine"], end="303")
    ident = await visitor(client)
    now = int(time.time())
    deep = "[" * 40 + "]" * 40
    await admin.hset(
        PREFIX + ident,
        mapping={
            "junk": "1",
            "m99": "not json",
            'v"b"': f'90|[{now}, "\\ud800"]',  # a lone surrogate: a write refuses it
            'v"c"': f"91|[{now}, {deep}]",
            "m100": "100|" + json.dumps([now, "message", "later"]),
            "m101": "101|not json",
        },
    )
    with caplog.at_level(logging.WARNING, logger=LOG):
        results = await page(client, ["get", "a"], ["get", "b"], ["get", "c"], SHOW)
    assert results == [1, None, None, [["message", "fine"], ["message", "later"]]]
    assert "'junk', 'm99'" in caplog.text  # not the store's shape
    assert "'m101'" in caplog.text  # its shape, but not JSON
    assert "lone surrogate" in caplog.text
    assert "nested deeper" in caplog.text
    assert await held(admin, ident) == ({}, [])


async def test_max_age_expires_flashes_and_keys(
    make: Make, admin: aioredis.Redis
) -> None:
    client = await make(max_age=120)
    await page(client, ["flash", "x"], end="303")
    ttl = await admin.pttl(PREFIX + await visitor(client))
    assert 110_000 < ttl <= 120_000
    # a flash older than max_age is dropped when loaded
    ident = await visitor(client)
    await admin.hset(PREFIX + ident, "m7", "7|" + json.dumps([1000, "message", "x"]))
    assert await page(client, SHOW) == [[["message", "x"]]]


async def test_redis_max_age_none_drops_no_flash_for_its_age(
    make: Make, admin: aioredis.Redis
) -> None:
    """docs/lifecycle.rst, "Bounded life in time": ``max_age=None`` turns
    the age limit off. The session storage's ``max_age`` sets when the
    visitor's key expires (docs/concurrency.rst), not how old a flash may
    be: a flash carried on in a hash that later writes kept alive is shown.
    """
    client = await make(SimpleCookieStorage(max_age=100), max_age=None)
    await page(client, ["flash", "new"], end="303")
    ident = await visitor(client)
    old = json.dumps([int(time.time()) - 1000, "message", "old"])
    await admin.hset(PREFIX + ident, "m50", "50|" + old)
    assert await page(client, SHOW) == [[["message", "new"], ["message", "old"]]]


@pytest.mark.parametrize("max_age", [5, 120])
async def test_every_key_the_store_writes_expires_within_max_age(
    make: Make, admin: aioredis.Redis, app_redis: aioredis.Redis, max_age: int
) -> None:
    """The visitor's hash and the short marks that recognise a commit sent
    twice all expire, none after max_age.
    """
    client = await make(RedisStorage(app_redis, max_age=3600), max_age=max_age)
    await page(client, ["flash", "x"], end="303")
    await page(client, SHOW, ["flash", "y"], end="303")
    names = await admin.keys(PREFIX + "*")
    assert len(names) >= 3  # the hash, two marks
    for name in names:
        assert 0 < await admin.pttl(name) <= max_age * 1000, name


@pytest.mark.parametrize(
    ("flash_max_age", "session_max_age", "seconds"),
    [(None, 3600, 3600), (None, None, 86400), (30, 3600, 30)],
)
async def test_the_keys_expire_after_max_age_or_the_sessions(
    make: Make,
    admin: aioredis.Redis,
    flash_max_age: float | None,
    session_max_age: int | None,
    seconds: int,
) -> None:
    client = await make(
        SimpleCookieStorage(max_age=session_max_age), max_age=flash_max_age
    )
    await page(client, ["set", "a", 1], end="303")
    ident = await visitor(client)
    ttl = await admin.pttl(PREFIX + ident)
    assert seconds * 1000 - 10_000 < ttl <= seconds * 1000
    # every write renews it
    await admin.pexpire(PREFIX + ident, 5000)
    await page(client, ["flash", "b"], end="303")
    assert await admin.pttl(PREFIX + ident) > 5000


async def test_markup_is_trusted_even_under_simple_cookie_sessions(
    make: Make,
) -> None:
    shown: list[Any] = []

    @fb.with_flashbag
    async def show(request: web.Request) -> web.Response:
        shown.extend(fb.get_flashed_messages(request))
        return web.Response(text="ok")

    @fb.with_flashbag
    async def save(request: web.Request) -> web.Response:
        fb.flash(request, Markup('Saved. <a href="/undo">Undo</a>'))
        fb.flash(request, "<b>plain</b>")
        raise web.HTTPSeeOther("/show")

    client = await make(routes=(("GET", "/show", show), ("POST", "/save", save)))
    await client.post("/save")
    assert shown == ['Saved. <a href="/undo">Undo</a>', "<b>plain</b>"]
    assert isinstance(shown[0], Markup)
    assert not isinstance(shown[1], Markup)


async def test_max_bytes_bounds_the_hash_oldest_carried_first(
    make: Make, admin: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make(max_bytes=200)
    await page(client, ["flash", "a" * 50], end="303")
    ident = await visitor(client)
    await page(client, ["flash", "b" * 50], end="303")
    with caplog.at_level(logging.WARNING, logger=LOG):
        await page(client, ["flash", "c" * 50], end="303")
    assert await held(admin, ident) == (
        {},
        [["message", "b" * 50], ["message", "c" * 50]],
    )
    assert "over max_bytes=200" in caplog.text

    # Another request of the visitor, in flight, took the two; meanwhile a
    # third adds one: the give-back bounds the whole hash as it is then.
    gates = client.app[GATES]
    gates["slow"] = (asyncio.Event(), asyncio.Event())
    slow = asyncio.create_task(
        client.post(
            "/scoped",
            headers={**ops_headers([["set", "k", 1]], "303"), "X-Gate": "slow"},
            allow_redirects=False,
        )
    )
    await asyncio.wait_for(gates["slow"][0].wait(), 5)
    # under its lease: no other request sees them
    assert await page(client, SHOW, end="HEAD") == [[]]
    assert await page(client, SHOW, end="303") == [[]]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=LOG):
        # the hash as it is, leased flashes included, is bounded: b... gives
        # way (named by its category), though a request in flight holds it
        await page(client, ["flash", "d" * 50], end="303")
    assert "'message'" in caplog.text
    gates["slow"][1].set()
    assert (await slow).status == 303
    values, messages = await held(admin, ident)
    assert values == {"k": 1}  # what the request set never gives way
    # measured as the session store measures the bag: c... gives way too
    assert messages == [["message", "d" * 50]]
    held_form = {"__aiohttp_flashbag__": await stored_form(admin, ident)}
    assert len(json.dumps(held_form)) <= 200
    # and the bound holds for the bag as the session store measures it
    held_form = {"__aiohttp_flashbag__": await stored_form(admin, ident)}
    assert len(json.dumps(held_form)) <= 200


async def test_redis_what_gives_way_in_redis_is_named_at_its_size(
    make: Make, admin: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """docs/lifecycle.rst, "Size": the WARNING names each flash that gave
    way with its size. A Markup message with extra tags, held by a request
    in flight, gives way inside Redis to another request's commit: it is
    named at the bytes it took, its mark and tags counted.
    """
    client = await make(max_bytes=200)
    await page(client, ["set", "first", 1], end="303")
    await page(client, ["get", "first"])  # the visitor has an id, no flashes
    ident = await visitor(client)
    entry = [int(time.time()) - 100, "message", "o" * 60, 1, {"tags": "big"}]
    await admin.hset(PREFIX + ident, "m90", "90|" + json.dumps(entry))
    holder = await held_at_gate(client, "h", [], end="303")  # takes it
    with caplog.at_level(logging.WARNING, logger=LOG):
        await page(client, ["flash", "n" * 90], end="303")
    assert f"({len(json.dumps(entry))} bytes)" in caplog.text
    release(client, "h")
    await holder


async def test_redis_store_speculative_request_gives_back_at_once(
    aiohttp_client: Any, flash_redis: Any
) -> None:
    """docs/lifecycle.rst, "Speculative requests", with the Redis store: the
    refused prefetch consumes nothing, and what its scope took is back at
    once, not when its lease (30 seconds here) runs out.
    """
    ran = []

    @fb.with_flashbag
    async def page(request: web.Request) -> web.Response:
        ran.append(request.path)
        return web.Response(text="page")

    app = routes_app(
        {"/seed": seed, "/page": page, "/show": show_incoming},
        storage=sealed(),
        store=redis_store(flash_redis, lease=30),
    )
    client = await aiohttp_client(app)
    await client.post("/seed", allow_redirects=False)
    with record_flashes(app) as records:
        resp = await client.get("/page", headers={"Sec-Purpose": "prefetch"})
    assert resp.status >= 400
    assert resp.headers["Cache-Control"] == "no-store"
    assert not ran
    assert records[0].status == resp.status
    assert records[0].shown == fb.Flashes({}, [])
    assert await shown(client) == SEEDED


class SpeculatedView(fb.FlashbagMixin, web.View):
    async def get(self) -> web.Response:
        self.request.app[RAN].append("view")
        return web.Response(text="page")


RAN = web.AppKey("ran", list)


@pytest.mark.parametrize("door", ["middleware", "decorator", "mixin"])
@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Purpose": "prefetch;prerender", "Sec-Speculation-Tags": "null"},
        {"Purpose": "prefetch"},
        {"X-Moz": "prefetch"},
        {"X-Purpose": "preview"},
    ],
    ids=str,
)
async def test_speculative_with_the_redis_store_every_door(
    aiohttp_client: Any, app_redis: aioredis.Redis, door: str, headers: dict[str, str]
) -> None:
    """docs/lifecycle.rst, "Speculative requests", with the Redis store and
    each way to open a scope: while flashes wait, the prefetch is refused
    with ``Cache-Control: no-store`` and consumes nothing; once they are
    shown (the session still holds the visitor's id, Redis nothing), it
    runs as usual.
    """

    @fb.with_flashbag
    async def decorated(request: web.Request) -> web.Response:
        request.app[RAN].append("decorated")
        return web.Response(text="page")

    async def plain(request: web.Request) -> web.Response:
        request.app[RAN].append("plain")
        return web.Response(text="page")

    target: Any = {"middleware": plain, "decorator": decorated}.get(
        door, SpeculatedView
    )
    app = make_app(
        [
            ("POST", "/seed", seed_flash),
            ("GET", "/page", show_messages),
            ("*", "/target", target),
        ],
        storage=EncryptedCookieStorage(os.urandom(32)),
        middleware=door == "middleware",
        store=RedisFlashStore(app_redis, timeout=30),
    )
    app[RAN] = []
    client: Client = await aiohttp_client(app)
    assert (await client.post("/seed", allow_redirects=False)).status == 303
    resp = await client.get("/target", headers=headers)
    assert resp.status >= 400
    assert resp.headers["Cache-Control"] == "no-store"
    assert app[RAN] == []
    assert await (await client.get("/page")).json() == ["waiting"]
    resp = await client.get("/target", headers=headers)
    assert resp.status == 200
    assert len(app[RAN]) == 1


async def test_redis_store_successive_scopes_each_commit(
    aiohttp_client: Any, flash_redis: Any
) -> None:
    """docs/lifecycle.rst, "Scopes", with the Redis store: an error
    middleware's decorated error page, after the failed handler's scope
    ended, sees what that scope stored (its 404 consumed what it did not
    show) and commits its own reads.
    """

    @fb.with_flashbag
    async def failing(request: web.Request) -> web.Response:
        fb.flash(request, "from the failed handler")
        raise web.HTTPNotFound()

    @fb.with_flashbag
    async def error_page(request: web.Request) -> web.Response:
        return web.json_response(fb.get_flashed_messages(request), status=404)

    @web.middleware
    async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPNotFound:
            return await error_page(request)
        return response

    app = routes_app(
        {"/seed": seed, "/failing": failing, "/show": show_incoming},
        storage=sealed(),
        store=redis_store(flash_redis),
    )
    app.middlewares.append(errors)
    client = await aiohttp_client(app)
    await client.post("/seed", allow_redirects=False)
    with record_flashes(app) as records:
        resp = await client.get("/failing")
    assert resp.status == 404
    assert await resp.json() == ["from the failed handler"]
    assert [r.status for r in records] == [404, 404]
    assert await shown(client) == NOTHING_SHOWN


async def test_redis_store_leaves_the_session_s_flashes_behind_a_new_session(
    aiohttp_client: Any, flash_redis: Any
) -> None:
    """docs/lifecycle.rst, "A new session": flashes never cross from one
    session to another, whatever held them.
    """

    @fb.with_flashbag
    async def log_out(request: web.Request) -> web.StreamResponse:
        from aiohttp_session import get_session

        (await get_session(request)).invalidate()
        fb.flash(request, "bye")
        return redirect_to_show()

    app = routes_app(
        {"/out": log_out, "/show": show_incoming}, store=redis_store(flash_redis)
    )
    client = await aiohttp_client(app)
    plant(client, {"aiohttp_flashbag": {"notice": "from 0.0.3"}})
    assert (await client.post("/out", allow_redirects=False)).status == 303
    assert await shown(client) == {"values": {}, "messages": [["message", "bye"]]}


@pytest.mark.parametrize("door", ["decorator", "middleware"])
async def test_redis_store_open_websocket_leaves_flashes_to_other_pages(
    aiohttp_client: Any, flash_redis: Any, door: str
) -> None:
    """docs/lifecycle.rst, "A streamed response": a WebSocket leaves flashes
    unchanged; docs/concurrency.rst: the lifecycle holds unchanged with the
    Redis store. A page of the visitor, loaded while a WebSocket of theirs
    is open, shows the flashes that wait.
    """
    opened, release = asyncio.Event(), asyncio.Event()

    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        opened.set()
        await release.wait()
        await ws.close()
        return ws

    app = routes_app(
        {
            "/seed": seed,
            "/ws": fb.with_flashbag(socket) if door == "decorator" else socket,
            "/show": show_incoming,
        },
        storage=sealed(),
        middleware=door == "middleware",
        store=redis_store(flash_redis),
    )
    client = await aiohttp_client(app)
    await client.post("/seed", allow_redirects=False)
    ws = await client.ws_connect("/ws")
    await opened.wait()
    try:
        assert await shown(client) == SEEDED
    finally:
        release.set()
        await ws.close()


async def test_redis_store_moves_what_the_session_held_to_redis(
    aiohttp_client: Any, flash_redis: Any
) -> None:
    """Flashes kept in the session (by 0.0.3, or by the session store before
    the app moved to Redis) that a redirect carries move to Redis: the
    session then holds the visitor's id, and the next page shows them once.
    """

    @fb.with_flashbag
    async def carry(request: web.Request) -> web.StreamResponse:
        fb.flash(request, "new")
        return redirect_to_show()

    app = routes_app(
        {"/carry": carry, "/show": show_incoming}, store=redis_store(flash_redis)
    )
    client = await aiohttp_client(app)
    stamp = int(time.time())
    held = {"__aiohttp_flashbag__": [2, {"k": [stamp, 1]}, [[stamp, "info", "old"]]]}
    plant(client, {"aiohttp_flashbag": held})
    resp = await client.post("/carry", allow_redirects=False)
    assert resp.status == 303
    entry = json.loads(resp.cookies[COOKIE].value)["session"]["aiohttp_flashbag"]
    assert list(entry) == ["__aiohttp_flashbag_redis__"]
    assert await shown(client) == {
        "values": {"k": 1},
        "messages": [["info", "old"], ["message", "new"]],
    }
    assert await shown(client) == NOTHING_SHOWN


async def test_redis_store_trusts_no_markup_from_a_plain_cookie_session(
    aiohttp_client: Any, flash_redis: Any
) -> None:
    """docs/safe-html.rst: Markup from a session the client writes (a plain
    JSON cookie) is not trusted, and moving it to Redis, where the data is
    trusted, must not launder it.
    """

    @fb.with_flashbag
    async def carry(request: web.Request) -> web.StreamResponse:
        return redirect_to_show()

    @fb.with_flashbag
    async def kinds(request: web.Request) -> web.Response:
        messages = fb.get_flashed_messages(request)
        return web.json_response([isinstance(m, Markup) for m in messages])

    app = routes_app({"/carry": carry, "/kinds": kinds}, store=redis_store(flash_redis))
    client = await aiohttp_client(app)
    forged = [int(time.time()), "message", "<script>x()</script>", 1]
    plant(client, {"aiohttp_flashbag": {"__aiohttp_flashbag__": [2, {}, [forged]]}})
    assert (await client.post("/carry", allow_redirects=False)).status == 303
    assert await (await client.get("/kinds")).json() == [False]


async def test_htmx_delivery_with_the_redis_store_consumes_in_redis(
    make: Make, admin: aioredis.Redis
) -> None:
    """docs/htmx.rst with docs/concurrency.rst (htmx holds with the Redis
    store): an htmx request delivers the waiting messages in ``HX-Trigger``,
    they count as shown, and Redis no longer holds them.
    """
    client = await make(htmx_event="flash")
    await page(client, ["flash", "delivered"], ["set", "k", 1], end="303")
    ident = await visitor(client)
    resp = await client.post(
        "/scoped",
        headers={"X-Ops": "[]", "X-End": "200", "HX-Request": "true"},
    )
    assert resp.status == 200
    trigger = json.loads(resp.headers["HX-Trigger"])
    assert [d["message"] for d in trigger["flash"]] == ["delivered"]
    assert resp.headers["Cache-Control"] == "no-store"
    assert await admin.hkeys(PREFIX + ident) in ([b"#", b"@"], [b"@", b"#"])
    assert await page(client, SHOW, ["get", "k"]) == [[], None]


async def test_testing_records_what_gave_way_in_redis(
    make: Make, admin: aioredis.Redis
) -> None:
    """docs/testing.rst: ``FlashRecord.dropped`` lists what gave way to
    ``max_bytes`` at the commit, and ``stored`` what the session (here:
    Redis) holds after it, with the Redis store as with the session.
    """
    client = await make(max_bytes=150)  # one value fits, not two
    await page(client, ["set", "a", "x" * 60], end="303")
    with record_flashes(client.app) as records:
        await page(client, ["set", "b", "y" * 60], end="303")
    (record,) = records

    assert record.dropped == fb.Flashes({"a": "x" * 60}, [])
    assert record.stored == fb.Flashes({"b": "y" * 60}, [])
    assert await page(client, ["get", "a"], ["get", "b"]) == [None, "y" * 60]


@pytest.mark.parametrize("prefix", ["%a.b[c]*:", "{flash}:", "é ü/"])
async def test_redis_any_prefix_works(
    aiohttp_client: Any, app_redis: aioredis.Redis, admin: aioredis.Redis, prefix: str
) -> None:
    """docs/concurrency.rst: ``prefix`` is the start of every Redis key of
    the store, and any non-empty text is one (Lua pattern characters, a
    hash tag, non-ASCII text).
    """
    client: Client = await aiohttp_client(
        store_app(app_redis, store_options={"prefix": prefix})
    )
    await page(client, ["flash", "hi"], ["set", "k", 1], end="303")
    ident = await visitor(client)
    assert await admin.exists(prefix + ident)
    keys = await admin.keys("*")
    assert all(isinstance(k, bytes) and k.decode().startswith(prefix) for k in keys)
    assert await page(client, SHOW, ["get", "k"]) == [[["message", "hi"]], 1]
    assert await page(client, SHOW, ["get", "k"]) == [[], None]


# -- concurrent requests of one visitor ---------------------------------------------


async def held_at_gate(
    client: Client,
    name: str,
    ops: list[list[Any]],
    end: str = "200",
    path: str = "/scoped",
) -> asyncio.Task[Any]:
    """A scoped request that runs ``ops`` and waits at gate ``name``."""
    gates = client.app[GATES]
    gates[name] = (asyncio.Event(), asyncio.Event())

    async def go() -> Any:
        resp = await client.post(
            path,
            headers={**ops_headers(ops, end), "X-Gate": name},
            allow_redirects=False,
        )
        return json.loads(resp.headers["X-Results"])

    task = asyncio.create_task(go())
    await asyncio.wait_for(gates[name][0].wait(), 5)
    return task


def release(client: Client, name: str) -> None:
    client.app[GATES][name][1].set()


@pytest.mark.parametrize("door", ["decorator", "mixin", "middleware"])
async def test_two_pages_in_flight_never_show_one_flash_twice(
    make: Make, door: str
) -> None:
    client = await make(middleware=door == "middleware")
    at = DOOR_PATHS[door]
    await page(client, ["flash", "once"], end="303", path=at)
    first = await held_at_gate(client, "first", [SHOW], path=at)
    assert await page(client, SHOW, path=at) == [[]]  # the first page took it
    release(client, "first")
    assert await first == [[["message", "once"]]]
    assert await page(client, SHOW, path=at) == [[]]


async def test_a_redirect_in_flight_gives_back_what_a_page_did_not_see(
    make: Make,
) -> None:
    client = await make()
    await page(client, ["flash", "one"], end="303")
    redirect = await held_at_gate(client, "r", [["flash", "two"]], end="303")
    assert await page(client, SHOW) == [[]]
    release(client, "r")
    await redirect
    assert await page(client, SHOW) == [[["message", "one"], ["message", "two"]]]


async def test_no_flash_is_lost_to_a_concurrent_writer(
    make: Make, admin: aioredis.Redis
) -> None:
    """The race that the session store loses (docs/concurrency.rst)."""
    client = await make()
    await page(client, ["set", "a", "old"], ["flash", "first"], end="303")
    ident = await visitor(client)
    slow = await held_at_gate(client, "slow", [["flash", "slow"]], end="303")
    await page(client, ["flash", "fast"], ["set", "a", "new"], end="303")
    release(client, "slow")
    await slow
    # the slow request carried "a"="old", but a newer value was set meanwhile
    assert await held(admin, ident) == (
        {"a": "new"},
        [["message", "first"], ["message", "fast"], ["message", "slow"]],
    )


async def test_a_crash_in_flight_gives_back_beside_newer_flashes(
    make: Make, admin: aioredis.Redis
) -> None:
    client = await make()
    await page(client, ["set", "a", 1], ["flash", "one"], end="303")
    ident = await visitor(client)
    crash = await held_at_gate(client, "c", [SHOW, ["flash", "lost"]], end="500")
    await page(client, ["flash", "two"], ["set", "b", 2], end="303")
    release(client, "c")
    await crash
    assert await held(admin, ident) == (
        {"a": 1, "b": 2},
        [["message", "one"], ["message", "two"]],
    )


# -- cost ---------------------------------------------------------------------


async def test_commands_per_request(make: Make, admin: aioredis.Redis) -> None:
    """docs/concurrency.rst, "Cost": round trips, and what the scripts run."""
    client = await make()
    await page(client, ["flash", "warm up"], end="303")  # loads the scripts
    await page(client, SHOW)
    anonymous = await make()

    await reset(admin)
    for _ in range(5):  # no id in the session: not a command
        await page(anonymous, ["get", "a"], SHOW)
    assert await commands(admin) == {}

    await reset(admin)
    for _ in range(10):  # outside every scope: nothing
        assert (await client.get("/asset")).status == 200
    assert await commands(admin) == {}

    await reset(admin)
    await page(client, ["get", "a"], SHOW)  # nothing to show: one command
    assert await commands(admin) == {"evalsha": 1, "hgetall": 1}

    await page(client, ["flash", "x"], ["set", "a", 1], end="303")
    await reset(admin)
    await page(client, ["get", "a"], SHOW)  # consumes: the take and the settle
    counts = await commands(admin)
    assert sent(counts) == {"evalsha": 2}
    print(f"\n[redis store] a page that consumes: {counts}")

    await page(client, ["flash", "y"], end="303")
    await reset(admin)
    await page(client, ["flash", "z"], end="303")  # carries and adds: two
    counts = await commands(admin)
    assert sent(counts) == {"evalsha": 2}
    print(f"[redis store] a redirect that carries and adds: {counts}")


# -- faults -------------------------------------------------------------------


async def test_redis_stopped_or_restarted_between_requests(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    binary = require_binary("redis-server", "redis-server")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += ["--appendonly", "no"]
    redis = aioredis.Redis(host="127.0.0.1", port=port)
    try:
        with process(args, port):
            client: Client = await aiohttp_client(store_app(redis))
            await page(client, ["flash", "kept"], end="303")
            # redis-server restarts (and, without persistence, forgets): the
            # next request loads the scripts again and works
        with process(args, port):
            assert await page(client, SHOW) == [[]]
            await page(client, ["flash", "after"], end="303")
        # stopped: the page renders without flashes, and an ERROR names the
        # cause (docs/concurrency.rst, "When Redis is away")
        with caplog.at_level(logging.ERROR):
            resp = await client.post("/scoped", headers=ops_headers([SHOW]))
        assert resp.status == 200
        assert "cannot reach Redis" in caplog.text
        with process(args, port):
            assert await page(client, SHOW) == [[]]  # a new, empty Redis
    finally:
        await redis.aclose()


async def test_a_hash_with_a_counter_not_the_stores_is_replaced(
    make: Make, admin: aioredis.Redis
) -> None:
    client = await make()
    await page(client, ["set", "a", 1], end="303")
    ident = await visitor(client)
    await admin.hset(PREFIX + ident, "#", "not a number")
    resp = await client.post(
        "/scoped",
        headers=ops_headers([["set", "b", 2], ["flash", "new"]], "303"),
        allow_redirects=False,
    )
    assert resp.status == 303
    assert await held(admin, ident) == ({"b": 2}, [["message", "new"]])
    assert await admin.pttl(PREFIX + ident) > 0


@pytest.mark.parametrize("counter", ["99999999999999999999", "100000000000000"])
async def test_redis_a_counter_too_large_for_the_store_is_replaced(
    make: Make, admin: aioredis.Redis, counter: str, caplog: pytest.LogCaptureFixture
) -> None:
    """docs/concurrency.rst, "When Redis is away": a counter that is not the
    store's is replaced. A number Redis cannot raise (past 64 bits) made
    every commit of the visitor fail; one past what a script writes as
    digits (10**14) stored every new flash under a version no take reads.
    """
    client = await make()
    await page(client, ["set", "a", 1], end="303")
    ident = await visitor(client)
    await admin.hset(PREFIX + ident, "#", counter)
    with caplog.at_level(logging.ERROR, logger=LOG):
        await page(client, ["flash", "b"], end="303")
        await page(client, ["flash", "c"], end="303")
    assert caplog.records == []
    assert await page(client, SHOW) == [[["message", "b"], ["message", "c"]]]


async def test_redis_a_lease_field_not_the_stores_is_dropped(
    make: Make, admin: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """A lease field that holds what the store never writes (here a list
    of numbers, not of [field, version] pairs) is data that is not the
    store's: dropped, not an error on every page of the visitor.
    """
    client = await make()
    await page(client, ["flash", "a"], end="303")
    ident = await visitor(client)
    await admin.hset(PREFIX + ident, "lforeign", "99999999999999|[1,2]")
    with caplog.at_level(logging.ERROR, logger=LOG):
        assert await page(client, SHOW) == [[["message", "a"]]]
    assert caplog.records == []


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (b'v"\xff"', b"40|[1, 2]"),
        (b"m40", b'40|[1, "message", "\xff"]'),
        (b"\xff", b"x"),
        (b"@", b"\xff"),
    ],
)
async def test_redis_bytes_that_are_not_text_under_the_visitor_key(
    aiohttp_client: Any,
    redis_port: int,
    admin: aioredis.Redis,
    name: bytes,
    content: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """docs/concurrency.rst, "When Redis is away": data under a visitor's
    key that is not the store's is no flashes, never a 500, also for a
    client made with ``decode_responses=True``, which cannot decode bytes
    that are not UTF-8 (the store writes ASCII only).
    """
    decoding = aioredis.Redis(
        host="127.0.0.1", port=redis_port, db=DB, decode_responses=True
    )
    try:
        client: Client = await aiohttp_client(store_app(decoding))
        await page(client, ["flash", "a"], end="303")
        ident = await visitor(client)
        await admin.hset(PREFIX + ident, name, content)
        with caplog.at_level(logging.WARNING, logger=LOG):
            assert await page(client, SHOW) == [[["message", "a"]]]
        await page(client, ["flash", "b"], end="303")
        assert await page(client, SHOW) == [[["message", "b"]]]
        assert await admin.hget(PREFIX + ident, name) is None  # removed
    finally:
        await decoding.aclose()


async def user_in(request: web.Request) -> web.Response:
    """Log in without flashes (unscoped): the session exists, with no id."""
    (await get_session(request))["user"] = "ann"
    return web.Response(text="in")


@pytest.mark.parametrize("planted", ["list", "not an id", "x" * 22 + "\xff"])
async def test_redis_a_session_map_not_the_stores(
    make: Make,
    app_redis: aioredis.Redis,
    admin: aioredis.Redis,
    planted: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """docs/concurrency.rst, "The visitor id": the key that maps a session
    cookie's hash to the id, holding what the store never writes there
    (another type, a value that is no id), is replaced: the visitor's
    first flash is stored under an id of the store's, and shown.
    """
    client = await make(
        RedisStorage(app_redis, max_age=3600), routes=(("POST", "/user", user_in),)
    )
    assert (await client.post("/user")).status == 200  # a session, no id
    cookie = next(m.value for m in client.session.cookie_jar if m.key == COOKIE)
    digest = hashlib.sha256(f"{COOKIE}={cookie}".encode()).hexdigest()
    mapped = f"{PREFIX}session:{digest}"
    if planted == "list":
        await admin.rpush(mapped, "x")
    else:
        await admin.set(mapped, planted.encode("latin-1"))
    with caplog.at_level(logging.WARNING, logger=LOG):
        await page(client, ["flash", "first"], end="303")
        assert await page(client, SHOW) == [[["message", "first"]]]
    assert [r.levelname for r in caplog.records] == ["WARNING"], caplog.text
    assert "not its own" in caplog.text
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", await visitor(client))


async def test_a_client_that_decodes_responses(
    aiohttp_client: Any, redis_port: int, admin: aioredis.Redis
) -> None:
    redis = aioredis.Redis(
        host="127.0.0.1", port=redis_port, db=DB, decode_responses=True
    )
    try:
        client: Client = await aiohttp_client(store_app(redis))
        await page(client, ["flash", "é"], ["set", "ключ", [1]], end="303")
        assert await page(client, SHOW, ["get", "ключ"]) == [[["message", "é"]], [1]]
    finally:
        await redis.aclose()


async def test_redis_a_client_that_decodes_responses_everywhere(
    aiohttp_client: Any, redis_port: int, app_redis: aioredis.Redis
) -> None:
    """docs/concurrency.rst: the client may be made with
    ``decode_responses=True``: then too, what gives way to ``max_bytes`` is
    named and recorded, a server-side session finds its id, and a remade
    hash is recognised.
    """
    decoding = aioredis.Redis(
        host="127.0.0.1", port=redis_port, db=DB, decode_responses=True
    )
    try:
        client: Client = await aiohttp_client(
            store_app(decoding, RedisStorage(app_redis, max_age=3600), max_bytes=150)
        )
        await page(client, ["set", "a", "x" * 60], end="303")
        with record_flashes(client.app) as records:
            await page(client, ["set", "b", "y" * 60], end="303")
        assert records[0].dropped == fb.Flashes({"a": "x" * 60}, [])
        assert await page(client, ["get", "a"], ["get", "b"]) == [None, "y" * 60]
        await page(client, ["flash", "again"], end="303")
        assert await page(client, SHOW) == [[["message", "again"]]]
    finally:
        await decoding.aclose()


async def test_redis_store_reads_0_0_3_values_as_incoming(
    aiohttp_client: Any, flash_redis: Any
) -> None:
    """docs/lifecycle.rst, "Bad input and faults": data stored by
    aiohttp-flashbag 0.0.3 (an object of key to value) is read as incoming
    values; docs/concurrency.rst: everything in the lifecycle holds with the
    Redis store. An upgrade from 0.0.3 straight to the Redis store.
    """
    app = routes_app({"/show": show_incoming}, store=redis_store(flash_redis))
    client = await aiohttp_client(app)
    plant(client, {"aiohttp_flashbag": {"notice": "from 0.0.3"}})
    assert await shown(client) == {"values": {"notice": "from 0.0.3"}, "messages": []}


@pytest.fixture(scope="module")
def seed_003(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """aiohttp-flashbag 0.0.3, installed aside and imported under another name."""
    into = tmp_path_factory.mktemp("seed_003")
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps"]
    result = subprocess.run(
        [*pip, "--target", str(into), "aiohttp-flashbag==0.0.3"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    spec = importlib.util.spec_from_file_location(
        "aiohttp_flashbag_0_0_3", into / "aiohttp_flashbag" / "__init__.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.filterwarnings("ignore:It is recommended to use web.RequestKey")
@pytest.mark.parametrize("sessions", ["sealed cookie", "RedisStorage"])
async def test_redis_store_rolling_deploy_with_0_0_3_never_fails(
    aiohttp_server: Any,
    flash_redis: Any,
    redis_port: int,
    seed_003: Any,
    sessions: str,
) -> None:
    """docs/lifecycle.rst, "Bad input and faults": a rolling deploy between
    0.0.3 and this version with the Redis store (the session holds its id):
    no 500 on either side, on any request, and 0.0.3's ``flashbag_get``
    returns its default for every key an app would use.
    """
    from aiohttp_session.cookie_storage import EncryptedCookieStorage
    from aiohttp_session.redis_storage import RedisStorage
    from redis import asyncio as aioredis

    secret = os.urandom(32)
    session_redis = aioredis.Redis(host="127.0.0.1", port=redis_port, db=12)

    def storage() -> Any:
        if sessions == "RedisStorage":
            return RedisStorage(session_redis, cookie_name="SHARED", max_age=600)
        return EncryptedCookieStorage(secret, cookie_name="SHARED")

    keys = ["error", "notice", "message", "id", fb.SESSION_KEY]

    async def new_page(request: web.Request) -> web.Response:
        return web.json_response(
            [fb.flashbag_get(request, "notice"), fb.get_flashed_messages(request)]
        )

    async def new_submit(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "error", "new")
        fb.flash(request, "Saved")
        raise web.HTTPSeeOther("/page")

    async def old_page(request: web.Request) -> web.Response:
        return web.json_response(
            {key: seed_003.flashbag_get(request, key, "<default>") for key in keys}
        )

    async def old_submit(request: web.Request) -> web.Response:
        seed_003.flashbag_set(request, "notice", "old")
        raise web.HTTPSeeOther("/page")

    new = routes_app(
        {"/page": new_page, "/submit": new_submit},
        storage=storage(),
        middleware=True,
        store=redis_store(flash_redis),
    )
    old = web.Application()
    setup_session(old, storage())
    old.middlewares.append(seed_003.flashbag_middleware)
    old.router.add_get("/page", old_page)
    old.router.add_post("/submit", old_submit)
    servers = [await aiohttp_server(new), await aiohttp_server(old)]
    steps = [
        (server, method, path)
        for server in servers
        for method, path in (("POST", "/submit"), ("GET", "/page"))
    ]
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        for first in steps:
            for second in steps:
                for server, method, path in (first, second):
                    url = server.make_url(path)
                    async with browser.request(
                        method, url, allow_redirects=False
                    ) as resp:
                        body = await resp.text()
                        assert resp.status in (200, 303), body
                    if server is servers[1] and path == "/page":
                        page = json.loads(body)
                        assert page["error"] == "<default>", page
                        assert page[fb.SESSION_KEY] == "<default>", page
    await session_redis.aclose()


async def test_encrypted_sessions_work_the_same(
    make: Make, admin: aioredis.Redis
) -> None:
    cookies = FernetCookies()
    client = await make(cookies.storage)
    await page(client, ["flash", "hi"], end="303")
    cookie = next(m.value for m in client.session.cookie_jar if m.key == COOKIE)
    assert list(cookies.read(cookie)["session"]) == [KEY]
    assert await page(client, SHOW) == [[["message", "hi"]]]
