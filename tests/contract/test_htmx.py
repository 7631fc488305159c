"""docs/htmx.rst over real HTTP: "Messages as an event" (``HX-Trigger``) and
"Redirects and reloads" (``HX-Redirect``, ``HX-Refresh``).
"""

from __future__ import annotations

import contextlib
import html
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage
from markupsafe import Markup

import aiohttp_flashbag as fb

from ..conftest import Client, make_app
from ..e2e.test_htmx_browser import HTMX_VERSION, unavailable
from ..support.pages import (
    NOTHING_SHOWN,
    routes_app,
    seed,
    seed_flash,
    show_incoming,
    show_messages,
    shown,
)
from ..support.servers import require_binary
from ..support.sessions import build_app, show
from .test_lifecycle import SCOPES, Pair, app_for, send_in, stored

# == Messages as an event ==============================================================
#
# htmx: ``setup(app, htmx_event=...)`` delivers messages in ``HX-Trigger``.


HX = {"HX-Request": "true"}
INCOMING: list[Pair] = [("info", "in 1"), ("error", "in 2")]


#: Django's levels (docs/translations.rst, "Levels"); other categories: 20
LEVELS = {"debug": 10, "info": 20, "success": 25, "warning": 30, "error": 40}


def detail(messages: list[Pair]) -> list[dict[str, Any]]:
    """The detail of each message: its category and text, its level and tags
    (docs/htmx.rst)."""
    return [
        {"category": c, "message": m, "level": LEVELS.get(c, 20), "tags": c}
        for c, m in messages
    ]


def trigger(resp: Any) -> Any:
    """The HX-Trigger header as JSON (``None`` when there is none)."""
    headers = resp.headers.getall("HX-Trigger", [])
    assert len(headers) <= 1
    return json.loads(headers[0]) if headers else None


async def own_unread(request: web.Request) -> web.Response:
    """A fragment that flashes and reads nothing."""
    fb.flash(request, "own 1", "success")
    fb.flash(request, "now 1", "warning", now=True)
    return web.Response(text="<li>fragment</li>")


@pytest.mark.parametrize("kind", SCOPES)
async def test_incoming_and_own_unread_messages_are_delivered_once(
    aiohttp_client: Any, kind: str
) -> None:
    client: Client = await aiohttp_client(
        app_for(kind, {"/frag": own_unread}, htmx_event="flash")
    )
    await send_in(client, INCOMING, {"form": {"name": ""}})
    resp = await client.get("/frag", headers=HX)
    assert resp.status == 200
    assert await resp.text() == "<li>fragment</li>"
    assert trigger(resp) == {
        "flash": detail([*INCOMING, ("success", "own 1"), ("warning", "now 1")])
    }
    # They count as shown: not passed on, and the response is not cached.
    assert stored(client) == ({}, [])
    assert resp.headers["Cache-Control"] == "no-store"
    resp = await client.get("/frag", headers=HX)
    assert trigger(resp) == {
        "flash": detail([("success", "own 1"), ("warning", "now 1")])
    }


async def test_the_event_name_is_the_setting(aiohttp_client: Any) -> None:
    client: Client = await aiohttp_client(
        app_for("decorator", {"/frag": own_unread}, htmx_event="toast:show")
    )
    resp = await client.get("/frag", headers=HX)
    assert list(trigger(resp)) == ["toast:show"]


@pytest.mark.parametrize("kind", SCOPES)
async def test_what_the_page_showed_is_not_sent_again(
    aiohttp_client: Any, kind: str
) -> None:
    async def errors_shown(request: web.Request) -> web.Response:
        fb.flash(request, "own error", "error")
        fb.flash(request, "own info", "info")
        shown = fb.get_flashed_messages(request, category_filter="error")
        return web.Response(text=", ".join(shown))

    async def all_shown(request: web.Request) -> web.Response:
        fb.flash(request, "own", "info")
        return web.json_response(fb.get_flashed_messages(request))

    client: Client = await aiohttp_client(
        app_for(kind, {"/errors": errors_shown, "/all": all_shown}, htmx_event="flash")
    )
    await send_in(client, INCOMING)
    resp = await client.get("/errors", headers=HX)
    assert await resp.text() == "in 2, own error"
    assert trigger(resp) == {"flash": detail([("info", "in 1"), ("info", "own info")])}
    assert stored(client) == ({}, [])

    await send_in(client, INCOMING)
    resp = await client.get("/all", headers=HX)
    assert await resp.json() == ["in 1", "in 2", "own"]
    assert "HX-Trigger" not in resp.headers


