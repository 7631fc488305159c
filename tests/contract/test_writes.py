"""docs/lifecycle.rst, "Writes", over real HTTP: the session is written only when
the stored bag changes, a page that showed a flash is cached by no one, a
value is stored exactly as set, and the writes the Redis server counts.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from unittest import mock

import aiohttp
import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage, get_session, new_session
from aiohttp_session.redis_storage import RedisStorage
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict
from redis import asyncio as aioredis

import aiohttp_flashbag as fb

from ..conftest import (
    COOKIE,
    Client,
    CountingStorage,
    FernetCookies,
    make_app,
    stored_bag,
    unstamped,
)
from ..support.edges import echo, set_and_redirect
from ..support.opsapp import ops_app, ops_headers
from ..support.pages import Status, redirect_to_show, routes_app, show_incoming, shown
from ..support.sessions import SCOPES, FrozenClock, MemoryStorage, Site, build_app

# == Writes: only when the stored bag changes ==========================================
#
# The session is written only when the stored bag changes
# (docs/lifecycle.rst, "Writes").


async def test_scoped_request_with_nothing_to_do_writes_nothing(
    aiohttp_client: Any, counting: CountingStorage
) -> None:
    client: Client = await aiohttp_client(ops_app(counting.storage))
    for end in ["200", "302", "400"]:
        resp = await client.get(
            "/scoped", headers=ops_headers([["get", "x"]], end), allow_redirects=False
        )
        assert COOKIE not in resp.cookies
    resp = await client.head("/scoped", headers=ops_headers([]))
    assert COOKIE not in resp.cookies
    assert counting.saves == 0
    assert len(client.session.cookie_jar) == 0  # no session for an anonymous visitor


async def test_unscoped_requests_never_load_or_write(
    aiohttp_client: Any, counting: CountingStorage
) -> None:
    client: Client = await aiohttp_client(ops_app(counting.storage))
    await client.get("/scoped", headers=ops_headers([["set", "a", 1]]))
    loads, saves = counting.loads, counting.saves
    for _ in range(5):
        resp = await client.get("/asset")
        assert COOKIE not in resp.cookies
    assert (counting.loads, counting.saves) == (loads, saves) == (1, 1)


async def test_one_write_to_set_one_to_consume_none_after(
    aiohttp_client: Any, counting: CountingStorage
) -> None:
    client: Client = await aiohttp_client(ops_app(counting.storage))
    await client.get("/scoped", headers=ops_headers([["set", "a", 1]]))
    assert counting.saves == 1
    await client.get("/scoped", headers=ops_headers([["get", "a"]]))
    assert counting.saves == 2
    await client.get("/scoped", headers=ops_headers([["get", "a"]]))
    assert counting.saves == 2


async def test_unchanged_carry_over_writes_nothing(
    aiohttp_client: Any, counting: CountingStorage
) -> None:
    client: Client = await aiohttp_client(ops_app(counting.storage))
    await client.get("/scoped", headers=ops_headers([["set", "a", 1]]))
    for ops, end in [([], "302"), ([["keep"]], "200"), ([["get", "a"]], "HEAD")]:
        method = "HEAD" if end == "HEAD" else "GET"
        resp = await client.request(
            method,
            "/scoped",
            headers=ops_headers(ops, "200" if end == "HEAD" else end),
            allow_redirects=False,
        )
        assert COOKIE not in resp.cookies, (ops, end)
    assert counting.saves == 1


async def test_empty_bag_is_removed_not_stored(aiohttp_client: Any) -> None:
    @fb.with_flashbag
    async def page(request: web.Request) -> web.Response:
        session = await get_session(request)
        if "user" not in session:
            session["user"] = "ann"
            fb.flashbag_set(request, "a", 1)
        return web.Response(text="ok")

    client: Client = await aiohttp_client(make_app([("GET", "/", page)]))
    resp = await client.get("/")
    assert stored_bag(resp.cookies[COOKIE].value) == {"a": 1}
    resp = await client.get("/")
    data = json.loads(resp.cookies[COOKIE].value)
    assert data["session"] == {"user": "ann"}  # no "aiohttp_flashbag": {} left


@fb.with_flashbag
async def home(request: web.Request) -> web.Response:
    """The user and the messages this page shows."""
    session = await get_session(request)
    return web.json_response([session.get("user"), fb.get_flashed_messages(request)])


async def test_new_session_in_the_handler_is_respected(aiohttp_client: Any) -> None:
    @fb.with_flashbag
    async def login(request: web.Request) -> web.Response:
        session = await new_session(request)
        session["user"] = "ann"
        fb.flash(request, "Welcome back")
        raise web.HTTPSeeOther("/")

    cookies = FernetCookies()
    client: Client = await aiohttp_client(
        make_app(
            [("POST", "/login", login), ("GET", "/", home)], storage=cookies.storage
        )
    )
    resp = await client.post("/login")
    assert await resp.json() == ["ann", ["Welcome back"]]


async def test_invalidate_in_the_handler_is_respected(aiohttp_client: Any) -> None:
    @fb.with_flashbag
    async def login(request: web.Request) -> web.Response:
        (await get_session(request))["user"] = "ann"
        fb.flash(request, "Hello")
        raise web.HTTPSeeOther("/")

    @fb.with_flashbag
    async def logout(request: web.Request) -> web.Response:
        (await get_session(request)).invalidate()
        fb.flash(request, "Bye")
        raise web.HTTPSeeOther("/")

    client: Client = await aiohttp_client(
        make_app(
            [("POST", "/login", login), ("POST", "/logout", logout), ("GET", "/", home)]
        )
    )
    await client.post("/login", allow_redirects=False)
    resp = await client.post("/logout")
    # the user is gone with the invalidated data, and so is the unread
    # "Hello" of the old session; "Bye", flashed after the switch, goes in
    assert await resp.json() == [None, ["Bye"]]


@pytest.mark.parametrize("scope", ["decorator", "middleware"])
async def test_setup_changes_the_session_key(aiohttp_client: Any, scope: str) -> None:
    async def setter(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "a", 1)
        return web.Response()

    handler = fb.with_flashbag(setter) if scope == "decorator" else setter
    client: Client = await aiohttp_client(
        make_app(
            [("GET", "/", handler)],
            middleware=scope == "middleware",
            session_key="flashes",
        )
    )
    resp = await client.get("/")
    session = json.loads(resp.cookies[COOKIE].value)["session"]
    assert list(session) == ["flashes"]
    assert unstamped(session["flashes"]) == {"a": 1}


@pytest.mark.parametrize("scope", ["decorator", "middleware"])
async def test_sub_apps_inherit_the_settings(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, scope: str
) -> None:
    async def setter(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "big", "x" * 50)  # over the budget: gives way
        fb.flashbag_set(request, "a", 1)
        return web.Response(text="accepted")

    app = make_app(
        [], middleware=scope == "middleware", session_key="flashes", max_bytes=66
    )
    sub = web.Application()
    sub.router.add_get(
        "/", fb.with_flashbag(setter) if scope == "decorator" else setter
    )
    app.add_subapp("/sub", sub)
    client: Client = await aiohttp_client(app)
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get("/sub/")
    assert "over max_bytes=66" in caplog.text  # the parent's budget
    session = json.loads(resp.cookies[COOKIE].value)["session"]
    assert unstamped(session["flashes"]) == {"a": 1}  # the parent's key


async def test_writes_calls_that_store_nothing_leave_the_session_untouched(
    aiohttp_client: Any,
) -> None:
    """docs/lifecycle.rst, "Writes": a scoped request with nothing incoming
    whose calls leave nothing to store (a value set then cleared, a keep of
    nothing, a ``now`` message, a message below the minimum level) sends no
    ``Set-Cookie`` and makes no session for an anonymous visitor.
    """

    @fb.with_flashbag
    async def handler(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "a", 1)
        fb.flashbag_append(request, "b", 1)
        fb.flash(request, "gone")
        fb.flashbag_clear(request)
        fb.flashbag_keep(request)
        fb.flashbag_keep(request, "missing")
        fb.flash(request, "now", now=True)
        fb.debug(request, "below the minimum")
        fb.flashbag_replace_all(request, value={})
        return web.Response(text="ok")

    client = await aiohttp_client(routes_app({"/": handler}, min_level="info"))
    for method in ("GET", "POST", "HEAD"):
        resp = await client.request(method, "/", allow_redirects=False)
        assert resp.status == 200
        assert "Set-Cookie" not in resp.headers, (method, resp.headers)


# == Writes: a page that showed a flash is cached by no one ============================
#
# A page that showed a flash is kept by no cache, shared caches included.
#
# docs/lifecycle.rst, "Writes": a response that showed a flash is a one-time,
# personal page. The scope sets ``Cache-Control`` to the ``cache_control``
# setting (default ``no-store``), replacing what the handler set, and removes
# ``CDN-Cache-Control`` and ``Surrogate-Control``, which tell shared caches
# (CDNs, Varnish, Fastly) to ignore ``Cache-Control``. ``cache_control=None``
# leaves headers alone; responses that showed nothing are not touched.


HX = {"HX-Request": "true"}


def cacheable() -> CIMultiDict[str]:
    """What a handler sets for a page shared caches should keep an hour."""
    headers: CIMultiDict[str] = CIMultiDict()
    headers["Cache-Control"] = "public, max-age=600"
    headers["CDN-Cache-Control"] = "max-age=3600"
    headers["Surrogate-Control"] = "max-age=3600"
    return headers


async def prime(request: web.Request) -> web.Response:
    fb.flash(request, "Saved", "success")
    fb.flashbag_set(request, "form", {"name": "Ann"})
    raise web.HTTPSeeOther("/elsewhere")


def read(request: web.Request) -> None:
    what = request.headers.get("X-Read", "messages")
    if what == "messages":
        fb.get_flashed_messages(request)
    elif what == "value":
        fb.flashbag_get(request, "form")
    elif what == "own":
        fb.flash(request, "own", "info")
        fb.get_flashed_messages(request, category_filter="info")


async def page(request: web.Request) -> web.Response:
    read(request)
    return web.Response(text="page", headers=cacheable())


async def not_found(request: web.Request) -> web.Response:
    read(request)
    raise web.HTTPNotFound(text="gone", headers=cacheable())


async def lowercase(request: web.Request) -> web.Response:
    read(request)
    resp = web.Response(text="page")
    resp.headers["cache-control"] = "public, max-age=600"
    resp.headers.add("cdn-cache-control", "max-age=3600")
    resp.headers.add("CDN-Cache-Control", "max-age=60")
    resp.headers.add("surrogate-control", "max-age=3600")
    resp.headers.add("Surrogate-Control", "no-store")
    return resp


async def fragment(request: web.Request) -> web.Response:
    """An htmx fragment that reads nothing: its messages go in HX-Trigger."""
    return web.Response(text="<li>fragment</li>", headers=cacheable())


ROUTES = {
    "/prime": prime,
    "/page": page,
    "/not-found": not_found,
    "/lowercase": lowercase,
    "/fragment": fragment,
}


def app_of(kind: str, **settings: Any) -> web.Application:
    return build_app(SimpleCookieStorage(), ROUTES, kind=kind, settings=settings)


def no_shared_cache_headers(resp: Any) -> None:
    assert "CDN-Cache-Control" not in resp.headers
    assert "Surrogate-Control" not in resp.headers


@pytest.mark.parametrize("read_what", ["messages", "value", "own"])
@pytest.mark.parametrize("path", ["/page", "/not-found", "/lowercase"])
@pytest.mark.parametrize("kind", SCOPES)
async def test_a_page_that_showed_a_flash_is_kept_by_no_cache(
    aiohttp_client: Any, kind: str, path: str, read_what: str
) -> None:
    client: Client = await aiohttp_client(app_of(kind))
    await client.post("/prime", allow_redirects=False)
    resp = await client.get(path, headers={"X-Read": read_what})
    assert resp.status == (404 if path == "/not-found" else 200)
    assert resp.headers.getall("Cache-Control") == ["no-store"]
    no_shared_cache_headers(resp)


@pytest.mark.parametrize("kind", SCOPES)
async def test_the_setting_replaces_cache_control_and_removes_the_others(
    aiohttp_client: Any, kind: str
) -> None:
    client: Client = await aiohttp_client(
        app_of(kind, cache_control="private, no-cache")
    )
    await client.post("/prime", allow_redirects=False)
    resp = await client.get("/page")
    assert resp.headers.getall("Cache-Control") == ["private, no-cache"]
    no_shared_cache_headers(resp)


@pytest.mark.parametrize("kind", SCOPES)
async def test_messages_delivered_to_htmx_count_as_shown(
    aiohttp_client: Any, kind: str
) -> None:
    client: Client = await aiohttp_client(app_of(kind, htmx_event="flash"))
    await client.post("/prime", allow_redirects=False)
    resp = await client.get("/fragment", headers=HX)
    assert json.loads(resp.headers["HX-Trigger"])["flash"]
    assert resp.headers["Cache-Control"] == "no-store"
    no_shared_cache_headers(resp)


@pytest.mark.parametrize("kind", SCOPES)
async def test_cache_control_none_leaves_every_header_alone(
    aiohttp_client: Any, kind: str
) -> None:
    client: Client = await aiohttp_client(app_of(kind, cache_control=None))
    await client.post("/prime", allow_redirects=False)
    resp = await client.get("/page")
    assert dict(resp.headers.items()).items() >= dict(cacheable().items()).items()


@pytest.mark.parametrize("kind", SCOPES)
async def test_a_page_that_showed_nothing_is_not_touched(
    aiohttp_client: Any, kind: str
) -> None:
    client: Client = await aiohttp_client(app_of(kind))
    await client.post("/prime", allow_redirects=False)
    resp = await client.get("/page", headers={"X-Read": "nothing"})
    assert dict(resp.headers.items()).items() >= dict(cacheable().items()).items()
    resp = await client.get("/page")  # nothing left to show
    assert dict(resp.headers.items()).items() >= dict(cacheable().items()).items()


# == Writes: counted by the Redis server itself ========================================
#
# Session writes counted by the Redis server itself (INFO commandstats).


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


# == Writes: a value is stored exactly as set ==========================================
#
# A value is stored exactly as set.
#
# docs/lifecycle.rst, "Writes": setting ``True`` over a stored ``1`` (or
# ``1.0`` over ``1``) stores ``True`` (or ``1.0``): equality in Python is not
# sameness in JSON. What ``flashbag_set`` stored is read back equal and of the
# same JSON type, recursively, even when the value it replaces is equal to it
# in Python and was set in the same second.


async def put(request: web.Request) -> web.Response:
    """Sets ``value`` under ``key`` as the JSON body says, after reading or
    keeping what came in under it; ends with a redirect or a page.
    """
    body = await request.json()
    key = body.get("key", "v")
    if body.get("read"):
        fb.flashbag_get(request, key)
    if body.get("keep"):
        fb.flashbag_keep(request, key)
    fb.flashbag_set(request, key, body["value"])
    if body.get("end", "303") == "303":
        raise web.HTTPSeeOther("/get")
    return web.Response(text="set")


async def get(request: web.Request) -> web.Response:
    """The value under ``v`` as JSON text: ``true`` is not ``1``, nor ``1.0``."""
    return web.Response(text=json.dumps(fb.flashbag_get(request, "v", "<missing>")))


def exact_app(storage: Any = None) -> web.Application:
    return build_app(
        storage if storage is not None else SimpleCookieStorage(),
        {"/put": put, "/get": get},
    )


PAIRS = [
    (1, True),
    (True, 1),
    (1, 1.0),
    (1.0, 1),
    (0, False),
    (False, 0),
    (0, 0.0),
    (0.0, -0.0),
    ([1, 2], [True, 2]),
    ({"n": 1}, {"n": 1.0}),
    ({"a": [0, {"b": 1}]}, {"a": [False, {"b": True}]}),
]
HOW: dict[str, dict[str, Any]] = {
    "carried": {"end": "303"},  # the old value came in unread: outgoing wins
    "read, then set": {"read": True, "end": "200"},
    "kept, then set": {"keep": True, "end": "200"},
    "read, then set, redirect": {"read": True, "end": "303"},
}


@pytest.mark.parametrize("how", list(HOW))
@pytest.mark.parametrize(("old", "new"), PAIRS, ids=repr)
@pytest.mark.parametrize("storage", ["cookie", "custom"])
async def test_a_value_equal_in_python_is_stored_as_set(
    aiohttp_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    storage: str,
    old: Any,
    new: Any,
    how: str,
) -> None:
    FrozenClock(monkeypatch)  # both in the same second
    client: Client = await aiohttp_client(
        exact_app(MemoryStorage() if storage == "custom" else None)
    )
    resp = await client.post("/put", json={"value": old}, allow_redirects=False)
    assert resp.status == 303
    resp = await client.post(
        "/put", json={"value": new, **HOW[how]}, allow_redirects=False
    )
    assert resp.status in (200, 303)
    text = await (await client.get("/get")).text()
    assert text == json.dumps(new)
    assert type(json.loads(text)) is type(new)


async def test_values_str_enum_members_are_stored_as_the_text_json_writes(
    aiohttp_client: Any,
) -> None:
    """docs/lifecycle.rst, "Words" and "Writes": values are JSON data, stored
    exactly as set. A member of a ``str`` enumeration is the text JSON writes
    for it (``json.dumps(Status.ACTIVE) == '"active"'``), as a value, inside
    one, as a key of one, as a key and as a message's category (whose level
    is then the category's).
    """
    assert json.dumps(Status.ACTIVE) == '"active"'

    @fb.with_flashbag
    async def save(request: web.Request) -> web.StreamResponse:
        fb.flashbag_set(request, Status.ACTIVE, Status.ACTIVE)
        fb.flashbag_set(request, "nested", {Status.ERROR: [Status.ACTIVE]})
        fb.flash(request, Status.ACTIVE, Status.ERROR)
        return redirect_to_show()

    @fb.with_flashbag
    async def levels(request: web.Request) -> web.Response:
        return web.json_response(
            [
                [m.category, m.message, m.level]
                for m in fb.get_flashed_messages(request, with_categories=True)
            ]
        )

    client = await aiohttp_client(
        routes_app({"/save": save, "/show": show_incoming, "/levels": levels})
    )
    await client.post("/save", allow_redirects=False)
    assert await shown(client) == {
        "values": {"active": "active", "nested": {"error": ["active"]}},
        "messages": [["error", "active"]],
    }
    await client.post("/save", allow_redirects=False)
    assert await (await client.get("/levels")).json() == [["error", "active", 40]]


# -- generated: any JSON value, and its twins ------------------------------------

TEXT = st.text(max_size=5)
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3)
    ),
    max_leaves=8,
)


def twins(value: Any) -> st.SearchStrategy[Any]:
    """Values equal to ``value`` in Python, of any JSON type that can be."""
    if isinstance(value, bool):
        return st.sampled_from([value, int(value), float(value)])
    if isinstance(value, int):
        options: list[Any] = [value]
        if abs(value) < 2**53:
            options.append(float(value))
        if value in (0, 1):
            options.append(bool(value))
        return st.sampled_from(options)
    if isinstance(value, float):
        options = [value]
        if value.is_integer():
            options.append(int(value))
            if value == 0:
                options += [-value, False]
            if value == 1:
                options.append(True)
        return st.sampled_from(options)
    if isinstance(value, list):
        return st.tuples(*map(twins, value)).map(list)
    if isinstance(value, dict):
        return st.fixed_dictionaries({k: twins(v) for k, v in value.items()})
    return st.just(value)


@st.composite
def old_and_new(draw: st.DrawFn) -> tuple[Any, Any]:
    old = draw(JSON)
    new = draw(st.one_of(twins(old), JSON))
    return old, new


def json_types(value: Any) -> Any:
    """``value`` with every scalar as its JSON type and text."""
    if isinstance(value, list):
        return ["array", [json_types(item) for item in value]]
    if isinstance(value, dict):
        return ["object", [[k, json_types(v)] for k, v in value.items()]]
    return json.dumps(value)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    served = Site(exact_app())
    yield served
    served.close()


@settings(max_examples=100)
@given(pair=old_and_new(), how=st.sampled_from(list(HOW)))
def test_what_was_set_is_read_back_of_the_same_json_type(
    site: Site, pair: tuple[Any, Any], how: str
) -> None:
    old, new = pair
    now = float(int(time.time()) + 0.5)

    async def visit() -> Any:
        async with aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True)
        ) as c:
            async with c.post(
                site.url("/put"), json={"value": old}, allow_redirects=False
            ) as resp:
                assert resp.status == 303
            async with c.post(
                site.url("/put"),
                json={"value": new, **HOW[how]},
                allow_redirects=False,
            ) as resp:
                assert resp.status in (200, 303)
            async with c.get(site.url("/get")) as resp:
                return json.loads(await resp.text())

    with mock.patch("time.time", return_value=now):  # the same second throughout
        read = site.run(visit())
    assert read == new
    assert json_types(read) == json_types(new)


# == Writes, checked from the outside ==================================================
#
# Rules checked from the outside, the way a careless user (or an attacker with a
# cookie) meets them; each test is named after the rule it checks.


# -- writes -------------------------------------------------------------------------


async def test_writes_scoped_request_with_nothing_sets_no_cookie(
    aiohttp_client: Any,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        fb.get_flashed_messages(request)
        fb.flashbag_get(request, "a")
        fb.flash(request, "shown at once")
        fb.get_flashed_messages(request)
        fb.flash(request, "now", now=True)
        return web.Response(text="ok")

    client = await aiohttp_client(make_app([("GET", "/", handler)], middleware=True))
    resp = await client.get("/")
    assert "Set-Cookie" not in resp.headers


async def test_writes_cache_control_replaced_and_cdn_headers_removed(
    aiohttp_client: Any,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        fb.flash(request, "x", now=True)
        fb.get_flashed_messages(request)
        return web.Response(
            text="ok",
            headers={
                "Cache-Control": "public, max-age=600",
                "CDN-Cache-Control": "max-age=600",
                "Surrogate-Control": "max-age=600",
            },
        )

    client = await aiohttp_client(make_app([("GET", "/", handler)], middleware=True))
    resp = await client.get("/")
    assert resp.headers["Cache-Control"] == "no-store"
    assert "CDN-Cache-Control" not in resp.headers
    assert "Surrogate-Control" not in resp.headers


async def test_writes_value_stored_exactly_true_over_1(aiohttp_client: Any) -> None:
    async def one(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "a", 1)
        raise web.HTTPFound("/two")

    async def two(request: web.Request) -> web.Response:
        assert fb.flashbag_get(request, "a") == 1
        fb.flashbag_set(request, "a", True)
        fb.flashbag_set(request, "b", 1.0)
        raise web.HTTPFound("/page")

    app = make_app(
        [("GET", "/", one), ("GET", "/two", two), ("GET", "/page", echo)],
        middleware=True,
    )
    client = await aiohttp_client(app)
    resp = await client.get("/")
    text = await resp.text()
    assert '"a": true' in text
    assert '"b": 1.0' in text


@pytest.mark.parametrize(
    ("path", "settings"),
    [("/redirect", {}), ("/head", {}), ("/page", {"unread": "keep"})],
    ids=["redirect_carrying", "head", "keep_page_showing_nothing"],
)
async def test_writes_no_write_when_stored_bag_does_not_change(
    aiohttp_client: Any, path: str, settings: dict[str, Any]
) -> None:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/elsewhere")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="nothing read")

    app = make_app(
        [
            ("GET", "/", set_and_redirect),
            ("GET", "/redirect", redirect),
            ("GET", "/head", page),
            ("GET", "/page", page),
        ],
        middleware=True,
        **settings,
    )
    client = await aiohttp_client(app)
    await client.get("/", allow_redirects=False)
    method = "HEAD" if path == "/head" else "GET"
    resp = await client.request(method, path, allow_redirects=False)
    assert "Set-Cookie" not in resp.headers, resp.headers.getall("Set-Cookie")
