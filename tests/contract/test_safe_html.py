"""Safe HTML: ``markupsafe.Markup`` flashes (docs/safe-html.rst).

A ``Markup`` message or keyed value comes back as ``Markup`` after the
redirect on every storage the client cannot rewrite (encrypted cookies,
Redis, memcached, a custom server-side storage), so a template renders its
link. Under ``SimpleCookieStorage`` (or a subclass), whose cookie is plain
JSON the visitor can edit, it comes back as a plain ``str`` and is escaped. A
plain ``str`` is escaped everywhere. The browser side of the forged cookie is
in tests/e2e/test_markup_browser.py.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp_jinja2
import jinja2
import pytest
from aiohttp import web
from aiohttp_session import AbstractStorage, Session, SimpleCookieStorage, get_session
from markupsafe import Markup, escape

import aiohttp_flashbag as fb
from aiohttp_flashbag.testing import FlashRecord, Message, record_flashes

from ..conftest import COOKIE, Client, FernetCookies, make_app
from ..support.backends import (
    Backend,
    EncryptedCookies,
    Memcached,
    Redis,
    SimpleCookies,
)
from ..support.servers import ROOT

# The text of the safe messages and values, and a plain str that looks like
# HTML. Entities and non-ASCII text must come back exactly as they went in.
LINK_HTML = 'Saved. <a id="undo" href="/undo?id=1&amp;next=%2F">Undo</a> ✓'
NOTE_HTML = "<em>Zoë</em> &amp; co"
PLAIN = '<b onclick="steal()">bold</b> & <i>co</i>'
LINK = Markup(LINK_HTML)
NOTE = Markup(NOTE_HTML)

PAGE = (
    "<title>Flashes</title>"
    "{% for category, message in get_flashed_messages(with_categories=true) %}"
    '<p class="{{ category }}">{{ message }}</p>'
    "{% endfor %}"
    '<div id="note">{{ flashbag.get("note") }}</div>'
    '<div id="raw">{{ flashbag.get("raw") }}</div>'
)


def rendered(*messages: tuple[str, str], note: str = "None", raw: str = "None") -> str:
    """What PAGE renders; the arguments are the HTML expected in each place."""
    paragraphs = "".join(f'<p class="{c}">{html}</p>' for c, html in messages)
    return (
        f'<title>Flashes</title>{paragraphs}<div id="note">{note}</div>'
        f'<div id="raw">{raw}</div>'
    )


def escaped(text: str) -> str:
    return str(escape(text))


# The page after the redirect, on a storage that keeps the mark and on one
# that drops it.
TRUSTED_PAGE = rendered(
    ("success", LINK_HTML),
    ("error", escaped(PLAIN)),
    note=NOTE_HTML,
    raw=escaped(PLAIN),
)
UNTRUSTED_PAGE = rendered(
    ("success", escaped(LINK_HTML)),
    ("error", escaped(PLAIN)),
    note=escaped(NOTE_HTML),
    raw=escaped(PLAIN),
)


# -- storages -----------------------------------------------------------------


class MemoryStorage(AbstractStorage):
    """A custom server-side storage: the cookie holds an id, the data is JSON
    text kept here, so nothing survives as a Python object."""

    def __init__(self) -> None:
        super().__init__(cookie_name=COOKIE)
        self.data: dict[str, str] = {}

    async def load_session(self, request: web.Request) -> Session:
        key = self.load_cookie(request)
        if key is None or key not in self.data:
            return Session(None, data=None, new=True, max_age=self.max_age)
        return Session(
            key, data=json.loads(self.data[key]), new=False, max_age=self.max_age
        )

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        key = session.identity
        if key is None:
            key = uuid.uuid4().hex
            session.set_new_identity(key)
        self.data[key] = json.dumps(self._get_session_data(session))
        self.save_cookie(response, key, max_age=session.max_age)


class CustomServerSide(Backend):
    name = "custom"
    cookie_holds_data = False

    def storage(self, state: Any) -> AbstractStorage:
        return MemoryStorage()


class JSONCookieStorage(SimpleCookieStorage):
    """A subclass of SimpleCookieStorage: still a cookie the client can edit."""


class SimpleCookieSubclass(SimpleCookies):
    name = "SimpleCookieStorage-subclass"

    def storage(self, state: Any) -> AbstractStorage:
        return JSONCookieStorage()


TRUSTED = ["EncryptedCookieStorage", "RedisStorage", "MemcachedStorage", "custom"]
UNTRUSTED = ["SimpleCookieStorage", "SimpleCookieStorage-subclass"]
ALL = TRUSTED + UNTRUSTED


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> Backend:
    """The storage named by the parameter; Redis and memcached are real servers."""
    name = request.param
    if name == "RedisStorage":
        return Redis(request.getfixturevalue("redis_port"))
    if name == "MemcachedStorage":
        return Memcached(request.getfixturevalue("memcached_port"))
    kinds: dict[str, Callable[[], Backend]] = {
        "EncryptedCookieStorage": EncryptedCookies,
        "custom": CustomServerSide,
        "SimpleCookieStorage": SimpleCookies,
        "SimpleCookieStorage-subclass": SimpleCookieSubclass,
    }
    return kinds[name]()


@pytest.fixture
async def storage(backend: Backend) -> AsyncIterator[AbstractStorage]:
    state = await backend.begin()
    yield backend.storage(state)
    await backend.end(state)


def trusted(backend: Backend) -> bool:
    return backend.name in TRUSTED


# -- the app ------------------------------------------------------------------

READS = web.AppKey("reads", list)


def set_by_functions(request: web.Request) -> None:
    fb.flash(request, LINK, "success")
    fb.flash(request, PLAIN, "error")
    fb.flashbag_set(request, "note", NOTE)
    fb.flashbag_set(request, "raw", PLAIN)


def set_by_methods(request: web.Request) -> None:
    bag = fb.get_flashbag(request)
    bag.flash(LINK, "success")
    bag.flash(PLAIN, "error")
    bag.set("note", NOTE)
    bag.set("raw", PLAIN)


def set_by_replace_all(request: web.Request) -> None:
    fb.flashbag_replace_all(request, {"note": NOTE, "raw": PLAIN})
    fb.flash(request, LINK, "success")
    fb.flash(request, PLAIN, "error")


SETTERS: dict[str, Callable[[web.Request], None]] = {
    "functions": set_by_functions,
    "methods": set_by_methods,
    "replace_all": set_by_replace_all,
}


def reads_of(request: web.Request) -> dict[str, Any]:
    """Every way a handler reads flashes, through the functions and the bag."""
    bag = fb.get_flashbag(request)
    return {
        "functions": {
            "messages": fb.get_flashed_messages(request, with_categories=True),
            "bare": fb.get_flashed_messages(request),
            "filtered": fb.get_flashed_messages(request, category_filter="success"),
            "note": fb.flashbag_get(request, "note"),
            "raw": fb.flashbag_get(request, "raw"),
        },
        "methods": {
            "messages": bag.get_flashed_messages(with_categories=True),
            "bare": bag.get_flashed_messages(),
            "filtered": bag.get_flashed_messages(category_filter=["success"]),
            "note": bag.get("note"),
            "raw": bag.get("raw"),
        },
        "incoming": {
            "messages": bag.incoming.messages,
            "bare": [m.message for m in bag.incoming.messages],
            "filtered": [m.message for m in bag.incoming.messages[:1]],
            "note": bag.incoming.values.get("note"),
            "raw": bag.incoming.values.get("raw"),
        },
    }


def check_reads(reads: dict[str, Any], *, safe: bool) -> None:
    """Exact text everywhere; ``Markup`` for the marked ones when ``safe``."""
    kind = Markup if safe else str
    for way, got in reads.items():
        assert got["messages"] == [("success", LINK_HTML), ("error", PLAIN)], way
        assert [type(m) for _, m in got["messages"]] == [kind, str], way
        assert [type(m) for m in got["bare"]] == [kind, str], way
        assert got["bare"] == [LINK_HTML, PLAIN], way
        assert got["filtered"] == [LINK_HTML], way
        assert type(got["filtered"][0]) is kind, way
        assert got["note"] == NOTE_HTML, way
        assert type(got["note"]) is kind, way
        assert got["raw"] == PLAIN, way
        assert type(got["raw"]) is str, way


def page_app(storage: AbstractStorage, **settings: Any) -> web.Application:
    """``/set/{how}`` flashes and redirects to ``/show``, which reads every way
    (kept in ``app[READS]``) and renders PAGE with aiohttp-jinja2.
    """

    @fb.with_flashbag
    async def set_flashes(request: web.Request) -> web.Response:
        SETTERS[request.match_info["how"]](request)
        raise web.HTTPSeeOther(request.query.get("to", "/show"))

    @fb.with_flashbag
    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/show")  # reads nothing: the flashes travel on

    @fb.with_flashbag
    async def show(request: web.Request) -> web.Response:
        request.app[READS].append(reads_of(request))
        return aiohttp_jinja2.render_template("page.html", request, {})

    @aiohttp_jinja2.template("page.html")
    @fb.with_flashbag
    async def template_outside_scope(request: web.Request) -> dict[str, Any]:
        return {}

    class View(fb.FlashbagMixin, web.View):
        @aiohttp_jinja2.template("page.html")
        async def get(self) -> dict[str, Any]:
            return {}

    app = make_app(
        [
            ("POST", "/set/{how}", set_flashes),
            ("GET", "/hop", hop),
            ("GET", "/show", show),
            ("GET", "/outside", template_outside_scope),
            ("*", "/view", View),
        ],
        storage=storage,
        **settings,
    )
    app[READS] = []
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.DictLoader({"page.html": PAGE}),
        context_processors=[fb.context_processor],
        autoescape=True,
    )
    return app


# -- round trips ----------------------------------------------------------------


@pytest.mark.parametrize("how", list(SETTERS))
@pytest.mark.parametrize("backend", ALL, indirect=True)
async def test_markup_after_a_redirect(
    aiohttp_client: Any, backend: Backend, storage: AbstractStorage, how: str
) -> None:
    """Markup on trusted storages, exact plain str under SimpleCookieStorage;
    the page renders the link, or the escaped text."""
    app = page_app(storage)
    client: Client = await aiohttp_client(app)
    resp = await client.post(f"/set/{how}")
    assert resp.status == 200
    page = await resp.text()
    (reads,) = app[READS]
    check_reads(reads, safe=trusted(backend))
    assert page == (TRUSTED_PAGE if trusted(backend) else UNTRUSTED_PAGE)
    # shown once
    assert await (await client.get("/show")).text() == rendered()


@pytest.mark.parametrize("path", ["/outside", "/view"])
@pytest.mark.parametrize(
    "backend", ["EncryptedCookieStorage", "SimpleCookieStorage"], indirect=True
)
async def test_the_template_view_in_each_scope(
    aiohttp_client: Any, backend: Backend, storage: AbstractStorage, path: str
) -> None:
    """A template rendered after its scope ended, and in a FlashbagMixin view."""
    client: Client = await aiohttp_client(page_app(storage))
    resp = await client.post(f"/set/methods?to={path}")
    assert resp.status == 200
    assert await resp.text() == (TRUSTED_PAGE if trusted(backend) else UNTRUSTED_PAGE)
    assert await (await client.get(path)).text() == rendered()


@pytest.mark.parametrize("backend", ["RedisStorage", "custom"], indirect=True)
async def test_markup_is_kept_through_a_redirect_chain_and_keep(
    aiohttp_client: Any, backend: Backend, storage: AbstractStorage
) -> None:
    """Carried (an unread redirect) and kept flashes keep their mark."""

    @fb.with_flashbag
    async def keeper(request: web.Request) -> web.Response:
        assert type(fb.flashbag_get(request, "note")) is Markup
        fb.flashbag_keep(request)
        return web.Response(text="kept")

    app = page_app(storage)
    app.router.add_get("/keep", keeper)
    client: Client = await aiohttp_client(app)
    resp = await client.post("/set/functions?to=/hop", allow_redirects=False)
    assert resp.status == 303
    assert await (await client.get("/keep")).text() == "kept"  # through /hop
    assert await (await client.get("/show")).text() == TRUSTED_PAGE
    check_reads(app[READS][-1], safe=True)


@pytest.mark.parametrize("backend", ALL, indirect=True)
async def test_messages_flashed_and_read_in_the_same_request(
    aiohttp_client: Any, backend: Backend, storage: AbstractStorage
) -> None:
    """This request's own messages never went through the client: Markup on
    every storage, SimpleCookieStorage included; plain str stays escaped."""
    outgoing: list[Any] = []

    @fb.with_flashbag
    async def now(request: web.Request) -> web.Response:
        fb.flash(request, LINK, "success")
        fb.get_flashbag(request).flash(PLAIN, "error")
        fb.flash(request, NOTE, "info", now=True)
        outgoing.append(fb.get_flashbag(request).outgoing.messages)
        return aiohttp_jinja2.render_template("page.html", request, {})

    app = page_app(storage)
    app.router.add_get("/now", now)
    client: Client = await aiohttp_client(app)
    resp = await client.get("/now")
    assert await resp.text() == rendered(
        ("success", LINK_HTML), ("error", escaped(PLAIN)), ("info", NOTE_HTML)
    )
    (messages,) = outgoing
    assert messages == [Message("success", LINK_HTML), Message("error", PLAIN)]
    assert [type(m.message) for m in messages] == [Markup, str]
    # shown, so not passed on
    assert await (await client.get("/show")).text() == rendered()


async def test_a_subclass_of_a_trusted_storage_is_trusted(aiohttp_client: Any) -> None:
    """Only SimpleCookieStorage and its subclasses drop the mark."""
    from aiohttp_session.cookie_storage import EncryptedCookieStorage

    class Encrypted(EncryptedCookieStorage):
        pass

    client: Client = await aiohttp_client(page_app(Encrypted(os.urandom(32))))
    assert await (await client.post("/set/functions")).text() == TRUSTED_PAGE


# -- forged cookies and plain text --------------------------------------------

SCRIPT = '<script>document.title = "pwned"; window.forged = 1</script>'
IMG = '<img src=x onerror="window.forged = 2">'


def forged_session(mark: Any) -> dict[str, Any]:
    """A SimpleCookieStorage session claiming safe HTML, in this library's
    stored form: ``[2, {key: [set_at, value, mark]}, [[set_at, category,
    message, mark], ...]]``.
    """
    now = int(time.time())
    entry = [
        2,
        {"note": [now, SCRIPT, mark], "raw": [now, IMG, mark]},
        [[now, "success", SCRIPT + IMG, mark], [now, "error", IMG, mark]],
    ]
    return {"created": now, "session": {fb.DEFAULT_SESSION_KEY: entry}}


FORGED_PAGE = rendered(
    ("success", escaped(SCRIPT + IMG)),
    ("error", escaped(IMG)),
    note=escaped(SCRIPT),
    raw=escaped(IMG),
)


@pytest.mark.parametrize("backend", UNTRUSTED, indirect=True)
async def test_a_forged_safe_mark_renders_escaped(
    aiohttp_client: Any, backend: Backend, storage: AbstractStorage
) -> None:
    """The forged entry is in the form this library writes, so it is read;
    its mark is ignored: plain str, escaped."""
    app = page_app(storage)
    client: Client = await aiohttp_client(app)
    client.session.cookie_jar.update_cookies({COOKIE: json.dumps(forged_session(1))})
    resp = await client.get("/show")
    assert resp.status == 200
    assert await resp.text() == FORGED_PAGE  # read, and escaped
    (reads,) = app[READS]
    for way, got in reads.items():
        assert got["messages"] == [("success", SCRIPT + IMG), ("error", IMG)], way
        values = [got["note"], got["raw"], *got["bare"]]
        assert [type(v) for v in values] == [str] * 4, way


@pytest.mark.parametrize("mark", [True, 1.0, "1", 2, [1], None])
@pytest.mark.parametrize("backend", UNTRUSTED, indirect=True)
async def test_other_forged_marks_are_never_rendered(
    aiohttp_client: Any, backend: Backend, storage: AbstractStorage, mark: Any
) -> None:
    """Whether such an entry is read or refused, no tag of it reaches the page."""
    client: Client = await aiohttp_client(page_app(storage))
    client.session.cookie_jar.update_cookies({COOKIE: json.dumps(forged_session(mark))})
    resp = await client.get("/show")
    assert resp.status == 200
    page = await resp.text()
    assert page in (FORGED_PAGE, rendered())
    assert "<script" not in page
    assert "<img" not in page


@pytest.mark.parametrize(
    "value",
    [["<script>x()</script>"], {"<script>x()</script>": 1}, 7],
    ids=["list", "dict", "int"],
)
async def test_a_mark_on_data_that_is_not_text_is_not_markup(
    aiohttp_client: Any, value: Any
) -> None:
    """Only a ``Markup``, that is text, is stored with the mark. A marked list
    or dict in the session (on a trusted storage, where the mark counts) is
    never the safe HTML of its Python repr: its reads are plain data, and the
    template escapes them."""
    storage = MemoryStorage()
    app = page_app(storage)
    client: Client = await aiohttp_client(app)
    await client.post("/set/functions", allow_redirects=False)
    (key,) = storage.data
    data = json.loads(storage.data[key])
    now = int(time.time())
    data["session"][fb.DEFAULT_SESSION_KEY] = [
        2,
        {"note": [now, value, 1]},
        [[now, "x", value, 1]],
    ]
    storage.data[key] = json.dumps(data)
    page = await (await client.get("/show")).text()
    assert "<script" not in page
    if page != rendered():  # read (not refused as data that is not ours)
        assert page == rendered(("x", escaped(str(value))), note=escaped(str(value)))
        (reads,) = app[READS]
        for way, got in reads.items():
            assert got["note"] == value, way
            assert got["bare"] == [value], way
            assert not isinstance(got["note"], Markup), way
            assert not isinstance(got["bare"][0], Markup), way


@pytest.mark.parametrize("backend", ALL, indirect=True)
async def test_a_plain_str_that_looks_like_html_is_always_escaped(
    aiohttp_client: Any, backend: Backend, storage: AbstractStorage
) -> None:
    """Through a redirect chain, lists, replace_all, keep, and in the same
    request: a str is text, on every storage."""
    html = [PLAIN, SCRIPT, IMG, LINK_HTML]

    @fb.with_flashbag
    async def set_plain(request: web.Request) -> web.Response:
        fb.flashbag_replace_all(request, {"note": SCRIPT})
        fb.flashbag_set(request, "raw", LINK_HTML)
        for text in html:
            fb.flash(request, text, "error")
            fb.flashbag_append(request, "list", text)
        raise web.HTTPSeeOther("/hop")

    @fb.with_flashbag
    async def keeper(request: web.Request) -> web.Response:
        fb.flashbag_keep(request)
        return web.Response(text="kept")

    @fb.with_flashbag
    async def show_list(request: web.Request) -> web.Response:
        fb.flash(request, SCRIPT, "now", now=True)
        return aiohttp_jinja2.render_template("page.html", request, {})

    app = page_app(storage)
    app.router.add_post("/plain", set_plain)
    app.router.add_get("/keep", keeper)
    app.router.add_get("/list", show_list)
    aiohttp_jinja2.get_env(app).loader = jinja2.DictLoader(
        {
            "page.html": PAGE + "{% for item in flashbag.get('list', []) %}"
            "<li>{{ item }}</li>{% endfor %}"
        }
    )
    client: Client = await aiohttp_client(app)
    resp = await client.post("/plain", allow_redirects=False)
    assert resp.status == 303
    assert (await client.get("/hop", allow_redirects=False)).status == 302
    assert await (await client.get("/keep")).text() == "kept"
    page = await (await client.get("/list")).text()
    expected = rendered(
        *(("error", escaped(text)) for text in html),
        ("now", escaped(SCRIPT)),
        note=escaped(SCRIPT),
        raw=escaped(LINK_HTML),
    ) + "".join(f"<li>{escaped(text)}</li>" for text in html)
    assert page == expected
    assert "<script" not in page
    assert "<a " not in page


# -- the size budget, the cookie guard, max_age, the recorder ------------------


def entry_size(backend: EncryptedCookies, client: Client) -> int:
    """Bytes of the stored flashbag entry in ``client``'s encrypted cookie."""
    cookie = next(m.value for m in client.session.cookie_jar if m.key == COOKIE)
    entry = backend.cookies.read(cookie)["session"][fb.DEFAULT_SESSION_KEY]
    return len(json.dumps(entry))