async def test_keyed_values_are_not_sent(aiohttp_client: Any) -> None:
    async def fragment(request: web.Request) -> web.Response:
        return web.Response(text="fragment", headers={"Cache-Control": "max-age=60"})

    client: Client = await aiohttp_client(
        app_for("decorator", {"/frag": fragment}, htmx_event="flash")
    )
    await send_in(client, [], {"form": {"name": ""}, "error": "Name is required"})
    resp = await client.get("/frag", headers=HX)
    assert "HX-Trigger" not in resp.headers
    # Nothing was shown: the handler's header stands.
    assert resp.headers["Cache-Control"] == "max-age=60"

    await send_in(client, INCOMING, {"error": "Name is required"})
    resp = await client.get("/frag", headers=HX)
    assert trigger(resp) == {"flash": detail(INCOMING)}
    # Delivered incoming messages count as shown.
    assert resp.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("handler_header", "expected"),
    [
        ('{"itemAdded": {"id": 3}}', {"itemAdded": {"id": 3}}),
        ('  {"a": 1, "b": [1, 2]}  ', {"a": 1, "b": [1, 2]}),
        ("itemAdded", {"itemAdded": None}),
        ("itemAdded, listChanged", {"itemAdded": None, "listChanged": None}),
        ("itemAdded,listChanged,", {"itemAdded": None, "listChanged": None}),
    ],
    ids=["json", "json-spaces", "one-name", "names", "names-trailing-comma"],
)
@pytest.mark.parametrize("raised", [False, True], ids=["returned", "raised"])
async def test_a_trigger_the_handler_set_is_kept_and_merged(
    aiohttp_client: Any, handler_header: str, expected: dict[str, Any], raised: bool
) -> None:
    async def fragment(request: web.Request) -> web.Response:
        fb.flash(request, "Added", "success")
        if raised:
            raise web.HTTPUnprocessableEntity(headers={"HX-Trigger": handler_header})
        return web.Response(headers={"HX-Trigger": handler_header})

    client: Client = await aiohttp_client(
        app_for("decorator", {"/frag": fragment}, htmx_event="flash")
    )
    await send_in(client, INCOMING)
    resp = await client.post("/frag", headers=HX)
    assert resp.status == (422 if raised else 200)
    assert trigger(resp) == {
        **expected,
        "flash": detail([*INCOMING, ("success", "Added")]),
    }
    assert stored(client) == ({}, [])


async def test_flash_entries_the_handler_triggered_come_first(
    aiohttp_client: Any,
) -> None:
    mine = {"category": "info", "message": "from the handler"}

    async def fragment(request: web.Request) -> web.Response:
        fb.flash(request, "Added", "success")
        return web.Response(headers={"HX-Trigger": json.dumps({"flash": [mine]})})

    client: Client = await aiohttp_client(
        app_for("decorator", {"/frag": fragment}, htmx_event="flash")
    )
    resp = await client.post("/frag", headers=HX)
    assert trigger(resp) == {"flash": [mine, *detail([("success", "Added")])]}


async def test_a_trigger_the_handler_set_is_untouched_when_nothing_is_sent(
    aiohttp_client: Any,
) -> None:
    async def fragment(request: web.Request) -> web.Response:
        return web.Response(headers={"HX-Trigger": "itemAdded, listChanged"})

    client: Client = await aiohttp_client(
        app_for("decorator", {"/frag": fragment}, htmx_event="flash")
    )
    resp = await client.post("/frag", headers=HX)
    assert resp.headers.getall("HX-Trigger") == ["itemAdded, listChanged"]


