"""docs/lifecycle.rst, "A streamed response": the handler calls ``prepare()``.

Where the app called ``setup()``, the scope commits when the response is
prepared, as if the request had ended there with that status: flashes set and
read before ``prepare()`` count, the stored bag goes out in that response's
``Set-Cookie``, and a page that showed a flash gets its ``Cache-Control``.
Changes after ``prepare()`` are not stored (a WARNING, once per handler);
reads after it return what they would have returned. Without ``setup()``
nothing can be stored: the flashes stay as they were and, if the request
used flashes, a WARNING (once per handler) says to call ``setup(app)``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from typing import Any

import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage, get_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from redis import asyncio as aioredis

import aiohttp_flashbag as fb
from aiohttp_flashbag.stores import RedisFlashStore
from aiohttp_flashbag.testing import Message, record_flashes

from ..conftest import Client, make_app
from ..stores import test_redis_store
from ..support.edges import echo, set_and_redirect
from ..support.pages import routes_app, seed_flash, show_incoming, show_messages, shown
from ..support.sessions import SCOPES, build_app, flash_warnings, sent_cookies, show

# The fixture of tests/stores/test_redis_store.py: the app's connection to the
# store's database.
app_redis = test_redis_store.app_redis


# == A streamed response ===============================================================
#
# The handler prepares its response itself (docs/lifecycle.rst, "A
# streamed response"), with and without ``setup()``.


async def flash_after_prepare(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse()
    await resp.prepare(request)
    fb.flash(request, "too late", "error")
    await resp.write(b"streamed")
    return resp


async def flash_before_prepare(request: web.Request) -> web.StreamResponse:
    fb.flashbag_set(request, "draft", {"text": "kept"})
    fb.flash(request, "Exported", "success")
    resp = web.StreamResponse()
    await resp.prepare(request)
    await resp.write(b"streamed")
    return resp


async def read_then_stream(request: web.Request) -> web.StreamResponse:
    shown = fb.get_flashed_messages(request)
    resp = web.StreamResponse(headers={"Cache-Control": "public, max-age=3600"})
    await resp.prepare(request)
    await resp.write(repr(shown).encode())
    later = fb.get_flashed_messages(request)  # the same, marks nothing
    await resp.write(b"|" + repr(later).encode())
    return resp


async def stream_then_read(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse()
    await resp.prepare(request)
    await resp.write(repr(fb.get_flashed_messages(request)).encode())
    return resp


async def prime(request: web.Request) -> web.Response:
    fb.flash(request, "waiting")
    raise web.HTTPSeeOther("/show")


ROUTES = {
    "/after": flash_after_prepare,
    "/before": flash_before_prepare,
    "/read-first": read_then_stream,
    "/read-later": stream_then_read,
    "/prime": prime,
    "/show": show,
}


def prepare_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [w for w in flash_warnings(caplog) if "prepare" in w]


def app(kind: str, *, with_setup: bool) -> web.Application:
    return build_app(
        SimpleCookieStorage(), ROUTES, kind=kind, settings={} if with_setup else None
    )


@pytest.mark.parametrize("kind", SCOPES)
async def test_flashes_set_before_prepare_go_out_in_its_cookie(
    aiohttp_client: Any, kind: str
) -> None:
    client: Client = await aiohttp_client(app(kind, with_setup=True))
    with record_flashes() as records:
        resp = await client.get("/before")
        assert await resp.text() == "streamed"
    assert sent_cookies(resp), "the stored bag is in the streamed response's cookie"
    assert records[-1].stored.values == {"draft": {"text": "kept"}}
    assert await (await client.get("/show")).json() == {
        "values": {"draft": {"text": "kept"}},
        "messages": [["success", "Exported"]],
    }


@pytest.mark.parametrize("kind", SCOPES)
async def test_a_streamed_page_that_showed_a_flash_consumes_it_and_is_not_cached(
    aiohttp_client: Any, kind: str
) -> None:
    client: Client = await aiohttp_client(app(kind, with_setup=True))
    await client.get("/prime", allow_redirects=False)
    resp = await client.get("/read-first")
    assert await resp.text() == "['waiting']|['waiting']"
    assert resp.headers["Cache-Control"] == "no-store"
    assert await (await client.get("/show")).json() == {"values": {}, "messages": []}


@pytest.mark.parametrize("kind", SCOPES)
async def test_changes_after_prepare_are_not_stored_and_warn_once_per_handler(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    client: Client = await aiohttp_client(app(kind, with_setup=True))
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        for _ in range(3):
            resp = await client.get("/after")
            assert await resp.text() == "streamed"
    (warning,) = prepare_warnings(caplog)
    assert "before prepare()" in warning
    assert await (await client.get("/show")).json() == {"values": {}, "messages": []}


@pytest.mark.parametrize("kind", SCOPES)
async def test_reads_after_prepare_return_incoming_and_the_page_consumes(
    aiohttp_client: Any, kind: str
) -> None:
    client: Client = await aiohttp_client(app(kind, with_setup=True))
    await client.get("/prime", allow_redirects=False)
    with record_flashes() as records:
        resp = await client.get("/read-later")
    assert await resp.text() == "['waiting']"
    assert records[-1].shown.messages == []  # the commit was done before the read
    # a page that ended (at prepare) without showing it consumed it
    assert await (await client.get("/show")).json() == {"values": {}, "messages": []}


@pytest.mark.parametrize("kind", SCOPES)
async def test_without_setup_nothing_changes_and_a_warning_says_to_call_it(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    client: Client = await aiohttp_client(app(kind, with_setup=False))
    await client.get("/prime", allow_redirects=False)
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        for path in ("/before", "/before", "/read-later", "/read-later"):
            resp = await client.get(path)
            assert resp.status == 200
    warnings = [w for w in flash_warnings(caplog) if "setup(app)" in w]
    assert len(warnings) == 2  # once per handler
    # unchanged: the waiting flash is still there, nothing of /before stored
    assert await (await client.get("/show")).json() == {
        "values": {},
        "messages": [["message", "waiting"]],
    }


@pytest.mark.parametrize("kind", SCOPES)
async def test_a_websocket_leaves_flashes_unchanged(
    aiohttp_client: Any, kind: str
) -> None:
    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(repr(fb.get_flashed_messages(request)))
        await ws.close()
        return ws

    application = build_app(
        SimpleCookieStorage(),
        {**ROUTES, "/ws": socket},
        kind=kind,
        settings={},
    )
    client: Client = await aiohttp_client(application)
    await client.get("/prime", allow_redirects=False)
    async with client.ws_connect("/ws") as ws:
        assert await ws.receive_str() == "['waiting']"
    assert await (await client.get("/show")).json() == {
        "values": {},
        "messages": [["message", "waiting"]],
    }
    assert Message("message", "waiting") == ("message", "waiting")


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
    app = routes_app({"/show": show_incoming}, max_bytes=2000)
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
                ("GET", "/page", show_messages),
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


# == A streamed response, checked from the outside =====================================
#
# Rules checked from the outside, the way a careless user (or an attacker with a
# cookie) meets them; each test is named after the rule it checks.


# -- a streamed response ------------------------------------------------------------


async def test_streamed_with_setup_commits_at_prepare(aiohttp_client: Any) -> None:
    async def stream(request: web.Request) -> web.StreamResponse:
        shown = fb.get_flashed_messages(request)
        fb.flash(request, "for next")
        response = web.StreamResponse()
        response.headers["Cache-Control"] = "public"
        await response.prepare(request)
        await response.write(json.dumps(shown).encode())
        return response

    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, "incoming")
        raise web.HTTPFound("/stream")

    app = make_app(
        [("GET", "/", set_it), ("GET", "/stream", stream), ("GET", "/page", echo)],
        middleware=True,
        max_age=600,
    )
    client = await aiohttp_client(app)
    with record_flashes(app) as records:
        resp = await client.get("/")
        assert json.loads(await resp.text()) == ["incoming"]
    assert resp.headers["Cache-Control"] == "no-store"
    assert records[-1].status == 200
    assert records[-1].stored.messages == [("message", "for next")]
    body = await (await client.get("/page")).json()
    assert body["messages"] == ["for next"]


async def test_streamed_without_setup_unchanged_and_warns_once(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def stream(request: web.Request) -> web.StreamResponse:
        fb.get_flashed_messages(request)
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"x")
        return response

    app = make_app(
        [
            ("GET", "/", set_and_redirect),
            ("GET", "/stream", stream),
            ("GET", "/page", echo),
        ],
        middleware=True,
    )
    client = await aiohttp_client(app)
    await client.get("/", allow_redirects=False)
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        await (await client.get("/stream")).read()
        await (await client.get("/stream")).read()
    warnings = [r.getMessage() for r in caplog.records if "setup" in r.getMessage()]
    assert len(warnings) == 1, warnings
    body = await (await client.get("/page")).json()
    assert body["messages"] == ["hello"]


async def test_streamed_with_setup_late_write_warns_and_is_not_stored(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        fb.flash(request, "too late")
        seen = fb.get_flashed_messages(request)
        await response.write(json.dumps(seen).encode())
        return response

    app = make_app(
        [
            ("GET", "/", set_and_redirect),
            ("GET", "/stream", stream),
            ("GET", "/page", echo),
        ],
        middleware=True,
        max_age=600,
    )
    client = await aiohttp_client(app)
    await client.get("/", allow_redirects=False)
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        resp = await client.get("/stream")
        seen = json.loads(await resp.text())
    assert seen == ["hello", "too late"]
    assert any("prepare" in r.getMessage() for r in caplog.records)
    body = await (await client.get("/page")).json()
    assert body["messages"] == []


async def test_streamed_file_response_without_setup_stores_flash(
    aiohttp_client: Any, tmp_path: Any
) -> None:
    path = tmp_path / "file.txt"
    path.write_text("content")

    async def download(request: web.Request) -> web.StreamResponse:
        fb.flash(request, "downloaded")
        return web.FileResponse(path)

    app = make_app(
        [
            ("GET", "/", set_and_redirect),
            ("GET", "/dl", download),
            ("GET", "/page", echo),
        ],
        middleware=True,
    )
    client = await aiohttp_client(app)
    await client.get("/", allow_redirects=False)
    resp = await client.get("/dl")
    assert await resp.text() == "content"
    body = await (await client.get("/page")).json()
    # "hello" was consumed by the download page; "downloaded" waits
    assert body["messages"] == ["downloaded"]


async def test_streamed_warning_for_partial_handler_is_not_a_crash(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import functools

    async def stream(request: web.Request, *, body: bytes) -> web.StreamResponse:
        fb.flash(request, "set before a stream, without setup()")
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(body)
        return response

    app = make_app(
        [("GET", "/", functools.partial(stream, body=b"streamed"))], middleware=True
    )
    client = await aiohttp_client(app)
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        resp = await client.get("/")
        assert await resp.read() == b"streamed"
    assert any("setup" in r.getMessage() for r in caplog.records), caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


class SlotHandler:
    """A handler object, as some routing helpers make them."""

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        fb.flash(request, "set before a stream, without setup()")
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(self.body)
        return response


async def test_streamed_warning_for_handler_object_is_not_a_crash(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        app = make_app([("GET", "/", SlotHandler(b"streamed"))], middleware=True)
    client = await aiohttp_client(app)
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        resp = await client.get("/")
        assert await resp.read() == b"streamed"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_streamed_late_write_warning_for_partial_handler_is_not_a_crash(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import functools

    async def stream(request: web.Request, *, body: bytes) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        fb.flash(request, "too late")
        await response.write(body)
        return response

    app = make_app(
        [("GET", "/", functools.partial(stream, body=b"streamed"))],
        middleware=True,
        max_age=600,
    )
    client = await aiohttp_client(app)
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        resp = await client.get("/")
        assert await resp.read() == b"streamed"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


# == A streamed response: changes after prepare() ==
#
# docs/lifecycle.rst, "A streamed response": with ``setup()``, flash changes
# after ``prepare()`` are not stored. Appending to a list set before
# ``prepare()`` is such a change: it must leave the stored bag (the session,
# and what a later scope of the same request finds) as the commit left it.


async def test_an_append_after_prepare_leaves_the_stored_list_as_committed(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    @fb.with_flashbag
    async def later(request: web.Request) -> web.Response:
        # a scope of the same request after the first one has ended: it
        # sees what the first one stored
        return web.json_response(fb.flashbag_get(request, "rows"))

    @fb.with_flashbag
    async def export(request: web.Request) -> web.StreamResponse:
        fb.flashbag_set(request, "rows", [1])
        response = web.StreamResponse()
        await response.prepare(request)
        session = await get_session(request)
        committed = json.dumps(session[fb.DEFAULT_SESSION_KEY])
        fb.flashbag_append(request, "rows", 2)  # too late: not stored
        unchanged = json.dumps(session[fb.DEFAULT_SESSION_KEY]) == committed
        seen = await later(request)
        await response.write(f"{unchanged} {seen.text}".encode())
        return response

    app = make_app([("GET", "/", export)])
    fb.setup(app)
    client: Client = await aiohttp_client(app)
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        resp = await client.get("/")
        assert await resp.text() == "True [1]"
    assert "make them before prepare()" in caplog.text


@pytest.mark.parametrize("used", [False, True], ids=["untouched", "read"])
async def test_a_write_after_the_streaming_handler_returned_is_reported(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, used: bool
) -> None:
    """docs/lifecycle.rst, "A streamed response": a write made after
    ``prepare()`` by code that runs once the handler has returned (an outer
    middleware) is not stored either, and the WARNING says so, whether or
    not the handler used flashes.
    """

    @web.middleware
    async def audit(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        if request.path == "/":
            fb.flash(request, "Exported", "success")  # too late: not stored
        return response

    @fb.with_flashbag
    async def export(request: web.Request) -> web.StreamResponse:
        if used:
            fb.get_flashed_messages(request)
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"streamed")
        return response

    app = make_app([("GET", "/", export), ("GET", "/show", show_messages)])
    app.middlewares.insert(0, audit)
    fb.setup(app)
    client: Client = await aiohttp_client(app)
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        resp = await client.get("/")
        assert await resp.read() == b"streamed"
    assert "make them before prepare()" in caplog.text
    assert await shown(client) == []