def budget_app(storage: AbstractStorage, max_bytes: int | None) -> web.Application:
    @fb.with_flashbag
    async def write(request: web.Request) -> web.Response:
        kind: Callable[[str], str] = (
            Markup if request.query["kind"] == "markup" else str
        )
        bag = fb.get_flashbag(request)
        bag.set("note", kind(NOTE_HTML))
        bag.flash(kind(LINK_HTML), "success")
        raise web.HTTPSeeOther("/show")

    @fb.with_flashbag
    async def show(request: web.Request) -> web.Response:
        note = fb.flashbag_get(request, "note")
        messages = fb.get_flashed_messages(request)
        return web.json_response(
            [type(note).__name__, *(type(m).__name__ for m in messages)]
        )

    return make_app(
        [("POST", "/write", write), ("GET", "/show", show)],
        storage=storage,
        max_bytes=max_bytes,
    )


@pytest.mark.parametrize("backend", ["EncryptedCookieStorage"], indirect=True)
async def test_markup_counts_in_the_size_budget(
    aiohttp_client: Any, backend: EncryptedCookies, storage: AbstractStorage
) -> None:
    """The stored form of a marked flash, mark included, is what max_bytes
    bounds: exactly that many bytes fit; with one less, a flash gives way at
    the commit."""
    sizes = {}
    for kind in ("markup", "str"):
        client: Client = await aiohttp_client(budget_app(storage, None))
        resp = await client.post(f"/write?kind={kind}", allow_redirects=False)
        assert resp.status == 303
        sizes[kind] = entry_size(backend, client)
    assert sizes["markup"] > sizes["str"]  # the mark is stored, and counted

    size = sizes["markup"]
    client = await aiohttp_client(budget_app(storage, size))
    resp = await client.post("/write?kind=markup")
    assert await resp.json() == ["Markup", "Markup"]

    client = await aiohttp_client(budget_app(storage, size - 1))
    resp = await client.post("/write?kind=markup")
    # one of the two gives way: within a second, the value first
    assert await resp.json() == ["NoneType", "Markup"]