@pytest.mark.parametrize(
    "headers", [{}, {"HX-Request": "false"}, {"HX-Boosted": "true"}], ids=str
)
@pytest.mark.parametrize("kind", SCOPES)
async def test_nothing_is_added_without_hx_request(
    aiohttp_client: Any, kind: str, headers: dict[str, str]
) -> None:
    client: Client = await aiohttp_client(
        app_for(kind, {"/frag": own_unread}, htmx_event="flash")
    )
    await send_in(client, INCOMING)
    resp = await client.get("/frag", headers=headers)
    assert "HX-Trigger" not in resp.headers
    assert "Cache-Control" not in resp.headers
    # The usual page: incoming consumed unseen, the own unread one passed on.
    assert stored(client) == ({}, [("success", "own 1")])


async def test_nothing_is_added_without_the_setting(aiohttp_client: Any) -> None:
    client: Client = await aiohttp_client(app_for("decorator", {"/frag": own_unread}))
    await send_in(client, INCOMING)
    resp = await client.get("/frag", headers=HX)
    assert "HX-Trigger" not in resp.headers
    assert stored(client) == ({}, [("success", "own 1")])


@pytest.mark.parametrize("kind", SCOPES)
async def test_a_redirect_delivers_on_the_final_response(
    aiohttp_client: Any, kind: str
) -> None:
    async def add(request: web.Request) -> web.Response:
        fb.flash(request, "Added", "success")
        raise web.HTTPSeeOther("/list")

    async def listing(request: web.Request) -> web.Response:
        return web.Response(text="<ul></ul>")

    client: Client = await aiohttp_client(
        app_for(kind, {"/add": add, "/list": listing}, htmx_event="flash")
    )
    await send_in(client, INCOMING)
    resp = await client.post("/add", headers=HX, allow_redirects=False)
    assert resp.status == 303
    assert "HX-Trigger" not in resp.headers
    assert stored(client) == ({}, [*INCOMING, ("success", "Added")])
    resp = await client.get("/list", headers=HX)
    assert trigger(resp) == {"flash": detail([*INCOMING, ("success", "Added")])}
    assert stored(client) == ({}, [])

    # The same, with the client following the redirect (as the browser's XHR
    # does for htmx, sending HX-Request again).
    resp = await client.post("/add", headers=HX)
    assert resp.status == 200
    assert [r.status for r in resp.history] == [303]
    assert trigger(resp) == {"flash": detail([("success", "Added")])}


async def test_an_htmx_redirect_header_delivers_nothing(aiohttp_client: Any) -> None:
    async def add(request: web.Request) -> web.Response:
        fb.flash(request, "Added", "success")
        return web.Response(headers={"HX-Location": "/list"})

    client: Client = await aiohttp_client(
        app_for("decorator", {"/add": add, "/list": own_unread}, htmx_event="flash")
    )
    resp = await client.post("/add", headers=HX)
    assert "HX-Trigger" not in resp.headers
    resp = await client.get("/list", headers=HX)
    assert trigger(resp)["flash"][0] == detail([("success", "Added")])[0]


TRICKY: list[Pair] = [
    ("success", 'Grüße, <b>Zoë</b> & "friends" — ☃ 日本語 😀'),
    ("error", "line one\r\nSet-Cookie: evil=1\r\n\r\n<script>alert(1)</script>"),
    ("info", "</script><!-- \u2028 \u2029 \x00 \\ '"),
    ("ünïcödé-category", {"nested": ["JSON", 1, 2.5, True, None]}),
]


async def test_non_ascii_and_html_survive_as_json(aiohttp_client: Any) -> None:
    async def fragment(request: web.Request) -> web.Response:
        for category, message in TRICKY:
            fb.flash(request, message, category)
        fb.flash(request, Markup('Saved. <a href="/undo">Undo</a>'), "success")
        return web.Response(text="ok")

    client: Client = await aiohttp_client(
        app_for("decorator", {"/frag": fragment}, htmx_event="flash")
    )
    resp = await client.post("/frag", headers=HX)
    assert resp.status == 200
    raw = resp.headers["HX-Trigger"]
    assert raw.isascii()
    assert "\r" not in raw
    assert "\n" not in raw
    assert trigger(resp) == {
        "flash": detail([*TRICKY, ("success", 'Saved. <a href="/undo">Undo</a>')])
    }
    assert "evil" not in resp.cookies
    assert all("evil" not in v for v in resp.headers.getall("Set-Cookie", []))


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_client_errors_deliver(aiohttp_client: Any, status: int) -> None:
    async def fragment(request: web.Request) -> web.Response:
        fb.flash(request, "Name is required", "error")
        return web.Response(status=status)

    client: Client = await aiohttp_client(
        app_for("decorator", {"/frag": fragment}, htmx_event="flash")
    )
    resp = await client.post("/frag", headers=HX)
    assert resp.status == status
    assert trigger(resp) == {"flash": detail([("error", "Name is required")])}
    assert stored(client) == ({}, [])


