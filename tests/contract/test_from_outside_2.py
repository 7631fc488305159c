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
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage, get_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from aiohttp_session.redis_storage import RedisStorage
from redis import asyncio as aioredis

import aiohttp_flashbag as fb
from aiohttp_flashbag._settings import SETTINGS_KEY
from aiohttp_flashbag.stores import RedisFlashStore
from aiohttp_flashbag.testing import record_flashes

from ..conftest import Client, make_app
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
    """Wait until a lease is in ``key``, then until every lease there has
    run out by Redis's own clock (no time is asserted: the deadlines are
    read from Redis).
    """
    deadlines: list[int] = []
    while not deadlines:  # the take has run in Redis once a lease is there
        fields = await admin.hgetall(key)
        deadlines = [
            int(str(content, "ascii").split("|", 1)[0])
            for name, content in fields.items()
            if isinstance(name, bytes) and isinstance(content, bytes)
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


# -- sizes ---------------------------------------------------------------------------


async def log_in(request: web.Request) -> web.Response:
    """Unscoped: the visitor logs in (the session that must survive)."""
    (await get_session(request))["user"] = "ann"
    return web.Response(text="in")


def form_back(size: int) -> Any:
    @fb.with_flashbag
    async def form(request: web.Request) -> web.StreamResponse:
        fb.flashbag_set(request, "entry", "é" * (size // 2))  # what was typed
        fb.flash(request, "Please fix the errors", "error")
        raise web.HTTPSeeOther("/page")

    return form


@fb.with_flashbag
async def form_page(request: web.Request) -> web.Response:
    entry = fb.flashbag_get(request, "entry")
    return web.json_response(
        {
            "user": (await get_session(request)).get("user"),
            "entry": None if entry is None else len(str(entry)),
            "messages": fb.get_flashed_messages(request),
        }
    )


@pytest.fixture(
    params=[
        "SimpleCookieStorage",
        "EncryptedCookieStorage",
        "NaClCookieStorage",
        "RedisStorage",
        "MemcachedStorage",
        "RedisFlashStore",
    ]
)
async def place(
    request: pytest.FixtureRequest, redis_port: int, memcached_port: int
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """A session storage (and the flash store): ``(name, setup() settings)``."""
    name: str = request.param
    closing: list[Any] = []
    settings: dict[str, Any] = {}
    if name == "SimpleCookieStorage":
        settings["storage"] = SimpleCookieStorage()
    elif name == "EncryptedCookieStorage":
        settings["storage"] = EncryptedCookieStorage(os.urandom(32))
    elif name == "NaClCookieStorage":
        import nacl.secret
        import nacl.utils
        from aiohttp_session.nacl_storage import NaClCookieStorage

        settings["storage"] = NaClCookieStorage(
            nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE)
        )
    elif name in ("RedisStorage", "RedisFlashStore"):
        redis = aioredis.Redis(host="127.0.0.1", port=redis_port, db=DB)
        closing.append(redis.aclose)
        settings["storage"] = RedisStorage(redis, max_age=3600)
        if name == "RedisFlashStore":
            settings["storage"] = EncryptedCookieStorage(os.urandom(32))
            settings["store"] = RedisFlashStore(redis, timeout=30)
    else:
        import aiomcache
        from aiohttp_session.memcached_storage import MemcachedStorage

        memcached = aiomcache.Client("127.0.0.1", memcached_port)
        closing.append(memcached.close)
        settings["storage"] = MemcachedStorage(memcached, max_age=3600)
    yield name, settings
    for close in closing:
        await close()


@pytest.mark.parametrize("max_bytes", [2048, None])
@pytest.mark.parametrize("size", [100_000, 2_000_000])
async def test_sizes_a_long_form_entry_never_500_and_keeps_the_login(
    aiohttp_client: Any,
    place: tuple[str, dict[str, Any]],
    max_bytes: int | None,
    size: int,
    request: pytest.FixtureRequest,
) -> None:
    """docs/sizes.rst: a flash never turns a request into an error because
    of its size (a form that flashes what the visitor typed, 100 KB or
    2 MB of it), and flashes never lose the rest of the session (a login),
    with every session storage, the Redis flash store, and
    ``max_bytes=None``.
    """
    name, settings = place
    if name == "MemcachedStorage" and max_bytes is None and size > 1_000_000:
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason="memcached refuses a record over 1 MB, and with "
                "max_bytes=None nothing drops the flash: aiohttp-session's "
                "save raises, a 500 that loses the request (no guard like "
                "the cookie guard exists for server-side storages)",
            )
        )
    storage = settings.pop("storage")
    client: Client = await aiohttp_client(
        make_app(
            [
                ("POST", "/login", log_in),
                ("POST", "/form", form_back(size)),
                ("GET", "/page", form_page),
            ],
            storage=storage,
            max_bytes=max_bytes,
            **settings,
        )
    )
    assert (await client.post("/login")).status == 200
    resp = await client.post("/form", allow_redirects=False)
    assert resp.status == 303, await resp.text()
    resp = await client.get("/page")
    assert resp.status == 200, await resp.text()
    got = await resp.json()
    assert got["user"] == "ann"
    if max_bytes is not None:  # the entry gave way to max_bytes
        assert got["entry"] is None
        assert got["messages"] == ["Please fix the errors"]


# -- every kind of response ----------------------------------------------------------

THIS_FILE = __file__


@fb.with_flashbag
async def seed_flash(request: web.Request) -> web.StreamResponse:
    fb.flash(request, "waiting")
    raise web.HTTPSeeOther("/page")


@fb.with_flashbag
async def messages(request: web.Request) -> web.Response:
    return web.json_response(fb.get_flashed_messages(request))


@fb.with_flashbag
async def a_file(request: web.Request) -> web.FileResponse:
    """A file page that shows nothing."""
    return web.FileResponse(THIS_FILE)


@pytest.fixture(params=["session", "session, setup()", "RedisFlashStore"])
def file_app(request: pytest.FixtureRequest, app_redis: aioredis.Redis) -> Any:
    settings: dict[str, Any] = {}
    if request.param == "session, setup()":
        settings["max_age"] = 600
    elif request.param == "RedisFlashStore":
        settings["store"] = RedisFlashStore(app_redis, timeout=30)
    return make_app(
        [
            ("POST", "/seed", seed_flash),
            ("GET", "/messages", messages),
            ("*", "/file", a_file),
        ],
        storage=EncryptedCookieStorage(os.urandom(32)),
        **settings,
    )


@pytest.mark.parametrize(
    ("method", "headers", "status", "consumed"),
    [
        ("GET", {}, 200, True),
        ("GET", {"Range": "bytes=0-9"}, 206, True),
        ("GET", {"Range": "bytes=999999999-"}, 416, True),
        ("GET", {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}, 304, False),
        ("HEAD", {}, 200, False),
    ],
)
async def test_lifecycle_file_responses_end_by_their_status(
    aiohttp_client: Any,
    file_app: web.Application,
    method: str,
    headers: dict[str, str],
    status: int,
    consumed: bool,
) -> None:
    """docs/lifecycle.rst, "The lifecycle": a ``FileResponse`` ends the
    request by the status it answers with, whatever the client's headers
    make of it: a range (206, or 416 out of range) is an ordinary response
    and consumes the flashes it did not show; a 304 (the browser's copy is
    fresh) is a 3xx and carries them on; a HEAD consumes nothing. With the
    session store (with and without ``setup()``) and the Redis store.
    """
    if status == 304 and not file_app.get(SETTINGS_KEY):
        # Without setup() nothing sees the response being prepared, where a
        # FileResponse turns into a 304: it ends as the 200 it was returned
        # as (docs/lifecycle.rst, "A streamed response").
        consumed = True
    client: Client = await aiohttp_client(file_app)
    assert (await client.post("/seed", allow_redirects=False)).status == 303
    resp = await client.request(method, "/file", headers=headers)
    assert resp.status == status
    await resp.read()
    left = await (await client.get("/messages")).json()
    assert left == ([] if consumed else ["waiting"])


# -- htmx ---------------------------------------------------------------------------


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


async def test_htmx_bound_counts_the_handler_s_own_trigger(
    aiohttp_client: Any,
) -> None:
    """docs/htmx.rst: the ``HX-Trigger`` value stays within 4096 bytes with
    the handler's own trigger merged in; what does not fit is not
    delivered and waits (an ``unread="keep"`` site) for the next page.
    """

    @fb.with_flashbag
    async def busy(request: web.Request) -> web.Response:
        return web.Response(
            text="ok", headers={"HX-Trigger": json.dumps({"big": "x" * 4000})}
        )

    client: Client = await aiohttp_client(
        make_app(
            [
                ("POST", "/seed", seed_flash),
                ("GET", "/busy", busy),
                ("GET", "/page", messages),
            ],
            htmx_event="flash",
            unread="keep",
        )
    )
    assert (await client.post("/seed", allow_redirects=False)).status == 303
    resp = await client.get("/busy", headers={"HX-Request": "true"})
    header = resp.headers["HX-Trigger"]
    assert len(header.encode()) <= 4096
    assert json.loads(header)["big"] == "x" * 4000
    assert await (await client.get("/page")).json() == ["waiting"]


# -- the Redis store: sizes, sessions, prefixes ---------------------------------------


async def test_redis_max_bytes_holds_with_concurrent_writers(
    make: Make, admin: aioredis.Redis
) -> None:
    """docs/concurrency.rst: ``max_bytes`` bounds what Redis holds for one
    visitor, measured as for the session, however many requests write at
    once: two requests, each within the bound alone, commit one after the
    other while both are in flight; the older flashes give way.
    """
    client = await make(max_bytes=2048)
    await page(client, ["set", "first", "x"], end="303")  # the visitor's id
    ident = await visitor(client)
    one = await held_at_gate(client, "one", [["set", "a", "a" * 1500]], end="303")
    two = await held_at_gate(client, "two", [["set", "b", "b" * 1500]], end="303")
    release(client, "one")
    await one
    release(client, "two")
    await two
    _, values, messages = await test_redis_store.stored_form(admin, ident)
    assert len(json.dumps([2, values, messages])) <= 2048
    assert "b" in values  # the later commit's own
    assert "a" not in values  # a and b do not fit together


@pytest.mark.parametrize("sessions", ["encrypted", "RedisStorage"])
async def test_redis_a_log_in_beside_a_request_in_flight_crosses_nothing(
    make: Make, app_redis: aioredis.Redis, sessions: str
) -> None:
    """docs/lifecycle.rst, "A new session": flashes never cross from one
    session to another. A redirect of the visitor's old session is in
    flight, holding a flash it took, while another request logs in (a new
    session with its own flash); the redirect then gives its flash back.
    The new session shows its own flash only.
    """
    storage: Any = (
        EncryptedCookieStorage(os.urandom(32))
        if sessions == "encrypted"
        else RedisStorage(app_redis, max_age=3600)
    )
    client = await make(storage=storage)
    await page(client, ["flash", "for the old session"], end="303")
    old = await held_at_gate(client, "old", [], end="303")
    resp = await client.post("/login", allow_redirects=False)
    assert resp.status == 303
    release(client, "old")
    assert await old == []
    assert await page(client, SHOW) == [[["message", "Welcome"]]]


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


# -- streamed responses ---------------------------------------------------------------


@fb.with_flashbag
async def stream_then_fail(request: web.Request) -> web.StreamResponse:
    """Shows the flashes, prepares its own response, then fails."""
    response = web.StreamResponse()
    response.content_type = "text/plain"
    shown = fb.get_flashed_messages(request)
    await response.prepare(request)
    await response.write(json.dumps(shown).encode())
    raise RuntimeError("the handler failed after prepare()")


@pytest.mark.parametrize(
    ("store", "with_setup"),
    [("session", True), ("session", False), ("RedisFlashStore", True)],
)
async def test_streamed_a_handler_that_prepares_then_raises(
    aiohttp_client: Any, app_redis: aioredis.Redis, store: str, with_setup: bool
) -> None:
    """docs/lifecycle.rst, "A streamed response": with ``setup()`` the scope
    commits when the response is prepared, as if the request had ended
    there (a 200 that showed the flash: consumed), whatever the handler
    does after; without ``setup()`` the response was already sent when the
    scope ends, and flashes are unchanged.
    """
    settings: dict[str, Any] = {}
    if store == "RedisFlashStore":
        settings["store"] = RedisFlashStore(app_redis, timeout=30)
    elif with_setup:
        settings["max_age"] = 600
    client: Client = await aiohttp_client(
        make_app(
            [
                ("POST", "/seed", seed_flash),
                ("GET", "/stream", stream_then_fail),
                ("GET", "/page", messages),
            ],
            storage=EncryptedCookieStorage(os.urandom(32)),
            **settings,
        )
    )
    assert (await client.post("/seed", allow_redirects=False)).status == 303
    with contextlib.suppress(Exception):
        resp = await client.get("/stream")
        await resp.read()
    left = await (await client.get("/page")).json()
    assert left == ([] if with_setup else ["waiting"])


# -- testing --------------------------------------------------------------------------


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


async def test_redis_max_bytes_counts_as_the_session_would_hold_it(
    make: Make, admin: aioredis.Redis
) -> None:
    """docs/concurrency.rst: ``max_bytes`` bounds what Redis holds for one
    visitor, *measured as for the session* (docs/lifecycle.rst, "Size":
    ``json.dumps`` of the stored bag, the entry under the session key). Two
    requests in flight at once each set a value that fits alone; the two
    together are a few bytes over the bound, so one gives way.
    """
    client = await make(max_bytes=190)  # one value: 118 bytes, both: 201
    await page(client, ["set", "first", 1], end="303")
    await page(client, ["get", "first"])  # the visitor has an id, no flashes
    ident = await visitor(client)
    one = await held_at_gate(client, "one", [["set", "a", "x" * 60]], end="303")
    two = await held_at_gate(client, "two", [["set", "b", "y" * 60]], end="303")
    release(client, "one")
    await one
    release(client, "two")
    await two
    _, values, messages = await test_redis_store.stored_form(admin, ident)
    bag = {"__aiohttp_flashbag__": [2, values, messages]}
    assert len(json.dumps(bag)) <= 190, bag
    assert list(values) == ["b"]


@pytest.mark.parametrize(
    "trigger",
    [
        '{"flash": "not a list"}',
        '{"flash": {"an": "object"}}',
        '{"flash": null}',
        "{not json",
        "[1, 2]",
        '"a string"',
        "flash",
        " , ,",
    ],
)
async def test_htmx_any_trigger_the_handler_set_is_never_a_500(
    aiohttp_client: Any, trigger: str
) -> None:
    """docs/htmx.rst: a ``HX-Trigger`` header the handler set is kept and
    merged. Whatever the handler wrote there (the event's own name with a
    detail that is not a list, JSON that is not an object, text that is not
    JSON), the response is never a 500, the header is one htmx reads, and a
    message is delivered once or waits (``unread="keep"``), never lost.
    """

    @fb.with_flashbag
    async def handler(request: web.Request) -> web.Response:
        fb.flash(request, "mine")
        return web.Response(text="ok", headers={"HX-Trigger": trigger})

    client: Client = await aiohttp_client(
        make_app(
            [("GET", "/h", handler), ("GET", "/page", messages)],
            htmx_event="flash",
            unread="keep",
        )
    )
    resp = await client.get("/h", headers={"HX-Request": "true"})
    assert resp.status == 200
    header = resp.headers["HX-Trigger"]
    delivered = False
    if header.startswith("{"):
        with contextlib.suppress(ValueError):
            sent = json.loads(header)
            delivered = isinstance(sent.get("flash"), list) and any(
                isinstance(d, dict) and d.get("message") == "mine"
                for d in sent["flash"]
            )
    left = await (await client.get("/page")).json()
    assert (left == []) if delivered else (left == ["mine"]), (header, left)


@pytest.mark.parametrize(
    "trigger",
    ['{"flash": "not a list"}', '{"flash": {"an": "object"}}', "{not json", '{"a":'],
)
async def test_htmx_a_trigger_that_cannot_be_merged_is_kept_as_it_is(
    aiohttp_client: Any, trigger: str
) -> None:
    """docs/htmx.rst: the handler's ``HX-Trigger`` is kept. One the messages
    cannot be merged into (the event's own detail that is not a list, a
    header that opens an object that is not JSON) is left exactly as the
    handler wrote it, and the messages wait for the next page.
    """

    @fb.with_flashbag
    async def handler(request: web.Request) -> web.Response:
        fb.flash(request, "mine")
        return web.Response(text="ok", headers={"HX-Trigger": trigger})

    client: Client = await aiohttp_client(
        make_app(
            [("GET", "/h", handler), ("GET", "/page", messages)],
            htmx_event="flash",
        )
    )
    resp = await client.get("/h", headers={"HX-Request": "true"})
    assert resp.status == 200
    assert resp.headers.getall("HX-Trigger") == [trigger]
    assert await (await client.get("/page")).json() == ["mine"]


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


# -- speculative requests -----------------------------------------------------------


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
            ("GET", "/page", messages),
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