@pytest.mark.parametrize("backend", ["EncryptedCookieStorage"], indirect=True)
async def test_the_cookie_guard_drops_markup_like_any_flash(
    aiohttp_client: Any, storage: AbstractStorage, caplog: pytest.LogCaptureFixture
) -> None:
    """A Markup value that would push the session cookie past 4096 bytes is
    dropped (this request's own flashes give way oldest first), the login
    kept, with a WARNING; the Markup message that fits stays Markup."""

    @fb.with_flashbag
    async def login(request: web.Request) -> web.Response:
        (await get_session(request))["user"] = "u" * 2400
        fb.get_flashbag(request).set("big", Markup("<b>" + "y" * 1200 + "</b>"))
        fb.flash(request, LINK, "success")
        raise web.HTTPSeeOther("/show")

    @fb.with_flashbag
    async def show(request: web.Request) -> web.Response:
        session = await get_session(request)
        big = fb.flashbag_get(request, "big")
        messages = fb.get_flashed_messages(request)
        return web.json_response(
            {
                "user": len(session.get("user", "")),
                "messages": [[type(m).__name__, m] for m in messages],
                "big": big,
            }
        )

    client: Client = await aiohttp_client(
        make_app(
            [("POST", "/login", login), ("GET", "/show", show)],
            storage=storage,
            max_bytes=None,
        )
    )
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.post("/login", allow_redirects=False)
    assert COOKIE in resp.cookies, "no session cookie was sent"
    cookie = resp.cookies[COOKIE]
    assert len(cookie.key) + 1 + len(cookie.coded_value) <= 4096
    assert "Dropped 1 flash(es)" in caplog.text
    assert "'big'" in caplog.text
    resp = await client.get("/show")
    assert await resp.json() == {
        "user": 2400,
        "messages": [["Markup", LINK_HTML]],
        "big": None,
    }


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """``time.time`` moved forward by ``clock[0]`` seconds."""
    offset = [0.0]
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + offset[0])
    return offset