@pytest.mark.parametrize("ending", ["500", "crash", "HEAD"])
async def test_endings_that_consume_nothing_deliver_nothing(
    aiohttp_client: Any, ending: str
) -> None:
    async def fragment(request: web.Request) -> web.Response:
        fb.flash(request, "own", "info")
        if ending == "crash":
            raise RuntimeError("boom")
        return web.Response(status=500 if ending == "500" else 200)

    client: Client = await aiohttp_client(
        app_for("decorator", {"/frag": fragment}, htmx_event="flash")
    )
    await send_in(client, INCOMING)
    method = "HEAD" if ending == "HEAD" else "POST"
    resp = await client.request(method, "/frag", headers=HX)
    assert "HX-Trigger" not in resp.headers
    own = [("info", "own")] if ending == "HEAD" else []
    assert stored(client) == ({}, [*INCOMING, *own])


async def test_kept_messages_are_not_delivered(aiohttp_client: Any) -> None:
    async def fragment(request: web.Request) -> web.Response:
        fb.flashbag_keep(request)
        fb.flash(request, "own", "info")
        return web.Response()

    client: Client = await aiohttp_client(
        app_for("decorator", {"/frag": fragment}, htmx_event="flash")
    )
    await send_in(client, INCOMING)
    resp = await client.post("/frag", headers=HX)
    assert trigger(resp) == {"flash": detail([("info", "own")])}
    assert stored(client) == ({}, INCOMING)


async def test_a_history_restore_request_gets_no_messages_in_hx_trigger(
    aiohttp_client: Any,
) -> None:
    # htmx loads a page missing from its history cache with HX-Request and
    # HX-History-Restore-Request, and never reads that answer's HX-Trigger:
    # messages sent there would count as shown and never be seen.
    async def page(request: web.Request) -> web.Response:
        fb.flash(request, "own", "info")
        return web.Response(text="<main>page</main>", content_type="text/html")

    client: Client = await aiohttp_client(
        app_for("decorator", {"/page": page}, htmx_event="flash", unread="keep")
    )
    await send_in(client, INCOMING)
    restore = {**HX, "HX-History-Restore-Request": "true"}
    resp = await client.get("/page", headers=restore)
    assert resp.status == 200
    assert trigger(resp) is None
    # unread, so kept for the next page (unread="keep")
    assert stored(client) == ({}, [*INCOMING, ("info", "own")])


@pytest.mark.parametrize("response", ["json_response", "StreamResponse"])
async def test_other_responses_not_yet_sent(aiohttp_client: Any, response: str) -> None:
    async def fragment(request: web.Request) -> web.StreamResponse:
        fb.flash(request, "own", "info")
        if response == "json_response":
            return web.json_response({"ok": True})
        return web.StreamResponse()

    client: Client = await aiohttp_client(
        app_for("decorator", {"/frag": fragment}, htmx_event="flash")
    )
    resp = await client.post("/frag", headers=HX)
    assert trigger(resp) == {"flash": detail([("info", "own")])}
    assert stored(client) == ({}, [])


