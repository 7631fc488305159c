"""Probes of docs/lifecycle.rst, docs/api.rst and docs/translations.rst from
the outside: what a tester who reads only the docs would try, as an attacker
and as a careless user. Each test names the rule it holds the library to.
"""

from __future__ import annotations

import asyncio
import enum
import importlib.util
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage
from aiohttp_session import setup as setup_session
from markupsafe import Markup

import aiohttp_flashbag as fb
from aiohttp_flashbag.testing import record_flashes

COOKIE = "AIOHTTP_SESSION"
MARKER = "__aiohttp_flashbag__"


def cookie_of(client: Any) -> str | None:
    found = [m for m in client.session.cookie_jar if m.key == COOKIE]
    return str(found[0].value) if found else None


def plant(client: Any, session: Mapping[str, Any]) -> None:
    """A SimpleCookieStorage session in the client's jar, as a browser (or an
    attacker) sends it.
    """
    value = json.dumps({"created": int(time.time()), "session": dict(session)})
    client.session.cookie_jar.update_cookies(
        {COOKIE: value}, response_url=client.make_url("/")
    )


def app_with(
    routes: dict[str, Callable[..., Any]],
    *,
    storage: Any = None,
    middleware: bool = False,
    **settings: Any,
) -> web.Application:
    app = web.Application()
    setup_session(app, storage if storage is not None else SimpleCookieStorage())
    if middleware:
        app.middlewares.append(fb.flashbag_middleware)
    if settings:
        fb.setup(app, **settings)
    for path, handler in routes.items():
        app.router.add_route("*", path, handler)
    return app


@fb.with_flashbag
async def show(request: web.Request) -> web.Response:
    """Shows everything incoming (a page: it consumes what it shows)."""
    bag = fb.get_flashbag(request)
    values = {key: bag.get(key) for key in bag.incoming.values}
    return web.json_response(
        {
            "values": values,
            "messages": [
                list(m) for m in bag.get_flashed_messages(with_categories=True)
            ],
        }
    )


async def shown(client: Any) -> Any:
    resp = await client.get("/show")
    assert resp.status == 200, await resp.text()
    return await resp.json()


def redirect_to_show() -> web.StreamResponse:
    raise web.HTTPSeeOther("/show")


@fb.with_flashbag
async def seed(request: web.Request) -> web.StreamResponse:
    """Stores a message and a value for the next request."""
    fb.flash(request, "m")
    fb.flashbag_set(request, "k", 1)
    return redirect_to_show()


SEEDED = {"values": {"k": 1}, "messages": [["message", "m"]]}
NOTHING: dict[str, Any] = {"values": {}, "messages": []}


# -- translations -------------------------------------------------------------------