@pytest.mark.parametrize("backend", ["EncryptedCookieStorage", "custom"], indirect=True)
async def test_markup_expires_after_max_age(
    aiohttp_client: Any, backend: Backend, storage: AbstractStorage, clock: list[float]
) -> None:
    app = page_app(storage, max_age=60)
    client: Client = await aiohttp_client(app)
    await client.post("/set/functions?to=/hop", allow_redirects=False)
    clock[0] = 30
    resp = await client.get("/hop", allow_redirects=False)  # carried
    assert resp.status == 302
    clock[0] = 58
    assert await (await client.get("/show")).text() == TRUSTED_PAGE

    await client.post("/set/methods?to=/hop", allow_redirects=False)
    clock[0] = 100
    resp = await client.get("/hop", allow_redirects=False)  # carried, not renewed
    assert resp.status == 302
    clock[0] = 58 + 62
    assert await (await client.get("/show")).text() == rendered()


@pytest.mark.parametrize("backend", ALL, indirect=True)
async def test_the_recorder_sees_markup_as_reads_do(
    aiohttp_client: Any, backend: Backend, storage: AbstractStorage
) -> None:
    """``stored`` is what the next request will read; ``shown`` what reads
    returned: Markup on trusted storages, str under SimpleCookieStorage."""
    kind = Markup if trusted(backend) else str
    client: Client = await aiohttp_client(page_app(storage))
    with record_flashes() as records:
        await client.post("/set/functions")
        await client.get("/now-missing")  # a 404 outside every scope: no record
    post, get = records
    assert (post.method, post.path, post.status) == ("POST", "/set/functions", 303)
    assert (get.method, get.path, get.status) == ("GET", "/show", 200)
    for flashes in (post.stored, get.shown):
        assert flashes.messages == [
            Message("success", LINK_HTML),
            Message("error", PLAIN),
        ]
        assert [type(m.message) for m in flashes.messages] == [kind, str]
        assert flashes.values == {"note": NOTE_HTML, "raw": PLAIN}
        assert type(flashes.values["note"]) is kind
        assert type(flashes.values["raw"]) is str
    assert get.stored == ({}, [])