async def test_sub_applications_inherit_and_override_the_setting(
    aiohttp_client: Any,
) -> None:
    async def add(request: web.Request) -> web.Response:
        fb.flash(request, "Added", "success")
        return web.Response()

    inheriting = web.Application()
    inheriting.router.add_post("/add", add)
    overriding = web.Application()
    overriding.router.add_post("/add", add)
    fb.setup(overriding)  # its own settings: htmx off
    app = make_app([], middleware=True, htmx_event="flash")
    app.add_subapp("/inherits", inheriting)
    app.add_subapp("/overrides", overriding)
    client: Client = await aiohttp_client(app)

    resp = await client.post("/inherits/add", headers=HX)
    assert trigger(resp) == {"flash": detail([("success", "Added")])}
    resp = await client.post("/overrides/add", headers=HX)
    assert "HX-Trigger" not in resp.headers
    assert stored(client) == ({}, [("success", "Added")])


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        ("listChanged", None),
        ('{"listChanged": {"count": 2}}', {"count": 2}),
    ],
    ids=["names", "names-and-json"],
)
async def test_several_trigger_headers_the_handler_added_are_all_kept(
    aiohttp_client: Any, second: str, expected: Any
) -> None:
    """Browsers join repeated headers with ", ": htmx fires every event named."""

    async def fragment(request: web.Request) -> web.Response:
        fb.flash(request, "Added", "success")
        response = web.Response()
        response.headers.add("HX-Trigger", "itemAdded")
        response.headers.add("HX-Trigger", second)
        return response

    client: Client = await aiohttp_client(
        app_for("decorator", {"/frag": fragment}, htmx_event="flash")
    )
    resp = await client.post("/frag", headers=HX)
    assert trigger(resp) == {
        "itemAdded": None,
        "listChanged": expected,
        "flash": detail([("success", "Added")]),
    }


@pytest.mark.parametrize("header", ["hx-redirect", "hx-location"])
async def test_htmx_redirect_headers_in_any_case(
    aiohttp_client: Any, header: str
) -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(headers={header: "/next"})

    client: Client = await aiohttp_client(
        app_for("decorator", {"/page": page}, htmx_event="flash")
    )
    await send_in(client, INCOMING)
    resp = await client.post("/page", headers={"hx-request": "true"})
    assert "HX-Trigger" not in resp.headers
    assert stored(client) == ({}, INCOMING)


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

    app = routes_app(
        {"/seed": seed, "/page": page, "/show": show_incoming}, htmx_event="flashes"
    )
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
    assert await shown(client) == NOTHING_SHOWN


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
            [("GET", "/h", handler), ("GET", "/page", show_messages)],
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
            [("GET", "/h", handler), ("GET", "/page", show_messages)],
            htmx_event="flash",
        )
    )
    resp = await client.get("/h", headers={"HX-Request": "true"})
    assert resp.status == 200
    assert resp.headers.getall("HX-Trigger") == [trigger]
    assert await (await client.get("/page")).json() == ["mine"]


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
                ("GET", "/page", show_messages),
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


# == Redirects and reloads =============================================================
#
# htmx: a response with ``HX-Refresh: true`` is a redirect for flashes.
#
# docs/lifecycle.rst, "The table" and "htmx": htmx reloads the page when a
# response carries ``HX-Refresh: true``, so the response itself is never
# shown. Like a redirect, it consumes nothing it did not show: the incoming
# flashes it did not read and its own flashes are stored for the page htmx
# loads, and none goes out in ``HX-Trigger``, with or without
# ``setup(app, htmx_event=...)``. The last test checks it in real Chromium
# with real htmx: the reloaded page shows each flash exactly once.


async def prime(request: web.Request) -> web.Response:
    fb.flash(request, "Pending", "info")
    fb.flashbag_set(request, "form", {"name": "Ann"})
    raise web.HTTPSeeOther("/elsewhere")


async def refresh(request: web.Request) -> web.Response:
    """Flashes, then asks htmx to reload the page (``X-Refresh``: the value)."""
    if request.headers.get("X-Read"):
        fb.get_flashed_messages(request)
        fb.flashbag_get(request, "form")
    fb.flash(request, "Refreshed", "success")
    headers = {"HX-Refresh": request.headers.get("X-Refresh", "true")}
    status = int(request.headers.get("X-Status", "200"))
    if status == 422:  # raised, as a form error often is
        raise web.HTTPUnprocessableEntity(headers=headers)
    return web.Response(text="", status=status, headers=headers)


def app_of(kind: str, htmx_event: str | None) -> web.Application:
    return build_app(
        SimpleCookieStorage(),
        {"/prime": prime, "/refresh": refresh, "/show": show},
        kind=kind,
        settings={"htmx_event": htmx_event},
    )


