"""The Redis flash store under forced interleavings (docs/concurrency.rst).

Each test forces one interleaving every time: gates (``asyncio.Event``) hold
handlers at a chosen point, and a TCP proxy in front of redis-server
(tests/support/redisproxy.py) holds Redis's replies, or cuts the connection. One
test per sentence of "The guarantee", "The visitor id", "Leases" and "When
Redis is away".
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import signal
import time
from collections.abc import AsyncIterator, Collection
from typing import Any

import aiohttp
import aiohttp_session
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, make_mocked_request
from aiohttp_session import AbstractStorage, Session, SimpleCookieStorage, get_session
from aiohttp_session import setup as setup_session
from aiohttp_session.redis_storage import RedisStorage
from redis import asyncio as aioredis

import aiohttp_flashbag as fb
from aiohttp_flashbag._settings import Settings
from aiohttp_flashbag.stores import RedisFlashStore
from aiohttp_flashbag.testing import record_flashes

from ..conftest import Client, CountingStorage, FernetCookies, make_app, with_clock
from ..support import pages
from ..support.opsapp import ops_headers
from ..support.pages import (
    SEEDED,
    redis_store,
    routes_app,
    sealed,
    seed,
    show_incoming,
    shown,
)
from ..support.redisproxy import Proxy
from ..support.servers import free_port, process, require_binary
from . import test_redis_store
from .site import DOORS
from .test_redis_store import (
    DB,
    DOOR_PATHS,
    GATES,
    KEY,
    LOG,
    PREFIX,
    SHOW,
    Make,
    gate,
    held_at_gate,
    page,
    release,
    session_cookie,
    store_app,
    visitor,
)

# The fixtures of tests/stores/test_redis_store.py: the store's database, emptied
# (admin), the app's connection, and clients of a store app.
admin = test_redis_store.admin
app_redis = test_redis_store.app_redis
make = test_redis_store.make

# The fixture of tests/support/pages.py: a database of its own for the flash
# store, emptied.
flash_redis = pages.flash_redis

MARKER = "__aiohttp_flashbag_redis__"


async def user_in(request: web.Request) -> web.Response:
    """Log in without flashes (unscoped): the session exists, with no id."""
    (await get_session(request))["user"] = "ann"
    return web.Response(text="in")


async def stamp(request: web.Request) -> web.Response:
    """Unscoped: loads the session, waits at its gate, writes ``last_seen``
    (an app's own session write, made by a request that never saw the id).
    """
    session = await get_session(request)
    await gate(request)
    session["last_seen"] = 1
    return web.Response(text="seen")


@fb.with_flashbag
async def forget_user(request: web.Request) -> web.Response:
    """Delete one key of the session (not a new session) and redirect."""
    (await get_session(request)).pop("user", None)
    raise web.HTTPSeeOther("/scoped")


@fb.with_flashbag
async def log_out(request: web.Request) -> web.Response:
    (await get_session(request)).invalidate()
    raise web.HTTPSeeOther("/scoped")


ROUTES = (
    ("POST", "/user", user_in),
    ("GET", "/stamp", stamp),
    ("POST", "/forget", forget_user),
    ("POST", "/out", log_out),
)


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


async def until(check: Any, seconds: float = 15) -> Any:
    """Poll ``check()`` (a coroutine function) until it is truthy; what it
    returned last. For what a lease running out brings back: no timing is
    asserted, only that it comes.
    """
    result = None
    for _ in range(int(seconds / 0.1)):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.1)
    return result


# -- the visitor id ------------------------------------------------------------------


def sessions_in(sessions: str, app_redis: aioredis.Redis) -> AbstractStorage:
    """The session storage a race test runs on: sealed cookies
    (``"encrypted"``) or aiohttp-session's ``RedisStorage``."""
    if sessions == "encrypted":
        return FernetCookies().storage
    return RedisStorage(app_redis, max_age=3600)


@pytest.mark.parametrize("sessions", ["encrypted", "redis"])
async def test_two_tabs_of_a_logged_in_visitor_flash_at_once(
    make: Make, app_redis: aioredis.Redis, sessions: str
) -> None:
    """Two first flashes of one session race: both are shown."""
    storage = sessions_in(sessions, app_redis)
    client = await make(storage, routes=ROUTES)
    await client.post("/user")
    tab1 = await held_at_gate(client, "1", [["flash", "from-tab-1"]], end="303")
    tab2 = await held_at_gate(client, "2", [["flash", "from-tab-2"]], end="303")
    release(client, "1")
    await tab1
    release(client, "2")
    await tab2  # the browser keeps this cookie
    shown = (await page(client, SHOW))[0]
    assert sorted(shown) == [["message", "from-tab-1"], ["message", "from-tab-2"]]


async def test_a_server_session_rewritten_without_the_id(
    make: Make, app_redis: aioredis.Redis
) -> None:
    """RedisStorage: a concurrent request that loaded the session before the
    id was made saves it without the id; the next page still shows the flash.
    """
    counting = CountingStorage(RedisStorage(app_redis, max_age=3600))
    client = await make(counting.storage, routes=ROUTES)
    await client.post("/user")
    gates = client.app[GATES]
    gates["s"] = (asyncio.Event(), asyncio.Event())
    stamping = asyncio.create_task(client.get("/stamp", headers={"X-Gate": "s"}))
    await asyncio.wait_for(gates["s"][0].wait(), 5)
    await page(client, ["flash", "Saved"], end="303")
    release(client, "s")
    assert (await stamping).status == 200  # saved {user, last_seen}: no id
    saves = counting.saves
    assert await page(client, ["flash", "More"], end="303") == [None]
    assert await page(client, SHOW) == [[["message", "Saved"], ["message", "More"]]]
    # found through the cookie, and the session not written to put it back
    assert counting.saves == saves


async def test_a_key_deleted_from_the_session_is_not_a_new_session(
    make: Make,
) -> None:
    client = await make(routes=ROUTES)
    await client.post("/user")
    await page(client, ["flash", "kept"], end="303")
    assert (await client.post("/forget", allow_redirects=False)).status == 303
    assert await page(client, SHOW) == [[["message", "kept"]]]


async def test_a_log_out_after_the_id_was_dropped_carries_nothing_over(
    make: Make, app_redis: aioredis.Redis, admin: aioredis.Redis
) -> None:
    """RedisStorage, the id dropped by a concurrent write (found again by
    the cookie): invalidate() is still a new session.
    """
    client = await make(RedisStorage(app_redis, max_age=3600), routes=ROUTES)
    await client.post("/user")
    gates = client.app[GATES]
    gates["s"] = (asyncio.Event(), asyncio.Event())
    stamping = asyncio.create_task(client.get("/stamp", headers={"X-Gate": "s"}))
    await asyncio.wait_for(gates["s"][0].wait(), 5)
    await page(client, ["flash", "private"], end="303")
    release(client, "s")
    await stamping
    assert (await client.post("/out", allow_redirects=False)).status == 303
    assert await page(client, SHOW) == [[]]
    # not given back to the old session's hash either
    for name in await admin.keys(PREFIX + "*"):
        if await admin.type(name) == b"hash":
            contents = (await admin.hgetall(name)).values()
            assert not any(b"private" in c for c in contents)


async def test_redis_an_expired_session_s_cookie_leads_to_none_of_its_flashes(
    make: Make, app_redis: aioredis.Redis, admin: aioredis.Redis
) -> None:
    """docs/concurrency.rst, "The visitor id": flashes never cross from one
    session to another. A server-side session expires with a flash waiting
    in it; the browser still sends its cookie, and the storage starts a new
    session. That session's first flash does not find the old session's id
    through the cookie it was sent with, nor show the old flash.
    """
    client = await make(RedisStorage(app_redis, max_age=3600), routes=ROUTES)
    await client.post("/user")
    await page(client, ["flash", "old"], end="303")
    for name in await admin.keys("AIOHTTP_SESSION_*"):
        await admin.delete(name)  # the session expired
    await page(client, ["flash", "new"], end="303")
    assert await page(client, SHOW) == [[["message", "new"]]]


async def test_the_session_holds_the_id_under_a_marker_key(make: Make) -> None:
    """aiohttp-flashbag 0.0.3 reads ``session[key].get(name, default)``: it
    must get its default for every name an app would use.
    """
    client = await make()
    await page(client, ["flash", "hi"], end="303")
    entry = session_cookie(client)[KEY]
    assert isinstance(entry, dict)
    assert list(entry) == [MARKER]
    for name in ("message", "error", "form", "id", "aiohttp_flashbag"):
        assert entry.get(name, "default") == "default"


async def test_two_visitors_with_the_same_plain_cookie_share_nothing(
    make: Make,
) -> None:
    """A plain cookie is the session's JSON: two sessions with the same data
    send the same cookie, so the id is never looked up by it.
    """
    ann = await make(routes=ROUTES)
    await ann.post("/user")
    bob = await make(routes=ROUTES)
    same = next(m.value for m in ann.session.cookie_jar if m.key == "AIOHTTP_SESSION")
    bob.session.cookie_jar.update_cookies({"AIOHTTP_SESSION": same}, bob.make_url("/"))
    await page(ann, ["flash", "for ann"], end="303")
    await page(bob, ["flash", "for bob"], end="303")
    assert await page(bob, SHOW) == [[["message", "for bob"]]]
    assert await page(ann, SHOW) == [[["message", "for ann"]]]


@pytest.mark.parametrize(
    ("entry", "read"),
    [
        # flashes kept in the session (by 0.0.3, by the session store) are read
        ({"form": "old 0.0.3 value"}, "old 0.0.3 value"),
        ({"__aiohttp_flashbag__": [2, {}, []]}, None),
        ([1, 2], None),
        (7, None),
    ],
)
async def test_other_entries_under_the_key_are_no_id(
    make: Make, entry: Any, read: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make()
    data = json.dumps({"session": {KEY: entry}, "created": 1})
    client.session.cookie_jar.update_cookies(
        {"AIOHTTP_SESSION": data}, client.make_url("/")
    )
    with caplog.at_level(logging.WARNING, logger=LOG):
        assert await page(client, SHOW, ["get", "form"]) == [[], read]
    await page(client, ["flash", "new"], end="303")
    assert await page(client, SHOW) == [[["message", "new"]]]


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
    storage = sessions_in(sessions, app_redis)
    client = await make(storage=storage)
    await page(client, ["flash", "for the old session"], end="303")
    old = await held_at_gate(client, "old", [], end="303")
    resp = await client.post("/login", allow_redirects=False)
    assert resp.status == 303
    release(client, "old")
    assert await old == []
    assert await page(client, SHOW) == [[["message", "Welcome"]]]


@pytest.mark.parametrize("sessions", ["encrypted", "redis"])
async def test_redis_two_tabs_first_flashes_then_a_redirect_chain_each(
    make: Make, app_redis: aioredis.Redis, sessions: str
) -> None:
    """Two tabs of a logged-in visitor post at once (the session's first
    flashes), and each follows its redirect through a page that redirects
    again, both in flight at once: the final page shows both flashes, once.
    """
    storage = sessions_in(sessions, app_redis)
    client = await make(storage, routes=ROUTES)
    await client.post("/user")
    tab1 = await held_at_gate(client, "1", [["flash", "from-tab-1"]], end="303")
    tab2 = await held_at_gate(client, "2", [["flash", "from-tab-2"]], end="303")
    release(client, "2")
    await tab2
    release(client, "1")
    await tab1
    # each tab's next hop redirects again; the first carries both flashes
    hop1 = await held_at_gate(client, "hop1", [["get", "x"]], end="303")
    hop2 = await held_at_gate(client, "hop2", [SHOW], end="303")
    release(client, "hop2")
    assert await hop2 == [[]]  # hop1 holds both
    release(client, "hop1")
    await hop1
    assert await page(client, SHOW) == [
        [["message", "from-tab-2"], ["message", "from-tab-1"]]
    ]
    assert await page(client, SHOW) == [[]]


@pytest.mark.parametrize("door", DOORS)
async def test_redis_three_requests_in_flight_show_each_flash_once(
    make: Make, door: str
) -> None:
    """A page holds what waited; a redirect adds a flash; a third page,
    opened before that commit, finds nothing: each flash is shown by one
    page, in the order the requests took them.
    """
    client = await make(middleware=door == "middleware")
    at = DOOR_PATHS[door]
    await page(client, ["flash", "waiting"], ["set", "k", 1], end="303")
    first = await held_at_gate(client, "a", [SHOW, ["get", "k"]], path=at)
    adding = await held_at_gate(client, "b", [["flash", "added"]], "303", at)
    third = await held_at_gate(client, "c", [SHOW, ["get", "k"]], path=at)
    release(client, "b")
    assert await adding == [None]
    release(client, "c")
    assert await third == [[], None]
    release(client, "a")
    assert await first == [[["message", "waiting"]], 1]
    assert await page(client, SHOW, ["get", "k"]) == [[["message", "added"]], None]
    assert await page(client, SHOW, ["get", "k"]) == [[], None]


async def test_redis_an_htmx_request_in_flight_delivers_each_message_once(
    make: Make,
) -> None:
    """docs/htmx.rst with the Redis store: an htmx request that delivers
    the waiting messages in ``HX-Trigger`` holds them while it runs; a page
    in flight meanwhile does not show them, and once delivered they are
    consumed.
    """
    client = await make(htmx_event="flash")
    await page(client, ["flash", "one"], ["flash", "two", "error"], end="303")
    gates = client.app[GATES]
    gates["hx"] = (asyncio.Event(), asyncio.Event())
    htmx = asyncio.create_task(
        client.post(
            "/scoped",
            headers={**ops_headers([], "200"), "X-Gate": "hx", "HX-Request": "true"},
        )
    )
    await asyncio.wait_for(gates["hx"][0].wait(), 5)
    assert await page(client, SHOW) == [[]]
    release(client, "hx")
    resp = await htmx
    delivered = json.loads(resp.headers["HX-Trigger"])["flash"]
    assert [[m["category"], m["message"]] for m in delivered] == [
        ["message", "one"],
        ["error", "two"],
    ]
    assert await page(client, SHOW) == [[]]


# -- a give-back never overwrites a newer value ---------------------------------------


async def test_a_superseded_value_never_comes_back(make: Make) -> None:
    """A carries k=old; B sets k=new; C shows k=new; A's give-back of old is
    dropped.
    """
    client = await make()
    await page(client, ["set", "k", "old"], end="303")
    carrier = await held_at_gate(client, "a", [], end="303")
    await page(client, ["set", "k", "new"], end="303")
    assert await page(client, ["get", "k"]) == ["new"]
    release(client, "a")
    await carrier
    assert await page(client, ["get", "k"]) == [None]


async def test_of_two_requests_that_set_a_key_the_later_commit_wins(
    make: Make,
) -> None:
    client = await make()
    first = await held_at_gate(client, "a", [["set", "k", "a"]], end="303")
    await page(client, ["set", "k", "b"], end="303")
    release(client, "a")
    await first
    assert await page(client, ["get", "k"]) == ["a"]


async def test_a_carried_value_stays_when_nothing_newer_came(make: Make) -> None:
    client = await make()
    await page(client, ["set", "k", "v"], ["flash", "m"], end="303")
    carrier = await held_at_gate(client, "a", [], end="303")
    await page(client, ["set", "other", 1], end="303")
    release(client, "a")
    await carrier
    assert await page(client, ["get", "k"], ["get", "other"], SHOW) == [
        "v",
        1,
        [["message", "m"]],
    ]


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


# -- max_bytes with requests in flight ------------------------------------------------


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


async def test_redis_record_of_a_carried_flash_that_gave_way_in_redis(
    make: Make, admin: aioredis.Redis
) -> None:
    """docs/testing.rst: ``FlashRecord.stored`` is what is kept after the
    commit and ``dropped`` what gave way. A request carries an old message
    through a redirect; another request's commit, between its take and its
    commit, adds one, so that in Redis the carried one gives way to
    ``max_bytes`` (docs/concurrency.rst, "Settle"): the record lists it as
    dropped, not as stored.
    """
    client = await make(max_bytes=250)  # two messages fit, not three
    await page(client, ["set", "first", 1], end="303")
    await page(client, ["get", "first"])  # the visitor has an id, no flashes
    ident = await visitor(client)
    old = json.dumps([int(time.time()) - 100, "message", "o" * 60])
    await admin.hset(PREFIX + ident, "m90", "90|" + old)
    with record_flashes(client.app) as records:
        carrier = await held_at_gate(client, "c", [["flash", "c" * 60]], end="303")
        await page(client, ["flash", "w" * 60], end="303")
        release(client, "c")
        await carrier
    record = records[-1]
    assert record.dropped.messages == [fb.Message("message", "o" * 60)]
    assert record.stored.messages == [fb.Message("message", "c" * 60)]
    _, messages = await test_redis_store.held(admin, ident)
    assert messages == [["message", "w" * 60], ["message", "c" * 60]]


async def test_redis_data_not_the_stores_written_in_flight_never_fails_a_commit(
    make: Make, admin: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """docs/concurrency.rst, "When Redis is away": data under the visitor's
    key that is not the store's is never a 500. Something else writes a
    field of the store's shape whose entry is not JSON while a request is
    in flight; the request's commit goes over ``max_bytes`` and the field
    gives way: it is removed, and named nowhere as a flash.
    """
    client = await make(max_bytes=300)
    await page(client, ["flash", "a"], end="303")
    ident = await visitor(client)
    task = await held_at_gate(client, "g", [["flash", "b" * 100]], end="303")
    await admin.hset(PREFIX + ident, "m5", "5|" + "x" * 400)
    with record_flashes(client.app) as records:
        release(client, "g")
        assert await task == [None]
    assert records[0].dropped == fb.Flashes({}, [])
    assert await admin.hget(PREFIX + ident, "m5") is None
    assert await page(client, SHOW) == [[["message", "a"], ["message", "b" * 100]]]


# -- leases --------------------------------------------------------------------------


async def test_a_request_cancelled_while_its_take_is_answered(
    aiohttp_client: Any, proxied: aioredis.Redis, proxy: Proxy, admin: aioredis.Redis
) -> None:
    """The client goes away while Redis's reply to the take is on its way:
    what the take moved aside comes back when the lease runs out.
    """
    client: Client = await aiohttp_client(
        store_app(proxied, store_options={"lease": 0.5})
    )
    await page(client, ["flash", "one"], ["set", "a", 1], end="303")
    proxy.hold()
    request = asyncio.create_task(page(client, SHOW))
    await asyncio.wait_for(proxy.reply_waiting.wait(), 5)
    request.cancel()  # the client disconnects; the server cancels the handler
    with contextlib.suppress(asyncio.CancelledError):
        await request
    await asyncio.sleep(0.1)
    proxy.release()

    async def shown() -> Any:
        return (await page(client, SHOW, ["get", "a"])) != [[], None] and True

    # what the request moved aside is not shown until the lease runs out...
    results = await page(client, SHOW, ["get", "a"])
    if results == [[], None]:
        assert await until(shown)
    else:  # ...unless it ran out already: the flashes are back in one piece
        assert results == [[["message", "one"]], 1]


CANCELLED = web.AppKey("cancelled", asyncio.Event)


@web.middleware
async def note_cancellation(request: web.Request, handler: Any) -> web.StreamResponse:
    """Outside every scope: sets the app's event once a request was
    cancelled (its scope has then done all it does).
    """
    try:
        response: web.StreamResponse = await handler(request)
    except asyncio.CancelledError:
        request.app[CANCELLED].set()
        raise
    return response


async def cancelling_client(
    aiohttp_client: Any, redis: aioredis.Redis, door: str
) -> Client:
    """A store app whose server cancels a handler when its client goes
    away (aiohttp's ``handler_cancellation``).
    """
    app = store_app(redis, store_options={"lease": 30}, middleware=door == "middleware")
    app.middlewares.insert(0, note_cancellation)
    app[CANCELLED] = asyncio.Event()
    client: Client = await aiohttp_client(
        app, server_kwargs={"handler_cancellation": True}
    )
    return client


@pytest.mark.parametrize("door", DOORS)
async def test_redis_a_request_cancelled_in_its_handler_gives_back_at_once(
    aiohttp_client: Any, app_redis: aioredis.Redis, admin: aioredis.Redis, door: str
) -> None:
    """docs/concurrency.rst, "Leases": the client goes away while the
    handler runs, and the server cancels it. The scope ends as a crash:
    what the request took is free at once (not when its lease, 30 seconds
    here, runs out), and what it set is not stored.
    """
    client = await cancelling_client(aiohttp_client, app_redis, door)
    await page(client, ["flash", "one"], end="303")
    ident = session_cookie(client)[KEY][MARKER]  # (the middleware scopes /id)
    ops: list[list[Any]] = [SHOW, ["flash", "two"]]
    going = await held_at_gate(client, "g", ops, "303", DOOR_PATHS[door])
    going.cancel()
    await asyncio.wait_for(client.app[CANCELLED].wait(), 5)
    with contextlib.suppress(asyncio.CancelledError):
        await going
    assert await no_lease(admin, PREFIX + ident)
    assert await page(client, SHOW) == [[["message", "one"]]]


@pytest.mark.parametrize("door", DOORS)
async def test_redis_a_request_cancelled_while_its_commit_is_answered(
    aiohttp_client: Any,
    proxied: aioredis.Redis,
    proxy: Proxy,
    admin: aioredis.Redis,
    door: str,
) -> None:
    """The client goes away after Redis ran the request's commit, while the
    answer is on its way: the commit stands. What the request set is shown
    once; what it showed (and consumed) does not come back.
    """
    client = await cancelling_client(aiohttp_client, proxied, door)
    await page(client, ["flash", "one"], end="303")
    ident = session_cookie(client)[KEY][MARKER]  # (the middleware scopes /id)
    ops: list[list[Any]] = [SHOW, ["flash", "two"]]
    going = await held_at_gate(client, "g", ops, "303", DOOR_PATHS[door])
    proxy.hold()
    release(client, "g")
    await asyncio.wait_for(proxy.reply_waiting.wait(), 5)  # it ran in Redis
    going.cancel()
    await asyncio.wait_for(client.app[CANCELLED].wait(), 5)
    with contextlib.suppress(asyncio.CancelledError):
        await going
    proxy.release()
    assert await no_lease(admin, PREFIX + ident)
    assert await page(client, SHOW) == [[["message", "two"]]]
    assert await page(client, SHOW) == [[]]


async def no_lease(redis: aioredis.Redis, key: str) -> bool:
    """Has ``key`` no lease field (live or run out)?"""
    names = await redis.hkeys(key)
    return not [n for n in names if isinstance(n, bytes) and n.startswith(b"l")]


def skewed(skew: float) -> float:
    """A clock ``skew`` seconds ahead."""
    return time.time() + skew


async def closed(redis: aioredis.Redis, _: web.Application) -> None:
    await redis.aclose()


async def test_redis_two_processes_with_skewed_clocks_show_each_flash_once(
    aiohttp_client: Any, redis_port: int, admin: aioredis.Redis
) -> None:
    """Two app processes on one Redis (two servers, each with its own store
    and client), one visitor. B's clock is 1000 seconds ahead. A page of A
    holds, under its lease, what B flashed; B's pages meanwhile show none
    of it; A's redirect carries it, with B's own flash set meanwhile kept
    beside it, and the next page shows each once. The carried flash's time
    in the future became A's now when A carried it (docs/lifecycle.rst,
    "Bounded life in time"), so it expires after max_age by A's clock.
    """
    ahead = 1000.0
    storage = FernetCookies().storage  # both processes read one cookie
    jar = aiohttp.CookieJar(unsafe=True)
    clients = []
    for skew in (0.0, ahead):
        redis = aioredis.Redis(host="127.0.0.1", port=redis_port, db=DB)
        app = store_app(redis, storage, max_age=600)
        with_clock(app, functools.partial(skewed, skew))
        app.on_cleanup.append(functools.partial(closed, redis))
        clients.append(await aiohttp_client(app, cookie_jar=jar))
    a, b = clients
    await page(b, ["flash", "from B"], end="303")
    ident = await visitor(b)
    carrier = await held_at_gate(a, "a", [["flash", "from A"]], end="303")
    assert await page(b, SHOW, end="303") == [[]]  # A holds it
    await page(b, ["flash", "B again"], end="303")
    release(a, "a")
    assert await carrier == [None]
    stamps = {
        message: at
        for at, _, message in (await test_redis_store.stored_form(admin, ident))[2]
    }
    assert stamps["from B"] <= time.time() + 1  # A's now, not B's
    assert stamps["B again"] >= time.time() + ahead - 1  # not carried yet
    assert await page(a, SHOW) == [
        [["message", "from B"], ["message", "B again"], ["message", "from A"]]
    ]
    assert await page(b, SHOW) == [[]]
    assert await test_redis_store.held(admin, ident) == ({}, [])


async def test_a_slow_request_keeps_its_lease(
    make: Make, admin: aioredis.Redis
) -> None:
    """A request in flight far longer than the lease renews it: nothing it
    took is shown by another request meanwhile.
    """
    client = await make(store_options={"lease": 1.2})
    await page(client, ["flash", "once"], end="303")
    slow = await held_at_gate(client, "slow", [SHOW])
    for _ in range(3):  # three leases long
        await asyncio.sleep(1.2)
        assert await page(client, SHOW) == [[]]
    release(client, "slow")
    assert await slow == [[["message", "once"]]]
    assert await page(client, SHOW) == [[]]


async def test_a_dead_request_lease_runs_out(
    make: Make, app_redis: aioredis.Redis
) -> None:
    """What a request took and never settled (a worker killed: no commit,
    and its task is gone, so nothing renews the lease) comes back once the
    lease runs out.
    """
    client = await make(store_options={"lease": 0.5})
    await page(client, ["flash", "kept"], end="303")
    entry = session_cookie(client)[KEY]
    store = RedisFlashStore(app_redis, lease=0.5)
    request = make_mocked_request("GET", "/", app=client.app)
    request[aiohttp_session.STORAGE_KEY] = SimpleCookieStorage()
    session = Session("id", data={"session": {KEY: entry}}, new=False)
    settings = Settings(session_key=KEY, max_age=600, store=store)
    taken = await asyncio.create_task(store.load(request, session, settings))
    assert [f.value for f in taken.flashes] == ["kept"]  # and its task is done
    assert await page(client, SHOW) == [[]]

    async def back() -> Any:
        return await page(client, SHOW) == [[["message", "kept"]]]

    assert await until(back)


async def test_redis_a_lease_lost_with_redis_is_not_given_back_over_a_later_page(
    aiohttp_client: Any,
    proxied: aioredis.Redis,
    proxy: Proxy,
    admin: aioredis.Redis,
    app_redis: aioredis.Redis,
) -> None:
    """docs/concurrency.rst, "Leases": a redirect carrying a flash loses
    Redis while it runs, so its lease is not renewed and runs out; a page
    on another worker takes the flash, shows it and commits. Redis comes
    back before the redirect commits: the flash is not carried back (it
    was consumed), and what the redirect set is stored.
    """
    options = {"lease": 0.6}
    client: Client = await aiohttp_client(store_app(proxied, store_options=options))
    worker: Client = await aiohttp_client(store_app(app_redis, store_options=options))
    await page(client, ["flash", "once"], end="303")
    ident = await visitor(client)
    carrier = await held_at_gate(client, "slow", [["flash", "own"]], end="303")
    proxy.cut()
    await lease_lapsed(admin, PREFIX + ident)
    share_cookies(client, worker)
    assert await page(worker, SHOW) == [[["message", "once"]]]
    proxy.mend()
    release(client, "slow")
    assert await carrier == [None]
    assert await page(worker, SHOW) == [[["message", "own"]]]
    assert await page(worker, SHOW) == [[]]


async def lease_lapsed(
    admin: aioredis.Redis, key: str, known: Collection[bytes] = ()
) -> set[bytes]:
    """Wait until a lease is in ``key`` (one not ``known``), then until every
    such lease has run out by Redis's own clock (no time is asserted: the
    deadlines are read from Redis); the lease fields waited for.
    """
    deadlines: dict[bytes, int] = {}
    while not deadlines:  # the take has run in Redis once a lease is there
        fields = await admin.hgetall(key)
        deadlines = {
            name: int(str(content, "ascii").split("|", 1)[0])
            for name, content in fields.items()
            if isinstance(name, bytes) and isinstance(content, bytes)
            if name.startswith(b"l") and name not in known
        }
        await asyncio.sleep(0.01)
    while True:
        seconds, micros = await admin.time()
        if seconds * 1000 + micros // 1000 > max(deadlines.values()):
            return set(deadlines)
        await asyncio.sleep(0.05)


def share_cookies(source: Client, target: Client) -> None:
    """The browser's cookies, sent to another worker of the site."""
    target.session.cookie_jar.update_cookies(
        {m.key: m.value for m in source.session.cookie_jar},
        response_url=target.make_url("/"),
    )


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


async def test_redis_takes_answered_too_late_for_the_lease_are_logged_once(
    aiohttp_client: Any,
    proxied: aioredis.Redis,
    proxy: Proxy,
    admin: aioredis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """docs/concurrency.rst, "Leases": a take answered after half the lease
    shows nothing. A lease too short for the time Redis takes to answer
    would show no flash on any page, without a word: a WARNING says so
    (once per store) and names the lease.
    """
    options = {"lease": 0.5, "timeout": 30}
    client: Client = await aiohttp_client(store_app(proxied, store_options=options))
    await page(client, ["flash", "once"], end="303")
    await page(client, end="HEAD")  # Redis knows the scripts: one call each
    ident = await visitor(client)
    lapsed: set[bytes] = set()
    with caplog.at_level(logging.WARNING, logger=LOG):
        for _ in range(2):
            proxy.hold()
            late = asyncio.create_task(page(client, SHOW))
            lapsed |= await lease_lapsed(admin, PREFIX + ident, lapsed)
            proxy.release()
            assert await late == [[]]
    warnings = [r for r in caplog.records if "lease" in r.getMessage()]
    assert len(warnings) == 1, caplog.text
    assert "lease=0.5" in warnings[0].getMessage()
    assert ident not in caplog.text
    assert await page(client, SHOW) == [[["message", "once"]]]


# -- when Redis is away ---------------------------------------------------------------


async def test_redis_down_pages_render_and_one_error_per_outage(
    aiohttp_client: Any,
    proxied: aioredis.Redis,
    proxy: Proxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client: Client = await aiohttp_client(store_app(proxied))
    await page(client, ["flash", "waits"], end="303")
    proxy.cut()
    with caplog.at_level(logging.ERROR, logger=LOG):
        for _ in range(3):
            resp = await client.post(
                "/scoped", headers={"X-Ops": json.dumps([SHOW]), "X-End": "200"}
            )
            assert resp.status == 200
            assert json.loads(resp.headers["X-Results"]) == [[]]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, caplog.text
    proxy.mend()
    assert await page(client, SHOW) == [[["message", "waits"]]]  # nothing consumed


async def test_redis_paused_pages_render_and_nothing_is_shown_twice(
    aiohttp_client: Any, admin: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """docs/concurrency.rst, "When Redis is away": redis-server paused
    (``SIGSTOP``) answers nothing. Pages render within ``timeout`` without
    flashes, one ERROR for the outage; what the paused server then runs
    late (takes that leased what waited, a commit) loses nothing and shows
    nothing twice: once it runs again and the leases run out, what waited is
    shown once.
    """
    binary = require_binary("redis-server", "redis-server")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += ["--appendonly", "no"]
    redis = aioredis.Redis(host="127.0.0.1", port=port)
    options = {"timeout": 0.3, "lease": 0.5}
    try:
        with process(args, port) as server:
            client: Client = await aiohttp_client(
                store_app(redis, store_options=options)
            )
            await page(client, ["flash", "waited"], end="303")
            await page(client, end="HEAD")  # Redis knows the scripts
            server.send_signal(signal.SIGSTOP)
            try:
                with caplog.at_level(logging.ERROR, logger=LOG):
                    during = await page(client, SHOW, ["flash", "during"], end="303")
                    assert during == [[], None]
                    assert await page(client, SHOW) == [[]]
            finally:
                server.send_signal(signal.SIGCONT)
            outage = [r for r in caplog.records if "cannot reach" in r.getMessage()]
            assert len(outage) == 1, caplog.text
            shown: list[str] = []

            async def waited_shown() -> bool:
                shown.extend(m for _, m in (await page(client, SHOW))[0])
                return "waited" in shown

            assert await until(waited_shown)
            ident = await visitor(client)
            assert await until(lambda: no_live_lease(redis, PREFIX + ident))
            shown.extend(m for _, m in (await page(client, SHOW))[0])
            assert shown.count("waited") == 1, shown
            assert shown.count("during") <= 1, shown  # stored late, or lost
    finally:
        await redis.aclose()


async def no_live_lease(redis: aioredis.Redis, key: str) -> bool:
    """Has every lease in ``key`` run out, by Redis's own clock?"""
    fields = await redis.hgetall(key)
    deadlines = [
        int(content.split(b"|", 1)[0])
        for name, content in fields.items()
        if isinstance(name, bytes) and isinstance(content, bytes)
        if name.startswith(b"l")
    ]
    seconds, micros = await redis.time()
    return all(deadline < seconds * 1000 + micros // 1000 for deadline in deadlines)


@pytest.mark.parametrize("ending", ["200", "303", "500"])
async def test_redis_a_take_answered_too_late_frees_its_lease_at_the_commit(
    aiohttp_client: Any,
    proxied: aioredis.Redis,
    proxy: Proxy,
    admin: aioredis.Redis,
    ending: str,
) -> None:
    """docs/concurrency.rst, "When Redis is away": a scope that cannot load
    consumes nothing; the flashes wait in Redis. Redis ran the take and
    only its answer came too late (past ``timeout``): the request commits
    once Redis answers again (another page got an answer), and frees the
    lease its take left, so the next page shows the flashes, not one lease
    later (30 seconds here).
    """
    options = {"timeout": 0.3, "lease": 30}
    client: Client = await aiohttp_client(store_app(proxied, store_options=options))
    await page(client, ["flash", "waiting"], end="303")
    await page(client, end="HEAD")  # Redis knows the scripts: one call each
    ident = await visitor(client)
    proxy.hold()
    slow = await held_at_gate(client, "g", [SHOW], end=ending)  # timed out
    assert not await no_lease(admin, PREFIX + ident)  # the take ran in Redis
    proxy.release()
    assert await page(client, SHOW) == [[]]  # Redis answers; the lease holds
    release(client, "g")
    assert await slow == [[]]
    assert await no_lease(admin, PREFIX + ident)
    assert await page(client, SHOW) == [[["message", "waiting"]]]


@pytest.mark.parametrize("ending", ["200", "500"])
async def test_redis_a_late_take_through_the_cookie_frees_its_lease_at_the_commit(
    aiohttp_client: Any,
    proxied: aioredis.Redis,
    proxy: Proxy,
    admin: aioredis.Redis,
    app_redis: aioredis.Redis,
    ending: str,
) -> None:
    """As above, for a visitor whose server-side session lost the id to a
    concurrent rewrite (docs/concurrency.rst, "The visitor id"): every take
    finds the id through the cookie's hash. A take that Redis ran but whose
    answer came too late leaves a lease; the request, which never learnt
    the id, frees it at its commit all the same.
    """
    options = {"timeout": 0.3, "lease": 30}
    sessions = RedisStorage(app_redis, max_age=3600)  # not through the proxy
    app = store_app(proxied, sessions, ROUTES, store_options=options)
    client: Client = await aiohttp_client(app)
    await client.post("/user")
    gates = client.app[GATES]
    gates["s"] = (asyncio.Event(), asyncio.Event())
    stamping = asyncio.create_task(client.get("/stamp", headers={"X-Gate": "s"}))
    await asyncio.wait_for(gates["s"][0].wait(), 5)
    await page(client, ["flash", "waiting"], end="303")
    ident = await visitor(client)
    release(client, "s")
    assert (await stamping).status == 200  # the session without the id
    assert await visitor(client) is None
    await page(client, end="HEAD")  # Redis knows the scripts: one call each
    proxy.hold()
    slow = await held_at_gate(client, "g", [SHOW], end=ending)  # timed out
    assert not await no_lease(admin, PREFIX + ident)  # the take ran in Redis
    proxy.release()
    assert await page(client, SHOW) == [[]]  # Redis answers; the lease holds
    release(client, "g")
    assert await slow == [[]]
    assert await no_lease(admin, PREFIX + ident)
    assert await page(client, SHOW) == [[["message", "waiting"]]]


async def test_redis_expired_flashes_taken_through_the_cookie_are_settled(
    make: Make, admin: aioredis.Redis, app_redis: aioredis.Redis
) -> None:
    """docs/lifecycle.rst, "Bounded life in time": a flash older than
    ``max_age`` is dropped when a scope loads it. For a visitor whose
    server-side session lost the id (every take goes through the cookie's
    hash), a page that reads nothing and finds only such a flash settles
    it: it is removed, and no lease of the page stays behind.
    """
    client = await make(RedisStorage(app_redis, max_age=3600), ROUTES, max_age=60)
    await client.post("/user")
    gates = client.app[GATES]
    gates["s"] = (asyncio.Event(), asyncio.Event())
    stamping = asyncio.create_task(client.get("/stamp", headers={"X-Gate": "s"}))
    await asyncio.wait_for(gates["s"][0].wait(), 5)
    await page(client, ["set", "first", 1], end="303")
    ident = await visitor(client)
    release(client, "s")
    assert (await stamping).status == 200  # the session without the id
    assert await page(client, ["get", "first"]) == [1]
    old = json.dumps([int(time.time()) - 1000, "message", "old"])
    await admin.hset(PREFIX + ident, "m90", "90|" + old)
    assert await page(client) == []
    assert await no_lease(admin, PREFIX + ident)
    assert sorted(await admin.hkeys(PREFIX + ident)) == [b"#", b"@"]


async def test_redis_lost_before_the_commit(
    aiohttp_client: Any,
    proxied: aioredis.Redis,
    proxy: Proxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client: Client = await aiohttp_client(store_app(proxied))
    await page(client, ["set", "a", 1], end="303")
    ident = await visitor(client)
    posting = await held_at_gate(client, "p", [["flash", "Saved the form"]], end="303")
    proxy.cut()
    with caplog.at_level(logging.ERROR, logger=LOG):
        release(client, "p")
        assert await posting == [None]  # the response stands: a 303
    assert "Saved the form" in caplog.text
    assert "lease" in caplog.text
    assert ident not in caplog.text


async def test_redis_slower_than_the_timeout(
    aiohttp_client: Any,
    proxied: aioredis.Redis,
    proxy: Proxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client: Client = await aiohttp_client(
        store_app(proxied, store_options={"timeout": 0.3, "lease": 0.5})
    )
    await page(client, ["flash", "later"], end="303")
    proxy.hold()
    with caplog.at_level(logging.ERROR, logger=LOG):
        assert await page(client, SHOW) == [[]]
    assert "ERROR" in caplog.text
    proxy.release()

    async def shown() -> Any:
        return await page(client, SHOW) == [[["message", "later"]]]

    assert await until(shown)


async def test_a_commit_on_a_connection_redis_closed_is_sent_again(
    aiohttp_client: Any, proxy: Proxy, caplog: pytest.LogCaptureFixture
) -> None:
    """A pooled connection that Redis closed (it restarted) fails only when
    it is used: the commit goes again on a new one, and nothing is lost.
    The client's connections come from a pool made from a URL, whose
    connections do not try again by themselves.
    """
    url = f"redis://127.0.0.1:{proxy.port}/{DB}"
    pool = aioredis.ConnectionPool.from_url(url)
    redis = aioredis.Redis(connection_pool=pool)
    client: Client = await aiohttp_client(store_app(redis))
    await page(client, ["set", "a", 1], end="303")
    posting = await held_at_gate(client, "p", [["flash", "Saved"]], end="303")
    proxy.drop_next()
    with caplog.at_level(logging.ERROR, logger=LOG):
        release(client, "p")
        assert await posting == [None]
    assert caplog.records == []
    assert await page(client, SHOW, ["get", "a"]) == [[["message", "Saved"]], 1]
    await redis.aclose()
    await pool.disconnect()


async def test_a_commit_whose_reply_is_lost_is_not_applied_twice(
    aiohttp_client: Any,
    proxied: aioredis.Redis,
    proxy: Proxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The connection breaks after Redis ran the commit, before its reply
    arrives: sent again, the commit is recognised as done, so the flash is
    stored once.
    """
    client: Client = await aiohttp_client(store_app(proxied))
    await page(client, ["set", "a", 1], end="303")
    posting = await held_at_gate(client, "p", [["flash", "Saved"]], end="303")
    proxy.hold()
    with caplog.at_level(logging.ERROR, logger=LOG):
        release(client, "p")
        await asyncio.wait_for(proxy.reply_waiting.wait(), 5)  # it ran in Redis
        proxy.sever()
        proxy.release()
        assert await posting == [None]
    assert caplog.records == []
    assert await page(client, SHOW, ["get", "a"]) == [[["message", "Saved"]], 1]
    assert await page(client, SHOW, ["get", "a"]) == [[], None]


async def test_redis_a_commit_whose_reply_is_lost_with_redis_says_it_may_be_stored(
    aiohttp_client: Any,
    proxied: aioredis.Redis,
    proxy: Proxy,
    admin: aioredis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """docs/concurrency.rst, "When Redis is away": Redis runs a commit, and
    the connection breaks before its answer arrives, with Redis unreachable
    when the store sends the commit again. The store cannot know that the
    commit was written: the ERROR names the flashes and says they are lost
    unless it was. It was: the next page shows the flash once, and what the
    request showed and consumed does not come back.
    """
    client: Client = await aiohttp_client(store_app(proxied))
    await page(client, ["flash", "old"], end="303")
    ident = await visitor(client)
    posting = await held_at_gate(client, "p", [SHOW, ["flash", "Saved"]], end="303")
    proxy.hold()
    with caplog.at_level(logging.ERROR, logger=LOG):
        release(client, "p")
        await asyncio.wait_for(proxy.reply_waiting.wait(), 5)  # it ran in Redis
        proxy.cut()
        proxy.release()
        assert await posting == [[["message", "old"]], None]
    assert "'message' message 'Saved'" in caplog.text
    assert "unless Redis ran the commit" in caplog.text
    proxy.mend()
    assert await no_lease(admin, PREFIX + ident)
    assert await page(client, SHOW) == [[["message", "Saved"]]]
    assert await page(client, SHOW) == [[]]


async def test_a_first_flash_whose_reply_is_lost_is_stored_once(
    aiohttp_client: Any, proxied: aioredis.Redis, proxy: Proxy
) -> None:
    """The same for the commit that makes the visitor's id (a server-side
    session: the id is found again through the session cookie's map).
    """
    storage = RedisStorage(proxied, max_age=3600)
    client: Client = await aiohttp_client(
        store_app(proxied, storage=storage, routes=ROUTES)
    )
    resp = await client.post("/user")  # a session, no flashes yet
    assert resp.status == 200
    posting = await held_at_gate(client, "p", [["flash", "Hello"]], end="303")
    proxy.hold()
    release(client, "p")
    await asyncio.wait_for(proxy.reply_waiting.wait(), 5)
    proxy.sever()
    proxy.release()
    assert await posting == [None]
    assert await page(client, SHOW) == [[["message", "Hello"]]]
    assert await page(client, SHOW) == [[]]


async def test_a_take_whose_reply_is_lost_is_taken_again(
    aiohttp_client: Any, proxied: aioredis.Redis, proxy: Proxy
) -> None:
    """The connection breaks after Redis ran the take: taken again, the
    request gets what the first take leased, not nothing.
    """
    client: Client = await aiohttp_client(store_app(proxied))
    await page(client, ["flash", "one"], end="303")
    proxy.hold()
    showing = asyncio.create_task(page(client, SHOW))
    await asyncio.wait_for(proxy.reply_waiting.wait(), 5)
    proxy.sever()
    proxy.release()
    assert await showing == [[["message", "one"]]]
    assert await page(client, SHOW) == [[]]


async def test_foreign_data_under_the_visitor_key(
    make: Make, admin: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make()
    await page(client, ["flash", "x"], end="303")
    ident = await visitor(client)
    await admin.delete(PREFIX + ident)
    await admin.set(PREFIX + ident, "not a hash")
    with caplog.at_level(logging.WARNING, logger=LOG):
        assert await page(client, SHOW) == [[]]
        assert await page(client, SHOW) == [[]]
    assert "WARNING" in caplog.text
    assert ident not in caplog.text
    assert await admin.type(PREFIX + ident) in (b"none", b"hash")
    await page(client, ["flash", "y"], end="303")
    assert await admin.pttl(PREFIX + ident) > 0
    assert await page(client, SHOW) == [[["message", "y"]]]


async def test_no_visitor_id_in_warnings(
    make: Make, admin: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make()
    await page(client, ["flash", "x"], end="303")
    ident = await visitor(client)
    await admin.hset(PREFIX + ident, "junk", "1")
    with caplog.at_level(logging.WARNING, logger=LOG):
        assert await page(client, SHOW) == [[["message", "x"]]]
    assert "junk" in caplog.text
    assert ident not in caplog.text


# -- settings checked up front --------------------------------------------------------


@pytest.mark.parametrize("max_age", [float("inf"), float("nan"), 1e300])
def test_setup_refuses_a_max_age_redis_cannot_keep(
    app_redis: aioredis.Redis, max_age: float
) -> None:
    with pytest.raises(ValueError, match="max_age"):
        fb.setup(web.Application(), max_age=max_age, store=RedisFlashStore(app_redis))


def test_setup_refuses_an_infinite_max_age_for_every_store() -> None:
    with pytest.raises(ValueError, match="max_age"):
        fb.setup(web.Application(), max_age=float("inf"))
    fb.setup(web.Application(), max_age=1e300)  # the session store keeps it


@pytest.mark.parametrize(
    "options",
    [
        {"prefix": ""},
        {"lease": 0},
        {"lease": -1},
        {"lease": float("nan")},
        {"lease": float("inf")},
        {"lease": 86_401},
        {"lease": 1e300},
        {"timeout": 0},
        {"timeout": 1e300},
        {"timeout": -0.5},
        {"timeout": float("nan")},
    ],
)
def test_the_store_refuses_bad_settings(
    app_redis: aioredis.Redis, options: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=next(iter(options))):
        RedisFlashStore(app_redis, **options)


@pytest.mark.parametrize(
    ("version", "refused"),
    [
        ("4.3.6", True),
        ("4.4.4", True),
        ("4.5.3", True),
        ("4.5.4", False),
        ("5.0.0b1", False),
        ("8.2.0", False),
    ],
)
def test_redis_a_client_that_can_give_one_visitor_s_reply_to_another_is_refused(
    app_redis: aioredis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    version: str,
    refused: bool,
) -> None:
    """docs/concurrency.rst, "The Redis flash store": redis-py before 4.5.4
    leaves the answer of a cancelled command (the store's ``timeout``, a
    client that went away) on the connection, for the next command to read:
    one visitor's take could read another's flashes. The store refuses it.
    """
    import redis

    monkeypatch.setattr(redis, "__version__", version)
    if refused:
        with pytest.raises(RuntimeError, match=r"4\.5\.4.*" + re.escape(version)):
            RedisFlashStore(app_redis)
    else:
        RedisFlashStore(app_redis)


# -- mixed stores ---------------------------------------------------------------------


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hi")


def sub_app_on_redis(flash_redis: Any) -> web.Application:
    """A sub-app whose own ``setup()`` keeps flashes in Redis."""

    @fb.with_flashbag
    async def api_seed(request: web.Request) -> web.StreamResponse:
        fb.flash(request, "from the api")
        raise web.HTTPSeeOther("/api/show")

    api = web.Application()
    api.router.add_post("/seed", api_seed)
    api.router.add_get("/show", show_incoming)
    fb.setup(api, store=redis_store(flash_redis))
    return api


async def test_redis_store_in_a_sub_app_only_is_refused_when_both_are_used(
    aiohttp_client: Any, flash_redis: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """docs/concurrency.rst, "Apps and sub-apps on different stores": only
    the sub-app calls ``setup()`` (the main application keeps the session
    store), so nothing can see both at startup. The first scoped request of
    the second store fails with the ``RuntimeError`` naming both apps and the
    key, every time, and destroys nothing of the first's.
    """
    app = routes_app({"/seed": seed, "/show": show_incoming}, storage=sealed())
    app.add_subapp("/api", sub_app_on_redis(flash_redis))
    client = await aiohttp_client(app)
    await client.post("/seed", allow_redirects=False)
    with caplog.at_level(logging.ERROR):
        for _ in range(2):
            resp = await client.get("/api/show")
            assert resp.status == 500
    refusal = next(r for r in caplog.records if r.exc_info is not None)
    text = str(refusal.exc_info[1])  # type: ignore[index]
    assert "'/api'" in text
    assert "the application" in text
    assert "'aiohttp_flashbag'" in text
    assert await shown(client) == SEEDED


async def test_redis_store_in_a_sub_app_under_an_app_without_flashes_works(
    aiohttp_client: Any, flash_redis: Any
) -> None:
    """The same tree where the main application never opens a flash scope
    (assets, say): nothing is refused.
    """

    async def asset(request: web.Request) -> web.Response:
        return web.Response(text="asset")

    app = web.Application()
    setup_session(app, sealed())
    app.router.add_get("/asset", asset)
    app.add_subapp("/api", sub_app_on_redis(flash_redis))
    client = await aiohttp_client(app)
    assert (await client.get("/asset")).status == 200
    assert (await client.post("/api/seed", allow_redirects=False)).status == 303
    assert (await client.get("/asset")).status == 200
    resp = await client.get("/api/show")
    assert (await resp.json())["messages"] == [["message", "from the api"]]


async def test_apps_on_different_stores_under_one_key_refuse_to_start(
    aiohttp_client: Any, app_redis: aioredis.Redis
) -> None:
    main = make_app([("GET", "/", hello)], middleware=True, max_bytes=1000)
    sub = web.Application()
    sub.router.add_get("/", hello)
    fb.setup(sub, store=RedisFlashStore(app_redis))
    main.add_subapp("/sub", sub)
    server = TestServer(main)
    try:
        with pytest.raises(RuntimeError, match=KEY) as raised:
            await server.start_server()
    finally:
        await server.close()
    assert "the application keeps flashes in the session" in str(raised.value)
    assert "the sub-application at '/sub'" in str(raised.value)


async def test_apps_on_different_stores_under_different_keys_start(
    aiohttp_client: Any, app_redis: aioredis.Redis
) -> None:
    main = make_app([("GET", "/", hello)], middleware=True, max_bytes=1000)
    sub = web.Application()
    sub.router.add_get("/", hello)
    fb.setup(sub, store=RedisFlashStore(app_redis), session_key="flashes_redis")
    main.add_subapp("/sub", sub)
    client: Client = await aiohttp_client(main)
    assert (await client.get("/sub/")).status == 200


async def test_apps_on_one_redis_store_under_one_key_start(
    aiohttp_client: Any, app_redis: aioredis.Redis
) -> None:
    main = make_app([("GET", "/", hello)], store=RedisFlashStore(app_redis))
    sub = web.Application()
    sub.router.add_get("/", hello)
    fb.setup(sub, store=RedisFlashStore(app_redis), max_bytes=100)
    main.add_subapp("/sub", sub)
    client: Client = await aiohttp_client(main)
    assert (await client.get("/sub/")).status == 200


async def test_redis_two_clients_of_one_server_are_one_store(
    aiohttp_client: Any, redis_port: int, admin: aioredis.Redis
) -> None:
    """docs/concurrency.rst, "Apps and sub-apps on different stores": an
    app and a sub-app that each make their own client of the same Redis
    (the same URL) keep flashes in one place: they start, and a flash set
    under one is shown under the other.
    """
    url = f"redis://127.0.0.1:{redis_port}/{DB}"
    clients = [
        aioredis.Redis.from_url(url),
        aioredis.Redis(host="127.0.0.1", port=redis_port, db=DB, socket_timeout=9),
    ]
    try:
        main = routes_app(
            {"/seed": seed}, storage=sealed(), store=RedisFlashStore(clients[0])
        )
        sub = web.Application()
        sub.router.add_get("/show", show_incoming)
        fb.setup(sub, store=RedisFlashStore(clients[1]), max_bytes=4000)
        main.add_subapp("/sub", sub)
        client: Client = await aiohttp_client(main)
        await client.post("/seed", allow_redirects=False)
        resp = await client.get("/sub/show")
        assert resp.status == 200
        assert (await resp.json())["messages"] == SEEDED["messages"]
    finally:
        for redis in clients:
            await redis.aclose()


class ShowView(fb.FlashbagMixin, web.View):
    async def get(self) -> web.Response:
        response: web.Response = await show_incoming.__wrapped__(self.request)  # type: ignore[attr-defined]
        return response


@pytest.mark.parametrize("door", DOORS)
async def test_redis_one_store_in_an_app_and_its_sub_app_every_door(
    aiohttp_client: Any, app_redis: aioredis.Redis, admin: aioredis.Redis, door: str
) -> None:
    """docs/concurrency.rst, "Apps and sub-apps on different stores": an app
    and a sub-app with settings of their own that share one store instance
    keep flashes in one place, whichever door opens the sub-app's scope
    (the parent's middleware included): set under one, shown once under the
    other, and nothing of the visitor's but the emptied hash left.
    """
    store = RedisFlashStore(app_redis, timeout=30)
    main = routes_app({"/seed": seed}, storage=sealed(), middleware=True, store=store)
    sub = web.Application()
    fb.setup(sub, store=store, max_bytes=4000, max_age=300)
    show = {
        "decorator": show_incoming,
        "mixin": ShowView,
        "middleware": show_incoming.__wrapped__,  # type: ignore[attr-defined]
    }[door]
    sub.router.add_route("*", "/show", show)
    main.add_subapp("/sub", sub)
    client: Client = await aiohttp_client(main)
    await client.post("/seed", allow_redirects=False)
    assert (await (await client.get("/sub/show")).json()) == SEEDED
    assert (await (await client.get("/sub/show")).json()) == {
        "values": {},
        "messages": [],
    }
    (name,) = [k for k in await admin.keys(PREFIX + "*") if b"settled:" not in k]
    assert sorted(await admin.hkeys(name)) == [b"#", b"@"]
    assert 0 < await admin.pttl(name) <= 300_000  # the sub-app's max_age


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("redis://h", {"host": "h", "port": 6379, "db": 0}, True),
        ("redis://h:6380/2", {"host": "h", "port": 6380, "db": 2}, True),
        ("redis://h/1", {"host": "h"}, False),
        ("redis://h:6380", {"host": "h"}, False),
        ("redis://g", {"host": "h"}, False),
        ("unix:///tmp/r.sock", {"unix_socket_path": "/tmp/r.sock"}, True),
        ("unix:///tmp/r.sock?db=1", {"unix_socket_path": "/tmp/r.sock"}, False),
    ],
)
def test_redis_stores_in_one_place_whatever_made_their_clients(
    one: str, other: dict[str, Any], same: bool
) -> None:
    """What makes two Redis flash stores one place: the prefix, the server
    and the database, with redis-py's defaults where a URL leaves them out.
    """
    first = RedisFlashStore(aioredis.Redis.from_url(one))
    second = RedisFlashStore(aioredis.Redis(**other))
    assert first.same_place(second) is same
    assert second.same_place(first) is same
    assert not first.same_place(RedisFlashStore(first.client, prefix="other:"))


async def test_redis_apps_on_two_databases_of_one_server_refuse_to_start(
    redis_port: int,
) -> None:
    """The same server, another database: another place."""
    main = make_app(
        [("GET", "/", hello)], store=RedisFlashStore(aioredis.Redis(port=redis_port))
    )
    sub = web.Application()
    sub.router.add_get("/", hello)
    fb.setup(sub, store=RedisFlashStore(aioredis.Redis(port=redis_port, db=DB)))
    main.add_subapp("/sub", sub)
    server = TestServer(main)
    try:
        with pytest.raises(RuntimeError, match=KEY):
            await server.start_server()
    finally:
        await server.close()