async def test_the_recorder_sees_own_markup_shown_in_the_same_request(
    aiohttp_client: Any, flash_records: list[FlashRecord]
) -> None:
    @fb.with_flashbag
    async def now(request: web.Request) -> web.Response:
        fb.flash(request, LINK, "success")
        fb.flash(request, NOTE, "info")
        fb.get_flashed_messages(request, category_filter="success")
        return web.Response(text="ok")

    client: Client = await aiohttp_client(
        make_app([("GET", "/now", now)], storage=SimpleCookieStorage())
    )
    await client.get("/now")
    (record,) = flash_records
    assert record.shown.messages == [Message("success", LINK_HTML)]
    assert type(record.shown.messages[0].message) is Markup
    # stored in a cookie the client can rewrite: read back as str
    assert record.stored.messages == [Message("info", NOTE_HTML)]
    assert type(record.stored.messages[0].message) is str


# -- without markupsafe -----------------------------------------------------------

WITHOUT_MARKUPSAFE = textwrap.dedent(
    """
    import asyncio, base64, json, os, sys
    sys.modules["markupsafe"] = None  # import markupsafe now fails
    try:
        import markupsafe
    except ImportError:
        pass
    else:
        raise SystemExit("markupsafe is still importable")

    import aiohttp_flashbag as fb
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer
    from aiohttp_session import SimpleCookieStorage, setup
    from aiohttp_session.cookie_storage import EncryptedCookieStorage

    @fb.with_flashbag
    async def set_flashes(request):
        fb.flash(request, "<b>Saved</b>", "success")
        fb.flashbag_set(request, "note", "<em>note</em>")
        fb.get_flashbag(request).set("n", 3)
        raise web.HTTPSeeOther("/show")

    @fb.with_flashbag
    async def show(request):
        messages = fb.get_flashed_messages(request, with_categories=True)
        values = [fb.flashbag_get(request, k) for k in ("note", "n", "marked")]
        return web.json_response({
            "messages": messages,
            "values": values,
            "types": [type(v).__name__ for v in values[:1] + values[2:]]
            + [type(m).__name__ for _, m in messages],
        })

    async def marked(request):  # outside every scope, so nothing overwrites it
        # what a process with markupsafe stored: entries with the safe mark
        now = int(__import__("time").time())
        session = await __import__("aiohttp_session").get_session(request)
        session[fb.DEFAULT_SESSION_KEY] = [
            2, {"marked": [now, "<i>m</i>", 1]}, [[now, "info", "<u>i</u>", 1]]
        ]
        raise web.HTTPSeeOther("/show")

    async def run(storage):
        app = web.Application()
        setup(app, storage)
        app.router.add_post("/set", set_flashes)
        app.router.add_get("/show", show)
        app.router.add_post("/marked", marked)
        async with TestClient(TestServer(app)) as client:
            first = await (await client.post("/set")).json()
            again = await (await client.get("/show")).json()
            resp = await client.post("/marked")
            assert resp.status == 200, resp.status
            return [first, again, await resp.json()]

    key = base64.urlsafe_b64encode(os.urandom(32))
    results = {
        "simple": asyncio.run(run(SimpleCookieStorage())),
        "encrypted": asyncio.run(
            run(EncryptedCookieStorage(base64.urlsafe_b64decode(key)))
        ),
        "markupsafe": repr(sys.modules.get("markupsafe")),
    }
    print(json.dumps(results))
    """
)