EVENTS = [None, "flash"]


@pytest.mark.parametrize("status", [200, 204, 422])
@pytest.mark.parametrize("htmx_event", EVENTS)
@pytest.mark.parametrize("kind", SCOPES)
async def test_nothing_is_consumed_and_the_own_flash_waits_for_the_reload(
    aiohttp_client: Any, kind: str, htmx_event: str | None, status: int
) -> None:
    client: Client = await aiohttp_client(app_of(kind, htmx_event))
    await client.post("/prime", allow_redirects=False)
    resp = await client.post("/refresh", headers={**HX, "X-Status": str(status)})
    assert resp.status == status
    assert resp.headers["HX-Refresh"] == "true"
    assert "HX-Trigger" not in resp.headers
    # the page htmx loads shows everything, once
    assert await (await client.get("/show")).json() == {
        "values": {"form": {"name": "Ann"}},
        "messages": [["info", "Pending"], ["success", "Refreshed"]],
    }
    assert await (await client.get("/show")).json() == {"values": {}, "messages": []}


@pytest.mark.parametrize("htmx_event", EVENTS)
@pytest.mark.parametrize("kind", SCOPES)
async def test_without_hx_request_it_is_a_redirect_all_the_same(
    aiohttp_client: Any, kind: str, htmx_event: str | None
) -> None:
    client: Client = await aiohttp_client(app_of(kind, htmx_event))
    await client.post("/prime", allow_redirects=False)
    resp = await client.post("/refresh")
    assert "HX-Trigger" not in resp.headers
    shown = await (await client.get("/show")).json()
    assert shown["messages"] == [["info", "Pending"], ["success", "Refreshed"]]


@pytest.mark.parametrize("htmx_event", EVENTS)
@pytest.mark.parametrize("kind", SCOPES)
async def test_what_it_showed_is_consumed_as_by_a_redirect(
    aiohttp_client: Any, kind: str, htmx_event: str | None
) -> None:
    client: Client = await aiohttp_client(app_of(kind, htmx_event))
    await client.post("/prime", allow_redirects=False)
    resp = await client.post("/refresh", headers={**HX, "X-Read": "1"})
    assert "HX-Trigger" not in resp.headers
    assert await (await client.get("/show")).json() == {
        "values": {},
        "messages": [["success", "Refreshed"]],
    }


@pytest.mark.parametrize("kind", SCOPES)
async def test_hx_refresh_false_is_an_ordinary_response(
    aiohttp_client: Any, kind: str
) -> None:
    client: Client = await aiohttp_client(app_of(kind, "flash"))
    await client.post("/prime", allow_redirects=False)
    resp = await client.post("/refresh", headers={**HX, "X-Refresh": "false"})
    delivered = json.loads(resp.headers["HX-Trigger"])["flash"]
    assert [m["message"] for m in delivered] == ["Pending", "Refreshed"]
    assert await (await client.get("/show")).json() == {"values": {}, "messages": []}


# -- in Chromium, with the real htmx -----------------------------------------------


