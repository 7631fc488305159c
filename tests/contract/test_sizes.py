"""docs/sizes.rst (and docs/lifecycle.rst, "Size") over real HTTP: the cookie
guard, ``HX-Trigger`` within 4096 bytes, ``max_bytes``. The cookie guard
counting the cookie actually sent is in test_sizes_sent_cookie.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp_session import AbstractStorage, SimpleCookieStorage, get_session
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from aiohttp_session.redis_storage import RedisStorage
from hypothesis import given, settings, target
from hypothesis import strategies as st
from redis import asyncio as aioredis

import aiohttp_flashbag as fb
from aiohttp_flashbag import DEFAULT_SESSION_KEY as KEY
from aiohttp_flashbag._rule import MARKER
from aiohttp_flashbag.stores import RedisFlashStore
from aiohttp_flashbag.stores._session import MEMCACHED_RECORD
from aiohttp_flashbag.testing import FlashRecord, Message, record_flashes

from ..conftest import COOKIE, Client, FernetCookies, make_app
from ..stores.test_redis_store import DB
from ..support.edges import MARKER as STORED_MARKER
from ..support.edges import bag_in_jar, cookie_of, echo, plant, raw_bag_in_jar
from ..support.pages import (
    nacl_storage,
    redirect_to_show,
    routes_app,
    show_incoming,
    shown,
)
from ..support.sessions import Clock, MemoryStorage, build_app
from ..support.sessions import Site as SessionSite
from ..support.simple_jar import flash_warnings as library_warnings
from ..support.simple_jar import session_in, set_cookie_session
from ..support.simple_jar import show as show_session

# == The cookie guard ==================================================================
#
# Flashes never make a cookie session too large for a browser to keep.
#
# Browsers drop a cookie whose ``name=value`` is over 4096 bytes, and with it
# the whole session, a login included. On aiohttp-session's cookie storages the
# scope drops flashes, oldest first, until the cookie fits. Checked here on
# every ``Set-Cookie`` as it is sent; tests/e2e/test_guard_browser.py does the same
# in real Chromium.


LIMIT = 4096


def sent_cookie_sizes(resp: aiohttp.ClientResponse) -> list[int]:
    """Bytes of ``name=value`` of each session cookie the response sets."""
    sizes = []
    for header in resp.headers.getall("Set-Cookie", []):
        name_value = header.split(";", 1)[0]
        if name_value.split("=", 1)[0].strip() == COOKIE:
            sizes.append(len(name_value.strip().encode()))
    return sizes


def sent_cookie_value(resp: aiohttp.ClientResponse) -> str:
    """The session cookie's value as sent, however long (aiohttp's client,
    like a browser, ignores a cookie over 4096 bytes).
    """
    parsed: SimpleCookie = SimpleCookie()
    for header in resp.headers.getall("Set-Cookie", []):
        parsed.load(header)
    return parsed[COOKIE].value


class Storages:
    """A cookie storage and the means to read the session it sends."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.fernet = FernetCookies() if kind == "encrypted" else None

    def storage(self) -> AbstractStorage:
        if self.fernet is not None:
            return self.fernet.storage
        return SimpleCookieStorage()

    def session(self, cookie_value: str) -> dict[str, Any]:
        if not cookie_value:
            return {}
        if self.fernet is not None:
            data = self.fernet.read(cookie_value)
        else:
            data = json.loads(cookie_value)
        session: dict[str, Any] = data.get("session", {})
        return session

    def jar_session(self, client: aiohttp.ClientSession) -> dict[str, Any] | None:
        """The session the client holds (``None``: no session cookie)."""
        for morsel in client.cookie_jar:
            if morsel.key == COOKIE:
                return self.session(morsel.value)
        return None