async def test_translations_lazy_id_formats_indexed_fields(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """docs/translations.rst: without ``translate``, the id is formatted with
    its parameters as :meth:`str.format` does, which indexes parameters that
    are objects or arrays (``{user[name]}``, ``{items[0]}``).
    """

    @fb.with_flashbag
    async def save(request: web.Request) -> web.StreamResponse:
        fb.flash(
            request,
            fb.lazy(
                "{user[name]} saved {items[0]} and {items[1][title]!r}",
                user={"name": "Ann"},
                items=["a page", {"title": "a note"}],
            ),
        )
        return redirect_to_show()

    client = await aiohttp_client(app_with({"/save": save, "/show": show}))
    await client.post("/save", allow_redirects=False)
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        assert (await shown(client))["messages"] == [
            ["message", "Ann saved a page and 'a note'"]
        ]
    assert not caplog.records


@pytest.mark.parametrize(
    "message_id",
    [
        "{user.__class__}",  # attributes stay out of reach
        "{user[missing]}",
        "{items[5]}",
        "{items[x]}",
        "{user[name][0][1]}",
        "{items[0][0][0][]}",
        "{user[name]x}",
        "{user[name]:>9999}",
        "{items[0]]}",
    ],
)
async def test_translations_lazy_bad_index_shows_the_id(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, message_id: str
) -> None:
    """docs/translations.rst: a field the parameters cannot fill shows the id
    as written with a WARNING naming it; never an error page.
    """

    @fb.with_flashbag
    async def save(request: web.Request) -> web.StreamResponse:
        fb.flash(request, fb.lazy(message_id, user={"name": "A"}, items=["x"]))
        return redirect_to_show()

    client = await aiohttp_client(app_with({"/save": save, "/show": show}))
    await client.post("/save", allow_redirects=False)
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        assert (await shown(client))["messages"] == [["message", message_id]]
    assert message_id in caplog.text


# -- hostile input: a forged SimpleCookieStorage cookie --------------------------------


def forged(client: Any, entry: str) -> None:
    """Put the session entry ``entry`` (raw JSON text, as an attacker writes
    it: Python's JSON reader takes ``NaN`` and ``Infinity``) in the jar.
    """
    created = json.dumps({"created": int(time.time()), "session": {}})
    raw = created.replace("{}", '{"aiohttp_flashbag": ' + entry + "}")
    client.session.cookie_jar.update_cookies(
        {COOKIE: raw}, response_url=client.make_url("/")
    )


@pytest.mark.parametrize(
    "stamp", ["NaN", "Infinity", "-Infinity", "1e308", "1" + "0" * 400, "-5", "true"]
)
async def test_bad_input_forged_times_are_never_a_500(
    aiohttp_client: Any, stamp: str
) -> None:
    """docs/lifecycle.rst, "Bad input and faults": a stored bag that is not
    what this library writes (times that are not times) is never a 500; a
    time in the future counts as now.
    """
    client = await aiohttp_client(app_with({"/show": show}))
    forged(
        client,
        '{"MARKER": [2, {"k": [T, "v"]}, [[T, "error", "m"]]]}'.replace(
            "MARKER", MARKER
        ).replace("T", stamp),
    )
    for _ in range(2):
        resp = await client.get("/show")
        assert resp.status == 200, await resp.text()
    assert (await shown(client)) == NOTHING


@pytest.mark.parametrize(
    "value", ["NaN", "Infinity", "-Infinity", "[1, NaN]", '{"a": [Infinity]}']
)
async def test_bad_input_forged_non_finite_numbers_are_dropped_others_read(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    """docs/lifecycle.rst, "Bad input and faults": a stored flash holding what
    a write refuses (``nan`` and infinities, which JSON cannot hold) is
    dropped with a WARNING; the others are read; never a 500. In this
    library's form, in 0.0.3's, and in a lazy message's parameters.
    """
    now = int(time.time())
    client = await aiohttp_client(app_with({"/show": show}))
    forged(
        client,
        (
            '{"MARKER": [2, {"bad": [NOW, BAD], "ok": [NOW, 1]}, [[NOW, "error", '
            'BAD], [NOW, "error", "n {x}", {"lazy": {"x": BAD}}], [NOW, "info", '
            '"fine"]]]}'
        )
        .replace("MARKER", MARKER)
        .replace("NOW", str(now))
        .replace("BAD", value),
    )
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        assert await shown(client) == {
            "values": {"ok": 1},
            "messages": [["info", "fine"]],
        }
    assert "Dropped 3 stored flash(es)" in caplog.text
    forged(client, '{"bad": BAD, "ok": 1}'.replace("BAD", value))  # 0.0.3's form
    assert await shown(client) == {"values": {"ok": 1}, "messages": []}


# -- writes ----------------------------------------------------------------------------


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

    client = await aiohttp_client(app_with({"/": handler}, min_level="info"))
    for method in ("GET", "POST", "HEAD"):
        resp = await client.request(method, "/", allow_redirects=False)
        assert resp.status == 200
        assert "Set-Cookie" not in resp.headers, (method, resp.headers)


@pytest.mark.parametrize("status", [204, 205])
async def test_lifecycle_no_content_responses_consume(
    aiohttp_client: Any, status: int
) -> None:
    """docs/lifecycle.rst, "The table": any other response (2xx) keeps only
    kept values, with outgoing over them, a response without a body too.
    """

    @fb.with_flashbag
    async def handler(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "own", 2)
        return web.Response(status=status)

    client = await aiohttp_client(
        app_with({"/seed": seed, "/page": handler, "/show": show})
    )
    await client.post("/seed", allow_redirects=False)
    assert (await client.get("/page")).status == status
    assert await shown(client) == {"values": {"own": 2}, "messages": []}


# -- sub-applications --------------------------------------------------------------


async def test_scopes_parent_and_sub_app_setup_commit_a_streamed_page_once(
    aiohttp_client: Any,
) -> None:
    """docs/lifecycle.rst, "A streamed response": where both the app and its
    sub-app called ``setup()`` (each hooks its prepare signal), a streamed
    page of the sub-app commits once, is recorded once, and stores what it
    set before ``prepare()``.
    """

    @fb.with_flashbag
    async def stream(request: web.Request) -> web.StreamResponse:
        fb.flash(request, "shown")
        fb.get_flashed_messages(request)
        fb.flash(request, "stored")
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(b"streamed")
        return resp

    sub = web.Application()
    sub.router.add_get("/stream", stream)
    fb.setup(sub, max_bytes=3000)
    app = app_with({"/show": show}, max_bytes=2000)
    app.add_subapp("/sub", sub)
    client = await aiohttp_client(app)
    with record_flashes() as records:
        resp = await client.get("/sub/stream")
        assert await resp.read() == b"streamed"
    assert [(r.path, r.stored.messages) for r in records] == [
        ("/sub/stream", [("message", "stored")])
    ]
    assert resp.headers["Cache-Control"] == "no-store"
    assert len(resp.headers.getall("Set-Cookie")) == 1
    assert (await shown(client))["messages"] == [["message", "stored"]]


# -- the Redis store ----------------------------------------------------------------


@pytest.fixture
async def flash_redis(redis_port: int) -> AsyncIterator[Any]:
    """A Redis database for the flash store, empty."""
    from redis import asyncio as aioredis

    client = aioredis.Redis(host="127.0.0.1", port=redis_port, db=11)
    await client.flushdb()
    yield client
    await client.aclose()


def sealed() -> Any:
    from aiohttp_session.cookie_storage import EncryptedCookieStorage

    return EncryptedCookieStorage(os.urandom(32))


def redis_store(client: Any, **options: Any) -> Any:
    from aiohttp_flashbag.stores import RedisFlashStore

    return RedisFlashStore(client, **options)


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

    app = app_with(
        {"/seed": seed, "/page": page, "/show": show},
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

    app = app_with(
        {"/seed": seed, "/failing": failing, "/show": show},
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
    assert await shown(client) == NOTHING


async def test_redis_store_reads_0_0_3_values_as_incoming(
    aiohttp_client: Any, flash_redis: Any
) -> None:
    """docs/lifecycle.rst, "Bad input and faults": data stored by
    aiohttp-flashbag 0.0.3 (an object of key to value) is read as incoming
    values; docs/concurrency.rst: everything in the lifecycle holds with the
    Redis store. An upgrade from 0.0.3 straight to the Redis store.
    """
    app = app_with({"/show": show}, store=redis_store(flash_redis))
    client = await aiohttp_client(app)
    plant(client, {"aiohttp_flashbag": {"notice": "from 0.0.3"}})
    assert await shown(client) == {"values": {"notice": "from 0.0.3"}, "messages": []}


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

    app = app_with({"/carry": carry, "/show": show}, store=redis_store(flash_redis))
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
    assert await shown(client) == NOTHING


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

    app = app_with({"/carry": carry, "/kinds": kinds}, store=redis_store(flash_redis))
    client = await aiohttp_client(app)
    forged = [int(time.time()), "message", "<script>x()</script>", 1]
    plant(client, {"aiohttp_flashbag": {"__aiohttp_flashbag__": [2, {}, [forged]]}})
    assert (await client.post("/carry", allow_redirects=False)).status == 303
    assert await (await client.get("/kinds")).json() == [False]


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

    app = app_with({"/out": log_out, "/show": show}, store=redis_store(flash_redis))
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

    app = app_with(
        {
            "/seed": seed,
            "/ws": fb.with_flashbag(socket) if door == "decorator" else socket,
            "/show": show,
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


# -- a rolling deploy with the Redis store -------------------------------------------


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

    new = app_with(
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


def sub_app_on_redis(flash_redis: Any) -> web.Application:
    """A sub-app whose own ``setup()`` keeps flashes in Redis."""

    @fb.with_flashbag
    async def api_seed(request: web.Request) -> web.StreamResponse:
        fb.flash(request, "from the api")
        raise web.HTTPSeeOther("/api/show")

    api = web.Application()
    api.router.add_post("/seed", api_seed)
    api.router.add_get("/show", show)
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
    app = app_with({"/seed": seed, "/show": show}, storage=sealed())
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


# -- sizes ---------------------------------------------------------------------------


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
        app_with({"/save": save, "/show": show}, max_bytes=500)
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


# -- a session the storage cannot load ------------------------------------------------


@pytest.mark.parametrize(
    "cookie",
    [
        "k" * 300,  # a sealed cookie of a storage used before, say
        "with\u00a0space",
    ],
)
async def test_faults_memcached_cookie_no_record_key_can_be_is_a_fresh_session(
    aiohttp_client: Any,
    memcached_port: int,
    caplog: pytest.LogCaptureFixture,
    cookie: str,
) -> None:
    """docs/lifecycle.rst, "Bad input and faults": a session the storage
    cannot load because its data is bad (a tampered cookie) is a fresh
    session, logged at WARNING, never a 500. MemcachedStorage makes the
    record's key of the cookie, and memcached takes no key over 250 bytes
    or with white space: such a cookie is bad data.
    """
    import aiomcache
    from aiohttp_session.memcached_storage import MemcachedStorage

    memcached = aiomcache.Client("127.0.0.1", memcached_port)

    @fb.with_flashbag
    async def save(request: web.Request) -> web.StreamResponse:
        fb.flash(request, "saved")
        return redirect_to_show()

    storage = MemcachedStorage(memcached, max_age=60)
    client = await aiohttp_client(
        app_with({"/save": save, "/show": show}, storage=storage)
    )
    client.session.cookie_jar.update_cookies(
        {COOKIE: cookie}, response_url=client.make_url("/")
    )
    try:
        with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
            resp = await client.post("/save", allow_redirects=False)
            assert resp.status == 303, await resp.text()
        assert "Cannot load the session" in caplog.text
        assert (await shown(client))["messages"] == [["message", "saved"]]
    finally:
        await memcached.close()


# -- htmx ---------------------------------------------------------------------------

A_FILE = __file__


@pytest.mark.parametrize("kind", ["prepared stream", "file", "raised 404", "json"])
async def test_htmx_delivers_on_every_kind_of_page(
    aiohttp_client: Any, kind: str
) -> None:
    """docs/htmx.rst: a scoped response to an htmx request that is not a
    redirect delivers the unseen messages (incoming, then this request's
    own) in ``HX-Trigger``, whatever its class: a stream the handler
    prepared (with ``setup()``, the commit runs as it is prepared), a file,
    a raised error page. They count as shown: the page is not cached, and
    nothing is left for the next page.
    """

    @fb.with_flashbag
    async def page(request: web.Request) -> web.StreamResponse:
        fb.info(request, "own", extra_tags="fresh")
        if kind == "prepared stream":
            resp = web.StreamResponse(headers={"HX-Trigger": "refresh"})
            await resp.prepare(request)
            await resp.write(b"fragment")
            return resp
        if kind == "file":
            return web.FileResponse(A_FILE)
        if kind == "raised 404":
            raise web.HTTPNotFound(headers={"HX-Trigger": "refresh"})
        return web.json_response({}, headers={"HX-Trigger": "refresh"})

    app = app_with({"/seed": seed, "/page": page, "/show": show}, htmx_event="flashes")
    client = await aiohttp_client(app)
    await client.post("/seed", allow_redirects=False)
    resp = await client.get("/page", headers={"HX-Request": "true"})
    await resp.read()
    trigger = json.loads(resp.headers["HX-Trigger"])
    assert trigger["flashes"] == [
        {"category": "message", "message": "m", "level": 20, "tags": "message"},
        {"category": "info", "message": "own", "level": 20, "tags": "fresh info"},
    ]
    assert ("refresh" in trigger) == (kind != "file")
    assert resp.headers["Cache-Control"] == "no-store"
    assert await shown(client) == NOTHING


# -- values: text that is a str ----------------------------------------------------


class Status(str, enum.Enum):
    """A text enumeration, as Django's ``TextChoices`` and many apps write one."""

    ACTIVE = "active"
    ERROR = "error"


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
        app_with({"/save": save, "/show": show, "/levels": levels})
    )
    await client.post("/save", allow_redirects=False)
    assert await shown(client) == {
        "values": {"active": "active", "nested": {"error": ["active"]}},
        "messages": [["error", "active"]],
    }
    await client.post("/save", allow_redirects=False)
    assert await (await client.get("/levels")).json() == [["error", "active", 40]]


async def test_values_str_enum_keys_read_keep_and_append_as_their_text(
    aiohttp_client: Any,
) -> None:
    """docs/api.rst: a key is text; a ``str`` enumeration's member names the
    value its text names, for every call that takes a key (``key in bag``,
    ``flashbag_get``, ``flashbag_keep``, ``flashbag_append``).
    """

    @fb.with_flashbag
    async def save(request: web.Request) -> web.StreamResponse:
        fb.flashbag_append(request, Status.ERROR, 1)
        fb.flashbag_append(request, "error", 2)
        fb.flashbag_append(request, Status.ERROR, 3)
        fb.flashbag_set(request, "active", "set")
        return redirect_to_show()

    @fb.with_flashbag
    async def read(request: web.Request) -> web.StreamResponse:
        bag = fb.get_flashbag(request)
        fb.flashbag_keep(request, Status.ACTIVE)
        seen = [
            Status.ERROR in bag,
            fb.flashbag_get(request, Status.ERROR),
            bag.get(Status.ACTIVE),
        ]
        return web.json_response(seen)

    client = await aiohttp_client(
        app_with({"/save": save, "/read": read, "/show": show})
    )
    await client.post("/save", allow_redirects=False)
    assert await (await client.get("/read")).json() == [True, [1, 2, 3], "set"]
    assert await shown(client) == {"values": {"active": "set"}, "messages": []}


# -- NaClCookieStorage ----------------------------------------------------------------


def nacl_storage() -> Any:
    import nacl.secret
    import nacl.utils
    from aiohttp_session.nacl_storage import NaClCookieStorage

    return NaClCookieStorage(nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE))


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
    app = app_with({"/save": save, "/show": show}, storage=nacl_storage(), **settings)
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


async def test_faults_tampered_nacl_cookie_is_a_fresh_session_and_markup_trusted(
    aiohttp_client: Any,
) -> None:
    """docs/lifecycle.rst, "Bad input and faults": a tampered sealed cookie
    is a fresh session, never a 500; docs/safe-html.rst: a sealed cookie
    cannot be forged, so ``Markup`` comes back as ``Markup``.
    """

    @fb.with_flashbag
    async def save(request: web.Request) -> web.StreamResponse:
        fb.flash(request, Markup("<b>Saved</b>"))
        return redirect_to_show()

    @fb.with_flashbag
    async def read(request: web.Request) -> web.Response:
        return web.json_response(
            [[type(m).__name__, m] for m in fb.get_flashed_messages(request)]
        )

    app = app_with({"/save": save, "/read": read}, storage=nacl_storage())
    client = await aiohttp_client(app)
    for tampered in ["garbage", "AAAA", "!!!!", "a" * 100]:
        client.session.cookie_jar.update_cookies(
            {COOKIE: tampered}, response_url=client.make_url("/")
        )
        resp = await client.get("/read")
        assert resp.status == 200, (tampered, await resp.text())
    await client.post("/save", allow_redirects=False)
    assert await (await client.get("/read")).json() == [["Markup", "<b>Saved</b>"]]