@pytest.fixture(scope="module")
def htmx_js(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """htmx.min.js of the version the examples pin, from the npm registry."""
    npm = require_binary("npm", "npm")
    folder = tmp_path_factory.mktemp("htmx-refresh")
    package = f"htmx.org@{HTMX_VERSION}"
    try:
        result = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(folder),
                package,
                "--no-audit",
                "--no-fund",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        unavailable(f"npm install {package} took more than 300 s")
    if result.returncode != 0:
        unavailable(f"npm install {package} failed: {result.stderr.strip()[:300]}")
    return Path(folder, "node_modules", "htmx.org", "dist", "htmx.min.js").read_bytes()


PAGE = """<!doctype html>
<html>
  <head><script src="/htmx.min.js"></script></head>
  <body>
    <div id="flashes">{flashes}</div>
    <button id="save" hx-post="/save" hx-target="#out">Save</button>
    <button id="refresh" hx-post="/refresh" hx-target="#out">Refresh</button>
    <div id="out"></div>
    <script>
      // What HX-Trigger delivers, kept across the reload.
      document.body.addEventListener("flash", (event) => {{
        const seen = JSON.parse(sessionStorage.getItem("toasts") || "[]");
        for (const flash of event.detail.value) seen.push(flash.message);
        sessionStorage.setItem("toasts", JSON.stringify(seen));
      }});
    </script>
  </body>
</html>
"""


def browser_app(htmx_js: bytes, htmx_event: str | None) -> web.Application:
    async def index(request: web.Request) -> web.Response:
        flashes = "".join(
            f'<p class="flash">{html.escape(message)}</p>'
            for message in fb.get_flashed_messages(request)
        )
        return web.Response(text=PAGE.format(flashes=flashes), content_type="text/html")

    async def save(request: web.Request) -> web.Response:
        fb.flash(request, "Saved", "success")
        return web.Response(text="saved", content_type="text/html")

    async def script(request: web.Request) -> web.Response:
        return web.Response(body=htmx_js, content_type="text/javascript")

    return build_app(
        SimpleCookieStorage(),
        {"/": index, "/save": save, "/refresh": refresh},
        settings={"htmx_event": htmx_event},
        unscoped={"/htmx.min.js": script},
    )


@pytest.mark.browser
@pytest.mark.parametrize("htmx_event", EVENTS)
async def test_the_reloaded_page_shows_each_flash_once(
    chromium: Any, aiohttp_server: Any, htmx_js: bytes, htmx_event: str | None
) -> None:
    server = await aiohttp_server(browser_app(htmx_js, htmx_event))
    context = await chromium.new_context()
    page = await context.new_page()
    await page.goto(str(server.make_url("/")))
    assert await page.evaluate("window.htmx && htmx.version") == HTMX_VERSION
    assert await page.locator(".flash").count() == 0

    await page.click("#save")
    await page.locator("#out", has_text="saved").wait_for(timeout=10_000)
    async with page.expect_navigation(timeout=10_000):
        await page.click("#refresh")
    await page.wait_for_function("window.htmx !== undefined")
    shown = await page.locator(".flash").all_text_contents()
    toasts = json.loads(await page.evaluate("sessionStorage.getItem('toasts') || '[]'"))
    if htmx_event is None:  # "Saved" waited in the session as well
        assert shown == ["Saved", "Refreshed"]
        assert toasts == []
    else:  # "Saved" went out in HX-Trigger with the fragment
        assert shown == ["Refreshed"]
        assert toasts == ["Saved"]

    await page.reload()
    assert await page.locator(".flash").count() == 0
    await context.close()


# == htmx, checked from the outside ====================================================
#
# Rules checked from the outside, the way a careless user (or an attacker with a
# cookie) meets them; each test is named after the rule it checks.


# -- htmx ----------------------------------------------------------------------------


async def test_htmx_trigger_merges_comma_list_and_bounded(aiohttp_client: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        for i in range(100):
            fb.flash(request, f"message {i} " + "z" * 60)
        return web.Response(text="ok", headers={"HX-Trigger": "one, two"})

    app = make_app([("GET", "/", handler)], middleware=True, htmx_event="flash")
    client = await aiohttp_client(app)
    resp = await client.get("/", headers={"HX-Request": "true"})
    header = resp.headers["HX-Trigger"]
    assert len(header.encode()) <= 4096
    triggers = json.loads(header)
    assert "one" in triggers
    assert "two" in triggers
    delivered = triggers["flash"]
    assert delivered[0]["category"] == "message"
    assert "level" in delivered[0]


async def test_htmx_trigger_merges_json_form_and_same_event(
    aiohttp_client: Any,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        fb.flash(request, "mine")
        return web.Response(
            text="ok",
            headers={
                "HX-Trigger": json.dumps(
                    {"other": {"x": 1}, "flash": [{"message": "handler"}]}
                )
            },
        )

    app = make_app([("GET", "/", handler)], middleware=True, htmx_event="flash")
    client = await aiohttp_client(app)
    resp = await client.get("/", headers={"HX-Request": "true"})
    triggers = json.loads(resp.headers["HX-Trigger"])
    assert triggers["other"] == {"x": 1}
    assert [d["message"] for d in triggers["flash"]] == ["handler", "mine"]
    assert resp.headers["Cache-Control"] == "no-store"