def test_without_markupsafe_nothing_changes() -> None:
    """The library imports and plain flashes work with ``import markupsafe``
    failing; a stored safe mark reads as a plain str."""
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_MARKUPSAFE],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    results = json.loads(result.stdout)
    expected = [
        {
            "messages": [["success", "<b>Saved</b>"]],
            "values": ["<em>note</em>", 3, None],
            "types": ["str", "NoneType", "str"],
        },
        {"messages": [], "values": [None, None, None], "types": ["NoneType"] * 2},
        {
            "messages": [["info", "<u>i</u>"]],
            "values": [None, None, "<i>m</i>"],
            "types": ["NoneType", "str", "str"],
        },
    ]
    assert results["simple"] == expected
    assert results["encrypted"] == expected
    assert results["markupsafe"] == "None"  # still blocked: nothing got around it


# == Safe HTML, checked from the outside ===============================================
#
# Rules checked from the outside, the way a careless user (or an attacker with a
# cookie) meets them; each test is named after the rule it checks.


# -- Markup ---------------------------------------------------------------------------


async def test_markup_survives_redirect_unless_simple_cookie(
    aiohttp_client: Any,
) -> None:
    from markupsafe import Markup

    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, Markup('Saved. <a href="/undo">Undo</a>'))
        fb.flashbag_set(request, "a", Markup("<b>x</b>"))
        raise web.HTTPFound("/read")

    async def read(request: web.Request) -> web.Response:
        [message] = fb.get_flashed_messages(request)
        value = fb.flashbag_get(request, "a")
        return web.json_response(
            {"m": type(message).__name__, "v": type(value).__name__}
        )

    fernet = make_app(
        [("GET", "/", set_it), ("GET", "/read", read)],
        middleware=True,
        storage=FernetCookies().storage,
    )
    client = await aiohttp_client(fernet)
    assert await (await client.get("/")).json() == {"m": "Markup", "v": "Markup"}
    simple = make_app([("GET", "/", set_it), ("GET", "/read", read)], middleware=True)
    client = await aiohttp_client(simple)
    assert await (await client.get("/")).json() == {"m": "str", "v": "str"}