def value_of(kind: str, size: int) -> Any:
    """JSON data of about ``size`` bytes as json.dumps encodes it.

    The kinds grow differently in a cookie: commas and quotes are escaped by
    SimpleCookieStorage's quoting, non-ASCII text is escaped by json.dumps.
    """
    if kind == "ints":
        return [7] * max(1, size // 3)
    if kind == "quotes":
        return '",;\\' * max(1, size // 8)
    if kind == "unicode":
        return "é" * max(1, size // 6)
    return "x" * size


# -- an app: log in, then scoped steps that run operations -----------------------


async def login(request: web.Request) -> web.Response:
    session = await get_session(request)
    size = int(request.query.get("size", "300"))
    session["user"] = {"name": "alice", "token": "t" * size}
    return web.Response(text="logged in")


async def whoami(request: web.Request) -> web.Response:
    user = (await get_session(request)).get("user")
    return web.json_response(user["name"] if user else None)


@fb.with_flashbag
async def step(request: web.Request) -> web.StreamResponse:
    results: list[Any] = []
    for op in json.loads(request.headers.get("X-Ops", "[]")):
        name = op[0]
        try:
            if name == "set":
                fb.flashbag_set(request, op[1], value_of(op[2], op[3]))
            elif name == "append":
                fb.flashbag_append(request, op[1], value_of(op[2], op[3]))
            elif name == "flash":
                fb.flash(request, value_of(op[2], op[3]), op[1])
            elif name == "keep":
                fb.flashbag_keep(request, *op[1:])
            elif name == "get":
                results.append(fb.flashbag_get(request, op[1]) is not None)
            elif name == "messages":
                results.append(len(fb.get_flashed_messages(request)))
            else:  # pragma: no cover - the strategies make no other
                raise AssertionError(op)
        except ValueError:  # over max_bytes: refused at the call
            results.append("refused")
        except TypeError:  # append onto a value that is not a list
            results.append("refused")
    end = request.headers.get("X-End", "200")
    if end == "303":
        raise web.HTTPSeeOther("/whoami")
    if end == "raise":
        raise ZeroDivisionError("the handler crashed")
    status = 200 if end == "HEAD" else int(end)
    return web.json_response(results, status=status)


def guard_app(storage: AbstractStorage, **flashbag_settings: Any) -> web.Application:
    app = web.Application()
    setup_session(app, storage)
    app.router.add_route("*", "/login", login)
    app.router.add_get("/whoami", whoami)
    app.router.add_route("*", "/step", step)
    # the same steps under other budgets, set by sub-apps of their own
    for name, max_bytes in (("b4096", 4096), ("unbounded", None)):
        sub = web.Application()
        fb.setup(sub, max_bytes=max_bytes)
        sub.router.add_route("*", "/step", step)
        app.add_subapp(f"/{name}", sub)
    if flashbag_settings:
        fb.setup(app, **flashbag_settings)
    return app


def ops(*items: list[Any]) -> dict[str, str]:
    return {"X-Ops": json.dumps(list(items))}


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "aiohttp_flashbag" and r.levelno == logging.WARNING
    ]


# -- the guard, case by case ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["simple", "encrypted"])
async def test_old_flashes_give_way_and_the_login_stays(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """The measurement that found it: scoped POSTs that flash and redirect to an
    unscoped API, so nothing is consumed, with no max_bytes to stop them.
    """
    storages = Storages(kind)
    client: Client = await aiohttp_client(guard_app(storages.storage()))
    await client.post("/login?size=300")
    for i in range(8):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
            resp = await client.post(
                "/unbounded/step",
                headers={
                    **ops(["flash", f"info{i}", "text", 1000]),
                    "X-End": "303",
                },
                allow_redirects=False,
            )
        assert resp.status == 303
        assert sent_cookie_sizes(resp)
        assert max(sent_cookie_sizes(resp)) <= LIMIT
        session = storages.jar_session(client.session)
        assert session is not None
        assert session["user"]["name"] == "alice"
        categories = [message[1] for message in session[KEY][MARKER][2]]
        assert categories[-1] == f"info{i}"  # the newest is kept
        if i >= 3:  # by now the oldest have to give way
            assert len(warnings_of(caplog)) == 1
            warning = warnings_of(caplog)[0]
            assert "4096" in warning
            assert f"'info{i - 3}'" in warning or f"'info{i - 2}'" in warning
            assert f"'info{i}'" not in warning
        assert await (await client.get("/whoami")).json() == "alice"


async def test_a_single_flash_that_would_overflow_the_cookie_is_dropped(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Within max_bytes, but SimpleCookieStorage's quoting doubles commas."""
    storages = Storages("simple")
    client: Client = await aiohttp_client(guard_app(storages.storage()))
    await client.post("/login?size=600")
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get(
            "/step",
            headers={**ops(["set", "selected", "ints", 1950]), "X-End": "303"},
            allow_redirects=False,
        )
    assert len(json.dumps(value_of("ints", 1950))) < 2048
    assert max(sent_cookie_sizes(resp)) <= LIMIT
    session = storages.jar_session(client.session)
    assert session is not None
    assert session == {"user": {"name": "alice", "token": "t" * 600}}
    assert "'selected'" in warnings_of(caplog)[0]


@pytest.mark.parametrize("kind", ["simple", "encrypted"])
async def test_a_session_too_large_by_itself_loses_its_flashes_only(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    @fb.with_flashbag
    async def sign_in(request: web.Request) -> web.Response:
        (await get_session(request))["user"] = {"name": "alice", "token": "t" * 5000}
        fb.flash(request, "Welcome alice")
        raise web.HTTPSeeOther("/whoami")

    storages = Storages(kind)
    app = guard_app(storages.storage())
    app.router.add_post("/sign-in", sign_in)
    client: Client = await aiohttp_client(app)
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.post("/sign-in", allow_redirects=False)
    # too large for a browser whatever happens, but not because of flashes
    session = storages.session(sent_cookie_value(resp))
    assert session == {"user": {"name": "alice", "token": "t" * 5000}}
    assert any("session itself" in w for w in warnings_of(caplog))


@pytest.mark.parametrize("kind", ["simple", "encrypted"])
async def test_a_login_in_the_same_request_as_the_flashes_stays(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """Flashes already carried; the handler adds a large login: flashes give way."""

    @fb.with_flashbag
    async def sign_in(request: web.Request) -> web.Response:
        (await get_session(request))["user"] = {"name": "alice", "token": "t" * 1800}
        fb.flash(request, "Welcome alice")
        raise web.HTTPSeeOther("/whoami")

    storages = Storages(kind)
    app = guard_app(storages.storage(), max_bytes=None)
    app.router.add_post("/sign-in", sign_in)
    client: Client = await aiohttp_client(app)
    for i in range(2):
        await client.get(
            "/step",
            headers={**ops(["flash", f"old{i}", "text", 1200]), "X-End": "303"},
            allow_redirects=False,
        )
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.post("/sign-in", allow_redirects=False)
    assert max(sent_cookie_sizes(resp)) <= LIMIT
    session = storages.jar_session(client.session)
    assert session is not None
    assert session["user"]["name"] == "alice"
    assert [m[2] for m in session[KEY][MARKER][2]][-1] == "Welcome alice"  # newest
    assert "'old0'" in warnings_of(caplog)[0]


class CountingEncrypted(EncryptedCookieStorage):
    """Counts every cookie the storage class encrypts, measured or sent."""

    encrypted = 0

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Any
    ) -> None:
        CountingEncrypted.encrypted += 1
        await super().save_session(request, response, session)


async def test_the_guard_costs_nothing_when_nothing_is_written(
    aiohttp_client: Any,
) -> None:
    storage = CountingEncrypted(os.urandom(32))
    client: Client = await aiohttp_client(guard_app(storage))
    await client.post("/login")
    await client.get(
        "/step",
        headers={**ops(["set", "a", "text", 500], ["flash", "m", "text", 10])},
        allow_redirects=False,
    )
    # the flashes went out on a page: set them again, redirected
    await client.get(
        "/step",
        headers={**ops(["set", "a", "text", 500]), "X-End": "303"},
        allow_redirects=False,
    )
    CountingEncrypted.encrypted = 0
    # flashes carried unchanged, nothing consumed, nothing read: no write
    for method, end in [("GET", "303"), ("HEAD", "HEAD"), ("GET", "500")]:
        resp = await client.request(
            method, "/step", headers={"X-End": end}, allow_redirects=False
        )
        assert COOKIE not in resp.cookies, (method, end)
    resp = await client.get("/step", headers={**ops(["keep"], ["get", "a"])})
    assert COOKIE not in resp.cookies  # kept as it was: unchanged
    assert CountingEncrypted.encrypted == 0


@pytest.mark.parametrize("hooked", [False, True])
async def test_size_cookie_guard_holds_for_nacl_cookies(
    aiohttp_client: Any, hooked: bool
) -> None:
    """docs/sizes.rst: with aiohttp-session's ``NaClCookieStorage`` too, the
    session cookie never goes over 4096 bytes because of flashes: the oldest
    give way, recorded in ``FlashRecord.dropped``; the newest reach the next
    page. With and without ``setup()``.
    """

    @fb.with_flashbag
    async def save(request: web.Request) -> web.StreamResponse:
        for i in range(14):
            fb.flash(request, f"{i:02d}" + "x" * 300)
        return redirect_to_show()

    settings: dict[str, Any] = {"max_bytes": None} if hooked else {}
    app = routes_app(
        {"/save": save, "/show": show_incoming}, storage=nacl_storage(), **settings
    )
    client = await aiohttp_client(app)
    with record_flashes(app) as records:
        resp = await client.post("/save", allow_redirects=False)
    sent = [len(v.split(";")[0]) for v in resp.headers.getall("Set-Cookie")]
    assert sent
    assert all(length <= 4096 for length in sent), sent
    assert records[0].dropped.messages
    kept = [m for _, m in (await shown(client))["messages"]]
    assert kept
    assert kept == [m for _, m in records[0].stored.messages]
    assert kept[-1].startswith("13")


# -- the guard, generated -------------------------------------------------------------


@dataclass
class Site:
    loop: asyncio.AbstractEventLoop
    server: TestServer
    storages: Storages


def open_site(kind: str) -> Site:
    loop = asyncio.new_event_loop()
    storages = Storages(kind)
    server = TestServer(guard_app(storages.storage()), host="127.0.0.1")
    loop.run_until_complete(server.start_server())
    return Site(loop, server, storages)


def close_site(site: Site) -> None:
    site.loop.run_until_complete(site.server.close())
    site.loop.close()


@pytest.fixture(scope="module")
def simple_site() -> Iterator[Site]:
    site = open_site("simple")
    yield site
    close_site(site)


@pytest.fixture(scope="module")
def encrypted_site() -> Iterator[Site]:
    site = open_site("encrypted")
    yield site
    close_site(site)


KEYS = st.sampled_from(["a", "b", "c", "d"])
CATEGORIES = st.sampled_from(["info", "error"])
KINDS = st.sampled_from(["text", "ints", "quotes", "unicode"])
ENDINGS = st.sampled_from(["303", "200", "400", "HEAD", "500", "raise"])
PREFIXES = st.sampled_from(["", "/b4096", "/unbounded"])


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, list[list[Any]], str]:
    prefix = draw(PREFIXES)
    budget = 2048 if prefix == "" else 4096
    size = st.one_of(st.integers(1, 200), st.integers(budget // 2, budget))
    op = st.one_of(
        st.tuples(st.just("set"), KEYS, KINDS, size).map(list),
        st.tuples(st.just("append"), KEYS, KINDS, size).map(list),
        st.tuples(st.just("flash"), CATEGORIES, KINDS, size).map(list),
        st.tuples(st.just("keep")).map(list),
        st.tuples(st.just("keep"), KEYS).map(list),
        st.tuples(st.just("get"), KEYS).map(list),
        st.tuples(st.just("messages")).map(list),
    )
    return prefix, draw(st.lists(op, max_size=5)), draw(ENDINGS)


def visit(site: Site, login_size: int, steps: list[tuple[str, list[Any], str]]) -> None:
    largest = 0

    async def go() -> None:
        nonlocal largest
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as client:
            url = site.server.make_url
            async with client.post(url(f"/login?size={login_size}")) as resp:
                assert resp.status == 200
            for prefix, operations, end in steps:
                method = "HEAD" if end == "HEAD" else "POST"
                async with client.request(
                    method,
                    url(f"{prefix}/step"),
                    headers={"X-Ops": json.dumps(operations), "X-End": end},
                    allow_redirects=False,
                ) as resp:
                    await resp.read()
                    expected = 500 if end in ("500", "raise") else None
                    assert expected is None or resp.status == expected
                    for size in sent_cookie_sizes(resp):
                        assert size <= LIMIT, (size, prefix, operations, end)
                        largest = max(largest, size)
                session = site.storages.jar_session(client)
                assert session is not None
                assert session["user"] == {"name": "alice", "token": "t" * login_size}
                async with client.get(url("/whoami")) as resp:
                    assert await resp.json() == "alice"

    site.loop.run_until_complete(go())
    target(float(largest), label="largest session cookie sent")  # to the edge


STEPS = st.lists(requests(), min_size=1, max_size=8)
LOGINS = st.integers(100, 600)


@settings(max_examples=40)
@given(login_size=LOGINS, steps=STEPS)
def test_simple_cookie_never_outgrows_the_browser(
    simple_site: Site, login_size: int, steps: list[tuple[str, list[Any], str]]
) -> None:
    visit(simple_site, login_size, steps)


@settings(max_examples=40)
@given(login_size=LOGINS, steps=STEPS)
def test_encrypted_cookie_never_outgrows_the_browser(
    encrypted_site: Site, login_size: int, steps: list[tuple[str, list[Any], str]]
) -> None:
    visit(encrypted_site, login_size, steps)


# == htmx: HX-Trigger within 4096 bytes ================================================
#
# htmx: the ``HX-Trigger`` header that delivers messages stays within 4096 bytes.
#
# docs/lifecycle.rst, "Size" and "htmx": with ``setup(app, htmx_event=...)``
# the messages a response to an htmx request would leave unseen go out in
# ``HX-Trigger``, in flash order, while the header value fits in 4096 bytes
# (UTF-8); those that do not fit are not delivered and stay unseen, and the
# lifecycle table decides what happens to them (this request's own unseen
# messages are passed on; incoming ones a page did not show are consumed under
# the default ``unread="drop"``). No proxy, and not aiohttp's own client,
# refuses the response, whatever the visitor typed.


HX = {"HX-Request": "true"}


def delivered(resp: aiohttp.ClientResponse) -> list[Message]:
    """The messages of the response's ``flash`` event, checking its size."""
    values = resp.headers.getall("HX-Trigger", [])
    assert len(values) <= 1
    if not values:
        return []
    size = len(values[0].encode("utf-8"))
    assert size <= LIMIT, size
    return [
        Message(item["category"], item["message"])
        for item in json.loads(values[0]).get("flash", [])
    ]


def in_order_within(part: list[Message], whole: list[Message]) -> bool:
    """Is ``part`` a subsequence of ``whole``, in the same order?"""
    rest = iter(whole)
    return all(any(item == other for other in rest) for item in part)


# -- the app -------------------------------------------------------------------


async def prime(request: web.Request) -> web.Response:
    """Flashes what the JSON body lists, then redirects: the next incoming."""
    for category, message in await request.json():
        fb.flash(request, message, category)
    raise web.HTTPSeeOther("/elsewhere")


async def fragment(request: web.Request) -> web.Response:
    """Flashes what the JSON body lists; sets ``X-Trigger`` as its own trigger."""
    for category, message in await request.json():
        fb.flash(request, message, category)
    resp = web.Response(text="<li>fragment</li>")
    if "X-Trigger" in request.headers:
        resp.headers["HX-Trigger"] = request.headers["X-Trigger"]
    return resp


async def form(request: web.Request) -> web.Response:
    """Echoes the visitor's input in a form error, as forms do."""
    name = str((await request.post()).get("name", ""))
    fb.flash(request, f"{name} is not a valid name", "error")
    return web.Response(status=422, text="<p>error</p>")


def trigger_app() -> web.Application:
    return build_app(
        MemoryStorage(),  # no cookie to overflow: only the header is bounded
        {"/prime": prime, "/fragment": fragment, "/form": form},
        settings={"htmx_event": "flash", "max_bytes": None},
    )


def messages(prefix: str, count: int, size: int) -> list[Message]:
    return [Message("info", f"{prefix}{n}:" + "x" * size) for n in range(count)]


async def frag(
    client: Client, own: list[Message], **headers: str
) -> tuple[list[Message], FlashRecord]:
    with record_flashes() as records:
        resp = await client.post("/fragment", json=own, headers={**HX, **headers})
    assert resp.status == 200
    (record,) = records
    return delivered(resp), record


# -- this request's own messages ------------------------------------------------------


async def test_own_messages_are_delivered_in_order_while_they_fit(
    aiohttp_client: Any,
) -> None:
    client: Client = await aiohttp_client(trigger_app())
    own = messages("own", 6, 1200)
    sent, record = await frag(client, own)
    assert sent == own[:3]  # a fourth would take the header over 4096 bytes
    assert record.shown.messages == own[:3]
    # the others stay unseen: a page passes its own unseen messages on
    assert record.stored.messages == own[3:]
    sent, record = await frag(client, [])
    assert sent == own[3:]
    assert record.stored.messages == []


async def test_incoming_messages_come_first_and_unseen_ones_follow_the_table(
    aiohttp_client: Any,
) -> None:
    client: Client = await aiohttp_client(trigger_app())
    incoming = messages("in", 4, 1200)
    resp = await client.post("/prime", json=incoming, allow_redirects=False)
    assert resp.status == 303
    own = messages("own", 2, 1200)
    sent, record = await frag(client, own)
    assert sent == incoming[:3]
    assert record.shown.messages == incoming[:3]
    # unread="drop": the page consumed the incoming one it did not show;
    # its own unseen messages are passed on
    assert record.stored.messages == own


async def test_the_handlers_own_trigger_counts(aiohttp_client: Any) -> None:
    client: Client = await aiohttp_client(trigger_app())
    mine = {"itemAdded": {"html": "<li>" + "y" * 3000 + "</li>"}}
    own = messages("own", 2, 600)
    with record_flashes() as records:
        resp = await client.post(
            "/fragment", json=own, headers={**HX, "X-Trigger": json.dumps(mine)}
        )
    assert delivered(resp) == own[:1]
    assert json.loads(resp.headers["HX-Trigger"])["itemAdded"] == mine["itemAdded"]
    assert records[0].stored.messages == own[1:]


async def test_non_ascii_text_is_counted_in_utf_8(aiohttp_client: Any) -> None:
    client: Client = await aiohttp_client(trigger_app())
    own = [Message("info", f"{n}: " + "é☃😀" * 100) for n in range(8)]
    sent, record = await frag(client, own)
    assert sent, "at least one message fits"
    assert sent == own[: len(sent)]
    assert record.shown.messages == sent
    assert record.stored.messages == own[len(sent) :]


async def test_a_long_echoed_input_never_makes_the_response_unreadable(
    aiohttp_client: Any,
) -> None:
    """18 KB of visitor input in a form error: aiohttp's client refuses a
    header line over 8190 bytes, as many proxies refuse one over 4 or 8 KB.
    """
    client: Client = await aiohttp_client(trigger_app())
    name = "n" * 18_000
    with record_flashes() as records:
        resp = await client.post("/form", data={"name": name}, headers=HX)
        assert resp.status == 422
        assert await resp.text() == "<p>error</p>"
    assert delivered(resp) == []
    error = Message("error", f"{name} is not a valid name")
    assert records[0].shown.messages == []
    assert records[0].stored.messages == [error]  # unseen, passed on


# -- generated --------------------------------------------------------------------


@pytest.fixture(scope="module")
def site() -> Iterator[SessionSite]:
    served = SessionSite(trigger_app())
    yield served
    served.close()


TEXT = st.tuples(st.sampled_from(list('xé☃😀"\\<\n')), st.integers(0, 2500)).map(
    lambda pair: pair[0] * pair[1]
)
OWN = st.lists(
    st.tuples(st.sampled_from(["info", "error", "ünïcödé"]), TEXT).map(
        lambda pair: Message(*pair)
    ),
    max_size=8,
)
HANDLER_TRIGGER = st.one_of(
    st.none(),
    st.integers(0, 4500).map(lambda n: json.dumps({"itemAdded": "z" * n})),
    st.just("itemAdded, listChanged"),
)


def unseen_of(own: list[Message], sent: list[Message]) -> list[Message]:
    """``own`` less ``sent`` (an in-order part of it), in order."""
    rest = list(sent)
    unseen = []
    for message in own:
        if rest and message == rest[0]:
            rest.pop(0)
        else:
            unseen.append(message)
    return unseen


@settings(max_examples=60)
@given(own=OWN, handler_trigger=HANDLER_TRIGGER)
def test_the_header_is_bounded_and_the_rest_stays_unseen(
    site: SessionSite, own: list[Message], handler_trigger: str | None
) -> None:
    handler_size = 0 if handler_trigger is None else len(handler_trigger.encode())

    async def visit() -> tuple[list[str], FlashRecord]:
        headers = dict(HX)
        if handler_trigger is not None:
            headers["X-Trigger"] = handler_trigger
        async with aiohttp.ClientSession() as client:
            with record_flashes() as records:
                async with client.post(
                    site.url("/fragment"), json=own, headers=headers
                ) as resp:
                    assert resp.status == 200
                    values = resp.headers.getall("HX-Trigger", [])
            (record,) = records
        return values, record

    values, record = site.run(visit())
    assert len(values) <= 1
    if handler_size <= LIMIT:
        assert all(len(value.encode("utf-8")) <= LIMIT for value in values)
    trigger = json.loads(values[0]) if values and values[0].startswith("{") else {}
    sent = [Message(m["category"], m["message"]) for m in trigger.get("flash", [])]
    if handler_size > LIMIT:  # no room at all: the handler's header stands
        assert sent == []
        assert values == [handler_trigger]
    assert in_order_within(sent, own)
    assert record.shown.messages == sent
    assert record.stored.messages == unseen_of(own, sent)
    if own and handler_trigger is None and len(json.dumps(own[0])) < 500:
        assert sent, "the first message fits, so it is delivered"


# == max_bytes, tried as a careless user would =========================================
#
# Nothing lost, nothing leaked, never a broken session: tried over real HTTP as an
# attacker and a careless user would.


# -- max_bytes bounds the stored bag ---------------------------------------------


class TestMaxBytes:
    async def test_the_bound_is_the_stored_bag_as_json_dumps_encodes_it(
        self, aiohttp_client: Any
    ) -> None:
        """Default separators and ASCII escapes, as aiohttp-session stores it:
        a bag of exactly ``max_bytes`` is stored, one byte more gives way.
        """

        @fb.with_flashbag
        async def fill(request: web.Request) -> web.Response:
            n = int(request.query["n"])
            value: dict[str, Any] = {"s": "é" + "a" * n, "l": [1, 2, 3]}
            value["q"] = 'say "hi"'
            fb.flashbag_set(request, "v", value)
            return web.Response(text="set")

        client: Client = await aiohttp_client(
            make_app([("GET", "/", fill)], max_bytes=600)
        )

        async def stored(n: int) -> Any:
            session = set_cookie_session(await client.get(f"/?n={n}"))
            return None if session is None else session.get(KEY)

        low, high = 0, 600  # stored at `low`, not at `high`
        assert await stored(low) is not None
        assert await stored(high) is None
        while high - low > 1:
            middle = (low + high) // 2
            if await stored(middle) is None:
                high = middle
            else:
                low = middle
        assert len(json.dumps(await stored(low))) == 600  # the last that fits

    async def test_a_write_over_the_bound_is_accepted_and_gives_way_at_the_commit(
        self, aiohttp_client: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A form that flashes what the visitor typed never fails for its
        size: this request's reads see the write; at the commit it gives way,
        with a WARNING naming it, and the rest is stored.
        """
        big = "x" * 3000

        @fb.with_flashbag
        async def overflow(request: web.Request) -> web.Response:
            bag = fb.get_flashbag(request)
            fb.flashbag_set(request, "small", "s")
            fb.flash(request, "hello")
            fb.flashbag_append(request, "list", 1)
            fb.flashbag_set(request, "big", big)
            fb.flash(request, big, "huge")
            seen = bag.outgoing
            return web.json_response(
                {"big": seen.values["big"] == big, "messages": len(seen.messages)}
            )

        client: Client = await aiohttp_client(
            make_app([("GET", "/", overflow), ("GET", "/show", show_session)])
        )
        with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
            resp = await client.get("/")
        assert resp.status == 200
        assert await resp.json() == {"big": True, "messages": 2}
        assert "max_bytes=2048" in caplog.text
        assert "value 'big'" in caplog.text
        assert "message 'huge'" in caplog.text
        session = session_in(client)
        assert len(json.dumps(session[KEY])) <= 2048
        shown = await (await client.get("/show")).json()
        assert shown["values"] == {"small": "s", "list": [1]}
        assert shown["messages"] == [["message", "hello"]]

    async def test_carried_and_kept_flashes_give_way_oldest_first_at_commit(
        self, aiohttp_client: Any, clock: Clock, caplog: pytest.LogCaptureFixture
    ) -> None:
        @fb.with_flashbag
        async def step(request: web.Request) -> web.Response:
            for key in request.query.getall("keep", []):
                fb.flashbag_keep(request, key)
            for key in request.query.getall("read", []):
                fb.flashbag_get(request, key)
            for key in request.query.getall("set", []):
                fb.flashbag_set(request, key, key * 900)
            if "flash" in request.query:
                fb.flash(request, request.query["flash"] * 300, "info")
            if "page" in request.query:
                return web.Response(text="page")
            raise web.HTTPSeeOther("/show")

        client: Client = await aiohttp_client(
            make_app([("GET", "/", step), ("GET", "/show", show_session)])
        )

        async def go(query: str) -> None:
            clock.offset += 5
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
                resp = await client.get("/?" + query, allow_redirects=False)
            assert resp.status in (200, 303)
            assert len(json.dumps(session_in(client)[KEY])) <= 2048

        await go("set=a&flash=m")  # a: 900 bytes, an "info" message: 300
        await go("set=b")  # a, the message and b: 2100 is over
        assert len(library_warnings(caplog)) == 1
        assert "'a'" in library_warnings(caplog)[0]  # the oldest, a value
        assert "'b'" not in library_warnings(caplog)[0]
        await go("set=c")  # the message (category 'info') is next, then b
        assert "'info'" in library_warnings(caplog)[0]
        assert "'b'" not in library_warnings(caplog)[0]
        assert "'c'" not in library_warnings(caplog)[0]
        # a page that reads c and keeps it; d is set: c kept, stays
        await go("read=c&keep=c&set=d&page=1")
        assert library_warnings(caplog) == []
        # e is set by this request: kept c is older than d, and gives way
        await go("keep=c&keep=d&set=e&page=1")
        assert "'c'" in library_warnings(caplog)[0]
        assert "'d'" not in library_warnings(caplog)[0]
        shown = await (await client.get("/show")).json()
        assert shown["values"] == {"d": "d" * 900, "e": "e" * 900}
        assert shown["messages"] == []

    async def test_what_this_request_set_is_never_dropped_for_max_bytes(
        self, aiohttp_client: Any, clock: Clock
    ) -> None:
        @fb.with_flashbag
        async def step(request: web.Request) -> web.Response:
            fb.flashbag_keep(request)
            key = request.query["set"]
            fb.flashbag_set(request, key, key * 1900)
            raise web.HTTPSeeOther("/show")

        client: Client = await aiohttp_client(
            make_app([("GET", "/", step), ("GET", "/show", show_session)])
        )
        await client.get("/?set=a", allow_redirects=False)
        clock.offset += 5
        await client.get("/?set=b", allow_redirects=False)
        shown = await (await client.get("/show")).json()
        assert shown["values"] == {"b": "b" * 1900}


@pytest.mark.parametrize("over", [0, 1])
async def test_size_max_bytes_bounds_json_dumps_of_the_stored_bag_inclusively(
    aiohttp_client: Any, over: int
) -> None:
    """docs/sizes.rst: ``max_bytes`` bounds the stored bag as ``json.dumps``
    (default settings: non-ASCII text as ``\\uXXXX``) encodes it; a bag of
    exactly ``max_bytes`` is kept whole, one byte more and a flash gives way.
    """

    @fb.with_flashbag
    async def save(request: web.Request) -> web.StreamResponse:
        fb.flashbag_set(request, "k", "x" * int(request.query["n"]))
        fb.flash(request, "\u00e9t\u00e9", "info")
        return redirect_to_show()

    client = await aiohttp_client(
        routes_app({"/save": save, "/show": show_incoming}, max_bytes=500)
    )
    await client.post("/save?n=10", allow_redirects=False)
    raw = cookie_of(client)
    assert raw is not None
    measured = len(json.dumps(json.loads(raw)["session"][fb.SESSION_KEY]))
    await shown(client)
    length = 10 + 500 - measured + over
    with record_flashes() as records:
        await client.post(f"/save?n={length}", allow_redirects=False)
    if over:
        assert records[0].dropped == fb.Flashes({"k": "x" * length}, [])
        assert await shown(client) == {
            "values": {},
            "messages": [["info", "\u00e9t\u00e9"]],
        }
    else:
        assert records[0].dropped == fb.Flashes({}, [])
        raw = cookie_of(client)
        assert raw is not None
        assert len(json.dumps(json.loads(raw)["session"][fb.SESSION_KEY])) == 500
        assert (await shown(client))["values"] == {"k": "x" * length}


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
    caplog: pytest.LogCaptureFixture,
) -> None:
    """docs/sizes.rst: a flash never turns a request into an error because
    of its size (a form that flashes what the visitor typed, 100 KB or
    2 MB of it), and flashes never lose the rest of the session (a login),
    with every session storage, the Redis flash store, and
    ``max_bytes=None``: with ``MemcachedStorage`` a flash gives way to the
    megabyte memcached keeps.
    """
    name, settings = place
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
    elif "Cookie" in name or (name == "MemcachedStorage" and size > 1_000_000):
        # gave way to the cookie guard, or to the megabyte memcached keeps
        assert got["entry"] is None
        assert got["messages"] == ["Please fix the errors"]
        assert "'entry'" in caplog.text
        assert ("memcached" in caplog.text) is (name == "MemcachedStorage")
    else:  # no bound: the whole entry
        assert got["entry"] == size // 2


@pytest.mark.parametrize(
    ("length", "kept"), [(MEMCACHED_RECORD - 200, True), (MEMCACHED_RECORD, False)]
)
async def test_sizes_memcached_keeps_a_flash_that_fits_its_megabyte(
    aiohttp_client: Any,
    memcached_port: int,
    caplog: pytest.LogCaptureFixture,
    length: int,
    kept: bool,
) -> None:
    """docs/sizes.rst: with ``MemcachedStorage`` and ``max_bytes=None``, a
    flash gives way only when the session's record would be over what
    memcached keeps; one that fits is stored whole.
    """
    import aiomcache
    from aiohttp_session.memcached_storage import MemcachedStorage

    memcached = aiomcache.Client("127.0.0.1", memcached_port)

    @fb.with_flashbag
    async def form(request: web.Request) -> web.StreamResponse:
        fb.flashbag_set(request, "entry", "x" * length)
        fb.flash(request, "Please fix the errors", "error")
        raise web.HTTPSeeOther("/page")

    try:
        client: Client = await aiohttp_client(
            make_app(
                [
                    ("POST", "/login", log_in),
                    ("POST", "/form", form),
                    ("GET", "/page", form_page),
                ],
                storage=MemcachedStorage(memcached, max_age=3600),
                max_bytes=None,
            )
        )
        assert (await client.post("/login")).status == 200
        assert (await client.post("/form", allow_redirects=False)).status == 303
        got = await (await client.get("/page")).json()
    finally:
        await memcached.close()
    assert got["user"] == "ann"
    assert got["messages"] == ["Please fix the errors"]
    assert got["entry"] == (length if kept else None)
    assert ("memcached" in caplog.text) is not kept


# == Size, checked from the outside ====================================================
#
# Rules checked from the outside, the way a careless user (or an attacker with a
# cookie) meets them; each test is named after the rule it checks.


# -- size -----------------------------------------------------------------------------


async def test_size_big_write_accepted_read_in_request_dropped_with_warning(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "huge", "x" * 5000)
        fb.flashbag_set(request, "small", "y")
        return web.json_response(
            {"huge": len(fb.get_flashbag(request).outgoing.values["huge"])}
        )

    app = make_app([("GET", "/", handler)], middleware=True)
    client = await aiohttp_client(app)
    with (
        caplog.at_level(logging.WARNING, "aiohttp_flashbag"),
        record_flashes(app) as records,
    ):
        resp = await client.get("/")
    assert resp.status == 200
    assert (await resp.json())["huge"] == 5000
    assert bag_in_jar(client) == {"small": "y"}
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "huge" in text
    assert "2048" in text
    assert list(records[-1].dropped.values) == ["huge"]


async def test_size_give_way_order_oldest_carried_first_then_own(
    aiohttp_client: Any,
) -> None:
    async def redirect(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "own", "o" * 300)
        raise web.HTTPFound("/page")

    app = make_app(
        [("GET", "/go", redirect), ("GET", "/page", echo)],
        middleware=True,
        max_bytes=900,
    )
    client = await aiohttp_client(app)
    now = int(time.time())
    plant(
        client,
        {
            fb.SESSION_KEY: {
                STORED_MARKER: [
                    2,
                    {"older": [now - 50, "a" * 300], "newer": [now - 10, "b" * 300]},
                    [],
                ]
            }
        },
    )
    await client.get("/go", allow_redirects=False)
    bag = bag_in_jar(client)
    assert set(bag) == {"newer", "own"}, bag
    # times kept
    raw = raw_bag_in_jar(client)[STORED_MARKER][1]
    assert raw["newer"][0] == now - 10


async def test_size_cookie_guard_keeps_cookie_under_4096_and_session(
    aiohttp_client: Any,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        session = await get_session(request)
        session["user"] = "u" * 2500
        for i in range(10):
            fb.flash(request, f"{i}" * 150)
        return web.Response(text="ok")

    app = make_app([("GET", "/", handler)], middleware=True, max_bytes=None)
    client = await aiohttp_client(app)
    resp = await client.get("/")
    assert resp.status == 200
    cookie = next(c for c in resp.headers.getall("Set-Cookie") if c.startswith(COOKIE))
    assert len(cookie.split(";", 1)[0]) <= 4096
    data = json.loads(cookie_of(client) or "{}")
    assert data["session"]["user"] == "u" * 2500


async def test_size_cookie_guard_counts_outer_writes_with_setup_and_keeps_times(
    aiohttp_client: Any,
) -> None:
    @web.middleware
    async def outer(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        session = await get_session(request)
        session["profile"] = "p" * 2500
        return cast(web.StreamResponse, response)

    async def redirect(request: web.Request) -> web.Response:
        fb.flash(request, "own " + "o" * 400)
        return web.Response(status=302, headers={"Location": "/page"})

    app = web.Application()
    setup_session(app, SimpleCookieStorage())
    app.middlewares.append(outer)
    app.middlewares.append(fb.flashbag_middleware)
    fb.setup(app, max_bytes=None)
    app.router.add_get("/go", redirect)
    app.router.add_get("/page", echo)
    client = await aiohttp_client(app)
    now = int(time.time())
    plant(
        client,
        {
            fb.SESSION_KEY: {
                STORED_MARKER: [
                    2,
                    {},
                    [
                        [now - 30, "message", "old " + "a" * 400],
                        [now - 20, "message", "mid " + "b" * 400],
                        [now - 10, "message", "new " + "c" * 400],
                    ],
                ]
            }
        },
    )
    with record_flashes(app) as records:
        resp = await client.get("/go", allow_redirects=False)
    cookie = next(c for c in resp.headers.getall("Set-Cookie") if c.startswith(COOKIE))
    assert len(cookie.split(";", 1)[0]) <= 4096
    data = json.loads(cookie_of(client) or "{}")
    assert data["session"]["profile"] == "p" * 2500
    messages = data["session"][fb.SESSION_KEY][STORED_MARKER][2]
    texts = [m[2][:3] for m in messages]
    assert texts[-1] == "own", texts
    assert "old" not in texts, texts
    stamps = {m[2][:3]: m[0] for m in messages}
    for name, stamp in (("mid", now - 20), ("new", now - 10)):
        if name in stamps:
            assert stamps[name] == stamp
    assert records[-1].dropped.messages, records[-1]


async def test_size_warning_names_first_50_and_how_many_more(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(request: web.Request) -> web.Response:
        for i in range(80):
            fb.flash(request, f"message number {i} " + "x" * 100, "info")
        return web.Response(text="ok")

    app = make_app([("GET", "/", handler)], middleware=True, max_bytes=300)
    client = await aiohttp_client(app)
    with (
        caplog.at_level(logging.WARNING, "aiohttp_flashbag"),
        record_flashes(app) as records,
    ):
        resp = await client.get("/")
    assert resp.status == 200
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "300" in text
    assert "more" in text
    assert "message number 0" in text
    assert len(records[-1].dropped.messages) + len(records[-1].stored.messages) == 80


async def test_size_own_flashes_give_way_oldest_first_in_flash_order(
    aiohttp_client: Any,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        fb.flash(request, "m" * 600)  # flashed first: the oldest
        fb.flashbag_set(request, "later", "v" * 600)
        return web.Response(text="ok")

    app = make_app([("GET", "/", handler)], middleware=True, max_bytes=900)
    client = await aiohttp_client(app)
    with record_flashes(app) as records:
        await client.get("/")
    assert records[-1].stored.values == {"later": "v" * 600}
    assert records[-1].dropped.messages == [("message", "m" * 600)]


@pytest.mark.parametrize("with_setup", [False, True], ids=["no_setup", "setup"])
async def test_size_cookie_guard_encrypted_session_too_large_removes_flashes(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, with_setup: bool
) -> None:
    fernet = FernetCookies()

    async def handler(request: web.Request) -> web.Response:
        session = await get_session(request)
        session["user"] = "u" * int(request.query["size"])
        fb.flash(request, "f" * 300)
        fb.flash(request, "g" * 300)
        return web.Response(text="ok")

    settings: dict[str, Any] = {"max_age": 600} if with_setup else {}
    app = make_app(
        [("GET", "/", handler)], middleware=True, storage=fernet.storage, **settings
    )
    client = await aiohttp_client(app)
    with (
        caplog.at_level(logging.WARNING, "aiohttp_flashbag"),
        record_flashes(app) as records,
    ):
        resp = await client.get("/", params={"size": "2400"})
    cookie = next(c for c in resp.headers.getall("Set-Cookie") if c.startswith(COOKIE))
    assert len(cookie.split(";", 1)[0]) <= 4096
    data = fernet.read(cookie_of(client) or "")
    assert data["session"]["user"] == "u" * 2400
    assert records[-1].dropped.messages, records[-1]
    stored = records[-1].stored.messages
    assert len(stored) + len(records[-1].dropped.messages) == 2
    caplog.clear()
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        resp = await client.get("/", params={"size": "5000"})
    assert resp.status == 200
    assert "too large" in caplog.text, caplog.text


# == The cookie guard counts bytes ==


@pytest.mark.parametrize("with_setup", [False, True])
async def test_size_cookie_guard_counts_the_bytes_of_non_ascii_cookies(
    aiohttp_client: Any, with_setup: bool
) -> None:
    """docs/sizes.rst: browsers drop a cookie whose ``name=value`` is over
    4096 *bytes*. A ``SimpleCookieStorage`` whose encoder writes text as it
    is (``ensure_ascii=False``) sends CJK text as three bytes a character:
    the guard counts the bytes sent, not the characters, so the login
    stays and the newest flash reaches the next page. With and without
    ``setup()``.
    """
    import functools

    async def log_in(request: web.Request) -> web.Response:
        (await get_session(request))["user"] = "ann"
        return web.Response(text="in")

    async def save(request: web.Request) -> web.StreamResponse:
        for i in range(3):
            fb.flash(request, f"{i}" + "\u65e5" * 700)
        raise web.HTTPSeeOther("/page")

    async def page(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "user": (await get_session(request)).get("user"),
                "messages": [m[:1] for m in fb.get_flashed_messages(request)],
            }
        )

    storage = SimpleCookieStorage(
        encoder=functools.partial(json.dumps, ensure_ascii=False)
    )
    settings: dict[str, Any] = {"max_age": 600} if with_setup else {}
    app = make_app(
        [("POST", "/login", log_in), ("POST", "/save", save), ("GET", "/page", page)],
        storage=storage,
        middleware=True,
        max_bytes=None,
        **settings,
    )
    client: Client = await aiohttp_client(app)
    await client.post("/login")
    resp = await client.post("/save", allow_redirects=False)
    sent = [v for k, v in resp.raw_headers if k.lower() == b"set-cookie"]
    assert sent
    assert all(len(v.split(b";", 1)[0]) <= 4096 for v in sent), [len(v) for v in sent]
    body = await (await client.get("/page")).json()
    assert body["user"] == "ann"
    assert body["messages"][-1:] == ["2"]
