"""docs/lifecycle.rst over real HTTP, section by section.

"Messages of this request" first, then "Scopes", "The table", "Unread
flashes", "Bounded life", the rules tried as an attacker and a careless user
would (nothing shared, bounded life, new sessions, downloads, successive
scopes, sub-app settings), and the rules checked from the outside. The
sections with a module of their own: test_writes.py, test_streamed.py,
test_speculative.py, test_sizes.py, test_faults.py, test_htmx.py,
test_testing.py.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import aiohttp_jinja2
import jinja2
import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage, get_session, new_session
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from redis import asyncio as aioredis

import aiohttp_flashbag
import aiohttp_flashbag as fb
from aiohttp_flashbag import DEFAULT_SESSION_KEY as KEY
from aiohttp_flashbag import (
    Flashbag,
    FlashbagMixin,
    Message,
    flash,
    flashbag_get,
    flashbag_set,
    get_flashed_messages,
    with_flashbag,
)
from aiohttp_flashbag._settings import SETTINGS_KEY
from aiohttp_flashbag.stores import RedisFlashStore
from aiohttp_flashbag.testing import record_flashes

from ..conftest import COOKIE, Client, CountingStorage, make_app, with_clock
from ..conftest import stored_bag as unstamped_entry
from ..stores import test_redis_store
from ..support.edges import (
    MARKER,
    bag_in_jar,
    cookie_of,
    echo,
    plant,
    raw_bag_in_jar,
    set_and_redirect,
)
from ..support.pages import (
    routes_app,
    seed,
    seed_flash,
    show_incoming,
    show_messages,
    shown,
)
from ..support.sessions import Clock, build_app
from ..support.sessions import show as show_all
from ..support.simple_jar import NOTHING, put_session, session_in, set_cookie_session
from ..support.simple_jar import show as show_session

# The fixture of tests/stores/test_redis_store.py: the app's connection to the
# store's database.
app_redis = test_redis_store.app_redis

# == Messages of this request ==========================================================
#
# Messages shown where users expect, over real HTTP requests
# (docs/lifecycle.rst, "Messages of this request").
#
# Own messages in ``get_flashed_messages``, what a request that showed them
# passes on for every ending, ``now`` messages, ``clear()``, keyed values read
# from incoming only, templates rendered after the scope, ``Cache-Control`` on
# pages that showed a flash, and htmx client-side redirects.


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Pair = tuple[str, Any]


SCOPES = ["middleware", "decorator", "mixin"]

TEMPLATES = {
    # what templates see through the context processor
    "function.html": "{{ get_flashed_messages(with_categories=true)|tojson }}",
    "method.html": ("{{ flashbag.get_flashed_messages(with_categories=true)|tojson }}"),
    "errors.html": (
        "{{ get_flashed_messages(with_categories=true,"
        " category_filter=['error'])|tojson }}"
    ),
    "list.html": "{{ get_flashed_messages()|tojson }}",
}


def scoped(kind: str, handler: Handler) -> Any:
    """``handler`` as the route of an app whose scope is of ``kind``."""
    if kind == "decorator":
        return fb.with_flashbag(handler)
    if kind == "middleware":
        return handler
    assert kind == "mixin"

    async def method(self: web.View) -> web.StreamResponse:
        return await handler(self.request)

    return type(
        "View",
        (fb.FlashbagMixin, web.View),
        dict.fromkeys(("get", "post", "head"), method),
    )


async def prime(request: web.Request) -> web.StreamResponse:
    """Flash what the JSON body says, then redirect: the next page's incoming."""
    body = await request.json()
    for category, message in body.get("messages", []):
        fb.flash(request, message, category)
    for key, value in body.get("values", {}).items():
        fb.flashbag_set(request, key, value)
    raise web.HTTPSeeOther("/elsewhere")


def app_for(
    kind: str,
    routes: dict[str, Handler],
    *,
    storage: Any = None,
    **settings: Any,
) -> web.Application:
    """An app whose routes (any method) open a scope of ``kind``.

    ``/prime`` is always there; templates are set up with the context processor.
    """
    app = make_app(
        [
            ("*", path, scoped(kind, handler))
            for path, handler in {"/prime": prime, **routes}.items()
        ],
        storage=storage,
        middleware=kind == "middleware",
        **settings,
    )
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.DictLoader(TEMPLATES),
        context_processors=[fb.context_processor],
    )
    return app


async def send_in(
    client: Client,
    messages: list[Pair] = (),  # type: ignore[assignment]
    values: dict[str, Any] | None = None,
) -> None:
    """Leave ``messages`` and ``values`` as the next request's incoming."""
    resp = await client.post(
        "/prime",
        json={"messages": list(messages), "values": values or {}},
        allow_redirects=False,
    )
    assert resp.status == 303


def stored(client: Client) -> tuple[dict[str, Any], list[Pair]]:
    """(values, messages) the client's SimpleCookieStorage session holds."""
    cookie = next((m.value for m in client.session.cookie_jar if m.key == COOKIE), None)
    entry = unstamped_entry(cookie) if cookie else None
    if entry is None:
        return {}, []
    if isinstance(entry, dict):
        return entry, []
    assert entry[0] == 1
    return entry[1], [tuple(m) for m in entry[2]]


def messages_stored(client: Client) -> list[Pair]:
    return stored(client)[1]


def pairs(data: Any) -> list[Pair]:
    return [tuple(item) for item in data]


async def shown_by(client: Client, path: str, method: str = "GET") -> list[Pair]:
    resp = await client.request(method, path)
    assert resp.status == 200, await resp.text()
    return pairs(json.loads(await resp.text()))


def read_all(request: web.Request) -> list[Pair]:
    return [tuple(m) for m in fb.get_flashed_messages(request, with_categories=True)]


async def show(request: web.Request) -> web.Response:
    return web.json_response(read_all(request))


# -- get_flashed_messages: incoming, then this request's own ---------------------

INCOMING: list[Pair] = [("info", "in 1"), ("error", "in 2"), ("info", "in 3")]
OWN: list[Pair] = [("warning", "own 1"), ("error", "own 2")]


def read_by(reader: str, request: web.Request) -> web.Response:
    """Render the messages as JSON pairs, read in the way ``reader`` names."""
    if reader == "function":
        pairs_ = fb.get_flashed_messages(request, with_categories=True)
        return web.json_response([list(m) for m in pairs_])
    if reader == "method":
        pairs_ = fb.get_flashbag(request).get_flashed_messages(with_categories=True)
        return web.json_response([list(m) for m in pairs_])
    template = {"template": "function.html", "template-flashbag": "method.html"}
    return aiohttp_jinja2.render_template(template[reader], request, {})


READERS = ["function", "method", "template", "template-flashbag"]


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("kind", SCOPES)
async def test_incoming_then_own_in_flash_order(
    aiohttp_client: Any, kind: str, reader: str
) -> None:
    async def page(request: web.Request) -> web.Response:
        for category, message in OWN:
            fb.flash(request, message, category)
        return read_by(reader, request)

    client: Client = await aiohttp_client(app_for(kind, {"/page": page}))
    await send_in(client, INCOMING)
    assert await shown_by(client, "/page") == INCOMING + OWN
    # Everything was shown: nothing is left for the next page.
    assert stored(client) == ({}, [])
    assert await shown_by(client, "/page") == OWN


@pytest.mark.parametrize("kind", SCOPES)
async def test_without_categories_and_with_a_filter(
    aiohttp_client: Any, kind: str
) -> None:
    async def page(request: web.Request) -> web.Response:
        for category, message in OWN:
            fb.flash(request, message, category)
        bag = fb.get_flashbag(request)
        return web.json_response(
            {
                "plain": fb.get_flashed_messages(request),
                "errors": fb.get_flashed_messages(
                    request, with_categories=True, category_filter=["error"]
                ),
                "error-str": bag.get_flashed_messages(category_filter="error"),
                "two": bag.get_flashed_messages(
                    category_filter=("warning", "info"), with_categories=True
                ),
                "template": aiohttp_jinja2.render_string("errors.html", request, {}),
            }
        )

    client: Client = await aiohttp_client(app_for(kind, {"/page": page}))
    await send_in(client, INCOMING)
    resp = await client.get("/page")
    got = await resp.json()
    assert got["plain"] == ["in 1", "in 2", "in 3", "own 1", "own 2"]
    assert pairs(got["errors"]) == [("error", "in 2"), ("error", "own 2")]
    assert got["error-str"] == ["in 2", "own 2"]
    assert pairs(got["two"]) == [
        ("info", "in 1"),
        ("info", "in 3"),
        ("warning", "own 1"),
    ]
    assert pairs(json.loads(got["template"])) == [("error", "in 2"), ("error", "own 2")]


async def test_a_filter_of_none_filters_nothing_and_a_bad_one_is_named(
    aiohttp_client: Any,
) -> None:
    """docs/coming-from.rst, "Flask": ``category_filter=None`` is no filter,
    as in Flask; a filter that is not text or an iterable of text is a
    ``FlashbagTypeError`` that marks nothing shown.
    """

    async def page(request: web.Request) -> web.Response:
        refused = []
        bads: list[Any] = [5, [5], b"error", ["error", None]]
        for bad in bads:
            try:
                fb.get_flashed_messages(request, category_filter=bad)
            except fb.FlashbagTypeError as exc:
                refused.append(str(exc))
        return web.json_response(
            {
                "refused": refused,
                "all": fb.get_flashed_messages(request, category_filter=None),
            }
        )

    async def redirect(request: web.Request) -> web.Response:
        try:
            fb.get_flashed_messages(request, category_filter=cast(Any, 7))
        except fb.FlashbagTypeError:
            raise web.HTTPSeeOther("/page") from None
        return web.Response(text="accepted")

    client: Client = await aiohttp_client(
        app_for("decorator", {"/page": page, "/redirect": redirect})
    )
    await send_in(client, INCOMING)
    resp = await client.get("/redirect", allow_redirects=False)
    assert resp.status == 303
    got = await (await client.get("/page")).json()
    assert len(got["refused"]) == 4
    assert all("category_filter" in text for text in got["refused"])
    assert got["all"] == ["in 1", "in 2", "in 3"]  # the refused reads took none
    assert messages_stored(client) == []


@pytest.mark.parametrize("kind", SCOPES)
async def test_a_filter_never_deletes_the_other_categories(
    aiohttp_client: Any, kind: str
) -> None:
    async def errors_then_redirect(request: web.Request) -> web.Response:
        fb.flash(request, "own info", "info")
        fb.flash(request, "own error", "error")
        errors = fb.get_flashed_messages(request, category_filter=["error"])
        assert errors == ["in 2", "own error"]
        # A filtered read leaves everything in place for an unfiltered one.
        assert fb.get_flashed_messages(request, with_categories=True)[-2:] == [
            ("info", "own info"),
            ("error", "own error"),
        ]
        raise web.HTTPSeeOther("/page")

    async def errors_on_a_page(request: web.Request) -> web.Response:
        fb.flash(request, "own info", "info")
        fb.flash(request, "own error", "error")
        return web.json_response(
            fb.get_flashed_messages(request, category_filter="error")
        )

    client: Client = await aiohttp_client(
        app_for(kind, {"/redirect": errors_then_redirect, "/page": errors_on_a_page})
    )
    await send_in(client, INCOMING)
    resp = await client.get("/redirect", allow_redirects=False)
    assert resp.status == 303
    # The unfiltered read showed everything: nothing is carried or passed on.
    assert messages_stored(client) == []

    async def only_errors(request: web.Request) -> web.Response:
        fb.flash(request, "own info", "info")
        fb.flash(request, "own error", "error")
        fb.get_flashed_messages(request, category_filter=["error"])
        raise web.HTTPSeeOther("/page")

    client2: Client = await aiohttp_client(
        app_for(kind, {"/redirect": only_errors, "/page": errors_on_a_page})
    )
    await send_in(client2, INCOMING)
    resp = await client2.get("/redirect", allow_redirects=False)
    assert messages_stored(client2) == [
        ("info", "in 1"),
        ("info", "in 3"),
        ("info", "own info"),
    ]
    # A page that reads errors only consumes the incoming infos (a page
    # consumes everything incoming) but passes its own unread info on.
    resp = await client2.get("/page")
    assert await resp.json() == ["own error"]
    assert messages_stored(client2) == [("info", "own info")]


# -- what a request that flashed and showed passes on, for every ending ----------


async def flash_and_show_one(request: web.Request) -> None:
    fb.flash(request, "seen", "shown")
    fb.flash(request, "unseen", "unshown")
    assert fb.get_flashed_messages(request, category_filter="shown") == ["seen"]


def ending_handler(ending: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        await flash_and_show_one(request)
        if ending in ("200", "HEAD"):
            return web.Response(text="ok")
        if ending == "400":
            return web.Response(status=400, text="form errors")
        if ending == "303":
            return web.Response(status=303, headers={"Location": "/elsewhere"})
        if ending == "raised 303":
            raise web.HTTPSeeOther("/elsewhere")
        if ending == "raised 400":
            raise web.HTTPBadRequest(text="form errors")
        if ending == "raised 404":
            raise web.HTTPNotFound()
        if ending == "500":
            return web.Response(status=500, text="oops")
        assert ending == "crash"
        raise ZeroDivisionError("boom")

    return handler


ENDINGS = ["200", "400", "303", "raised 303", "raised 400", "raised 404"]
ENDINGS += ["HEAD", "500", "crash"]
REDIRECTS = {"303", "raised 303"}


@pytest.mark.parametrize("ending", ENDINGS)
@pytest.mark.parametrize("kind", SCOPES)
async def test_own_shown_message_is_not_passed_on(
    aiohttp_client: Any, kind: str, ending: str
) -> None:
    client: Client = await aiohttp_client(
        app_for(kind, {"/end": ending_handler(ending)})
    )
    await send_in(client, [("in", "incoming")])
    method = "HEAD" if ending == "HEAD" else "GET"
    resp = await client.request(method, "/end", allow_redirects=False)
    special = {"HEAD": 200, "crash": 500}
    status = special[ending] if ending in special else int(ending.split()[-1])
    assert resp.status == status
    if ending in ("500", "crash"):
        # The request never happened for flashes.
        expected = [("in", "incoming")]
    elif ending == "HEAD":
        # Nothing is consumed: the shown message is passed on as well.
        expected = [("in", "incoming"), ("shown", "seen"), ("unshown", "unseen")]
    elif ending in REDIRECTS:
        # Unread incoming travels on, then the own message nobody read.
        expected = [("in", "incoming"), ("unshown", "unseen")]
    else:
        expected = [("unshown", "unseen")]
    assert messages_stored(client) == expected


@pytest.mark.parametrize("ending", ENDINGS)
async def test_own_shown_message_is_not_passed_on_without_incoming(
    aiohttp_client: Any, ending: str
) -> None:
    client: Client = await aiohttp_client(
        app_for("decorator", {"/end": ending_handler(ending)})
    )
    method = "HEAD" if ending == "HEAD" else "GET"
    await client.request(method, "/end", allow_redirects=False)
    expected = {
        "500": [],
        "crash": [],
        "HEAD": [("shown", "seen"), ("unshown", "unseen")],
    }.get(ending, [("unshown", "unseen")])
    assert messages_stored(client) == expected


@pytest.mark.parametrize("kind", SCOPES)
async def test_unshown_own_messages_reach_the_next_page_once(
    aiohttp_client: Any, kind: str
) -> None:
    async def flash_only(request: web.Request) -> web.Response:
        fb.flash(request, "saved", "success")
        fb.flash(request, "again", "info")
        return web.Response(text="no read")

    client: Client = await aiohttp_client(
        app_for(kind, {"/flash": flash_only, "/show": show})
    )
    await client.post("/flash")
    assert await shown_by(client, "/show") == [("success", "saved"), ("info", "again")]
    assert await shown_by(client, "/show") == []


# -- now=True -----------------------------------------------------------------


@pytest.mark.parametrize("kind", SCOPES)
async def test_now_messages_are_read_in_flash_order(
    aiohttp_client: Any, kind: str
) -> None:
    async def page(request: web.Request) -> web.Response:
        fb.flash(request, "before", "info")
        fb.flash(request, "right now", "error", now=True)
        fb.flash(request, "after", "info")
        return web.json_response(
            {
                "all": read_all(request),
                "errors": fb.get_flashed_messages(request, category_filter="error"),
                "outgoing": [
                    list(m) for m in fb.get_flashbag(request).outgoing.messages
                ],
            }
        )

    client: Client = await aiohttp_client(app_for(kind, {"/page": page}))
    await send_in(client, [("in", "incoming")])
    got = await (await client.get("/page")).json()
    assert pairs(got["all"]) == [
        ("in", "incoming"),
        ("info", "before"),
        ("error", "right now"),
        ("info", "after"),
    ]
    assert got["errors"] == ["right now"]
    # outgoing is what would be passed on: never a now message.
    assert pairs(got["outgoing"]) == [("info", "before"), ("info", "after")]


@pytest.mark.parametrize("read", [False, True], ids=["unread", "read"])
@pytest.mark.parametrize("ending", ["200", "400", "raised 303", "HEAD", "HX-Redirect"])
@pytest.mark.parametrize("kind", SCOPES)
async def test_now_messages_are_never_stored(
    aiohttp_client: Any, kind: str, ending: str, read: bool
) -> None:
    async def page(request: web.Request) -> web.Response:
        fb.flash(request, "only here", "error", now=True)
        if read:
            assert fb.get_flashed_messages(request) == ["only here"]
        if ending == "raised 303":
            raise web.HTTPSeeOther("/elsewhere")
        if ending == "HX-Redirect":
            return web.Response(headers={"HX-Redirect": "/elsewhere"})
        return web.Response(status=int(ending) if ending != "HEAD" else 200)

    counting = CountingStorage(SimpleCookieStorage())
    client: Client = await aiohttp_client(
        app_for(kind, {"/page": page}, storage=counting.storage)
    )
    method = "HEAD" if ending == "HEAD" else "POST"
    resp = await client.request(method, "/page", allow_redirects=False)
    # An anonymous visitor gets no session for a now flash.
    assert COOKIE not in resp.cookies
    assert counting.saves == 0
    assert stored(client) == ({}, [])


@pytest.mark.parametrize("ending", ["200", "raised 303", "HEAD"])
async def test_now_messages_leave_the_rest_to_the_lifecycle(
    aiohttp_client: Any, ending: str
) -> None:
    async def page(request: web.Request) -> web.Response:
        fb.flash(request, "only here", "error", now=True)
        fb.flash(request, "for later", "info")
        fb.flashbag_set(request, "form", {"name": ""})
        if ending == "raised 303":
            raise web.HTTPSeeOther("/elsewhere")
        return web.Response()

    client: Client = await aiohttp_client(app_for("decorator", {"/page": page}))
    await send_in(client, [("in", "incoming")])
    method = "HEAD" if ending == "HEAD" else "POST"
    await client.request(method, "/page", allow_redirects=False)
    carried = [] if ending == "200" else [("in", "incoming")]
    assert stored(client) == ({"form": {"name": ""}}, [*carried, ("info", "for later")])


# -- clear() -------------------------------------------------------------------


@pytest.mark.parametrize("kind", SCOPES)
async def test_clear_forgets_own_messages_now_ones_too(
    aiohttp_client: Any, kind: str
) -> None:
    async def page(request: web.Request) -> web.Response:
        fb.flash(request, "dropped", "info")
        fb.flash(request, "dropped now", "error", now=True)
        fb.flashbag_set(request, "key", "dropped")
        before = read_all(request)
        fb.flashbag_clear(request)
        after_clear = read_all(request)
        fb.get_flashbag(request).flash("added again", "info")
        fb.flash(request, "added now", "warning", now=True)
        again = read_all(request)
        fb.flash(request, "unread", "info")
        return web.json_response(
            {"before": before, "after clear": after_clear, "again": again}
        )

    client: Client = await aiohttp_client(app_for(kind, {"/page": page}))
    await send_in(client, [("in", "incoming")])
    got = await (await client.get("/page")).json()
    assert pairs(got["before"]) == [
        ("in", "incoming"),
        ("info", "dropped"),
        ("error", "dropped now"),
    ]
    # Reads still see incoming.
    assert pairs(got["after clear"]) == [("in", "incoming")]
    assert pairs(got["again"]) == [
        ("in", "incoming"),
        ("info", "added again"),
        ("warning", "added now"),
    ]
    assert stored(client) == ({}, [("info", "unread")])


@pytest.mark.parametrize("kind", SCOPES)
async def test_clear_before_a_redirect_drops_the_carry_over(
    aiohttp_client: Any, kind: str
) -> None:
    async def page(request: web.Request) -> web.Response:
        fb.flash(request, "dropped now", "error", now=True)
        fb.flash(request, "dropped", "info")
        fb.get_flashed_messages(request, category_filter=["info", "error"])
        fb.flashbag_clear(request)
        fb.flash(request, "after clear", "info")
        raise web.HTTPSeeOther("/elsewhere")

    client: Client = await aiohttp_client(app_for(kind, {"/page": page}))
    await send_in(client, [("in", "incoming")], {"value": 1})
    await client.post("/page", allow_redirects=False)
    assert stored(client) == ({}, [("info", "after clear")])


# -- keyed values: read from incoming only -------------------------------------


@pytest.mark.parametrize("kind", SCOPES)
async def test_keyed_values_read_previous_and_set_next(
    aiohttp_client: Any, kind: str
) -> None:
    async def step(request: web.Request) -> web.Response:
        bag = fb.get_flashbag(request)
        previous = fb.flashbag_get(request, "step", 0)
        assert isinstance(previous, int)
        fb.flashbag_set(request, "step", previous + 1)
        fb.flash(request, f"step {previous + 1}", "info")
        return web.json_response(
            {
                # Reading again after the set still gives the incoming value:
                # flashbag_set and flash change nothing a read returns.
                "again": fb.flashbag_get(request, "step", 0),
                "method": bag.get("step", 0),
                "in": "step" in bag,
                "previous": previous,
            }
        )

    client: Client = await aiohttp_client(app_for(kind, {"/step": step}))
    for previous in range(3):
        got = await (await client.get("/step")).json()
        assert got == {
            "again": previous,
            "method": previous,
            "in": previous > 0,
            "previous": previous,
        }
        assert stored(client) == (
            {"step": previous + 1},
            [("info", f"step {previous + 1}")],
        )


async def test_messages_and_values_are_independent(aiohttp_client: Any) -> None:
    async def page(request: web.Request) -> web.Response:
        fb.flash(request, "a message", "note")
        fb.flashbag_set(request, "message", "a value")
        return web.json_response(
            {"get": fb.flashbag_get(request, "note"), "messages": read_all(request)}
        )

    client: Client = await aiohttp_client(app_for("decorator", {"/page": page}))
    await send_in(client, [("incoming", "message")], {"note": "incoming value"})
    got = await (await client.get("/page")).json()
    assert got == {
        "get": "incoming value",
        "messages": [["incoming", "message"], ["note", "a message"]],
    }


# -- templates rendered inside and after the scope -----------------------------


@aiohttp_jinja2.template("list.html")
@fb.with_flashbag
async def rendered_after_the_scope(request: web.Request) -> dict[str, Any]:
    fb.flash(request, f"own {request.query['n']}", "info")
    return {}


@fb.with_flashbag
@aiohttp_jinja2.template("list.html")
async def rendered_in_the_scope(request: web.Request) -> dict[str, Any]:
    fb.flash(request, f"own {request.query['n']}", "info")
    return {}


def template_app(handler: Any) -> web.Application:
    app = make_app(
        [("POST", "/prime", fb.with_flashbag(prime)), ("GET", "/page", handler)]
    )
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.DictLoader(TEMPLATES),
        context_processors=[fb.context_processor],
    )
    return app


async def test_a_template_rendered_after_the_scope_reads_incoming_only(
    aiohttp_client: Any,
) -> None:
    client: Client = await aiohttp_client(template_app(rendered_after_the_scope))
    await send_in(client, [("info", "incoming")])
    seen: list[str] = []
    for n in range(1, 4):
        resp = await client.get("/page", params={"n": str(n)})
        got = json.loads(await resp.text())
        seen += got
        # This request's own message is already stored for the next one.
        assert got == (["incoming"] if n == 1 else [f"own {n - 1}"])
        assert messages_stored(client) == [("info", f"own {n}")]
    # Everything shown once, in order.
    assert seen == ["incoming", "own 1", "own 2"]


async def test_a_template_rendered_in_the_scope_shows_own_messages(
    aiohttp_client: Any,
) -> None:
    client: Client = await aiohttp_client(template_app(rendered_in_the_scope))
    await send_in(client, [("info", "incoming")])
    resp = await client.get("/page", params={"n": "1"})
    assert json.loads(await resp.text()) == ["incoming", "own 1"]
    assert resp.headers["Cache-Control"] == "no-store"
    assert messages_stored(client) == []
    resp = await client.get("/page", params={"n": "2"})
    assert json.loads(await resp.text()) == ["own 2"]


async def test_the_template_flashbag_after_the_scope_reads_incoming_values(
    aiohttp_client: Any,
) -> None:
    @aiohttp_jinja2.template("value.html")
    @fb.with_flashbag
    async def page(request: web.Request) -> dict[str, Any]:
        fb.flashbag_set(request, "step", request.query["n"])
        return {}

    app = make_app(
        [("POST", "/prime", fb.with_flashbag(prime)), ("GET", "/page", page)]
    )
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.DictLoader({"value.html": "{{ flashbag.get('step', 'none') }}"}),
        context_processors=[fb.context_processor],
    )
    client: Client = await aiohttp_client(app)
    assert await (await client.get("/page", params={"n": "1"})).text() == "none"
    assert await (await client.get("/page", params={"n": "2"})).text() == "1"
    assert stored(client) == ({"step": "2"}, [])


# -- Cache-Control on a response that showed a flash --------------------------

PUBLIC = "public, max-age=3600"


def cache_handler(kind: str, tmp_path: Path) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        read = request.query.get("read", "messages")
        if read == "messages":
            fb.get_flashed_messages(request)
        elif read == "value":
            fb.flashbag_get(request, "value")
        elif read == "now":
            fb.flash(request, "now", now=True)
            fb.get_flashed_messages(request)
        elif read == "own":
            fb.flash(request, "own")
            fb.get_flashed_messages(request)
        elif read == "missing value":
            fb.flashbag_get(request, "no such key")
        # "nothing": no read at all
        headers = {"Cache-Control": PUBLIC}
        if kind == "Response":
            return web.Response(text="page", headers=headers)
        if kind == "json_response":
            return web.json_response({"ok": True}, headers=headers)
        if kind == "raised 400":
            raise web.HTTPBadRequest(text="form errors", headers=headers)
        if kind == "raised 303":
            raise web.HTTPSeeOther("/elsewhere", headers=headers)
        if kind == "303":
            return web.Response(status=303, headers={**headers, "Location": "/x"})
        if kind == "FileResponse":
            path = tmp_path / "download.txt"
            path.write_text("file body")
            response = web.FileResponse(path)
            response.headers.update(headers)
            return response
        assert kind == "StreamResponse"
        return web.StreamResponse(headers=headers)

    return handler


RESPONSES = [
    "Response",
    "json_response",
    "raised 400",
    "raised 303",
    "303",
    "FileResponse",
    "StreamResponse",
]


async def cache_client(
    aiohttp_client: Any, response: str, tmp_path: Path, **settings: Any
) -> Client:
    client: Client = await aiohttp_client(
        app_for("decorator", {"/page": cache_handler(response, tmp_path)}, **settings)
    )
    await send_in(client, [("info", "incoming")], {"value": "incoming"})
    return client


@pytest.mark.parametrize("read", ["messages", "value", "now", "own"])
@pytest.mark.parametrize("response", RESPONSES)
async def test_a_response_that_showed_a_flash_is_no_store(
    aiohttp_client: Any, tmp_path: Path, response: str, read: str
) -> None:
    client = await cache_client(aiohttp_client, response, tmp_path)
    resp = await client.get("/page", params={"read": read}, allow_redirects=False)
    assert resp.headers.getall("Cache-Control") == ["no-store"]


@pytest.mark.parametrize("read", ["nothing", "missing value"])
@pytest.mark.parametrize("response", RESPONSES)
async def test_a_response_that_showed_nothing_is_untouched(
    aiohttp_client: Any, tmp_path: Path, response: str, read: str
) -> None:
    # Incoming flashes are there (and a page consumes them), but unseen.
    client = await cache_client(aiohttp_client, response, tmp_path)
    resp = await client.get("/page", params={"read": read}, allow_redirects=False)
    assert resp.headers.getall("Cache-Control") == [PUBLIC]


async def test_a_response_without_the_header_that_showed_nothing_gets_none(
    aiohttp_client: Any,
) -> None:
    async def page(request: web.Request) -> web.Response:
        fb.flashbag_get(request, "missing")
        fb.get_flashed_messages(request, category_filter="missing")
        return web.Response(text="page")

    client: Client = await aiohttp_client(app_for("decorator", {"/page": page}))
    await send_in(client, [("info", "incoming")], {"value": "incoming"})
    resp = await client.get("/page")
    assert "Cache-Control" not in resp.headers


@pytest.mark.parametrize("response", RESPONSES)
async def test_the_cache_control_setting(
    aiohttp_client: Any, tmp_path: Path, response: str
) -> None:
    client = await cache_client(
        aiohttp_client, response, tmp_path, cache_control="private, no-cache"
    )
    resp = await client.get("/page", allow_redirects=False)
    assert resp.headers.getall("Cache-Control") == ["private, no-cache"]


@pytest.mark.parametrize("response", RESPONSES)
async def test_cache_control_none_leaves_headers_alone(
    aiohttp_client: Any, tmp_path: Path, response: str
) -> None:
    client = await cache_client(aiohttp_client, response, tmp_path, cache_control=None)
    resp = await client.get("/page", allow_redirects=False)
    assert resp.headers.getall("Cache-Control") == [PUBLIC]

    async def bare(request: web.Request) -> web.Response:
        fb.get_flashed_messages(request)
        return web.Response(text="page")

    client = await aiohttp_client(
        app_for("decorator", {"/bare": bare}, cache_control=None)
    )
    await send_in(client, [("info", "incoming")])
    resp = await client.get("/bare")
    assert "Cache-Control" not in resp.headers


@pytest.mark.parametrize("kind", SCOPES)
async def test_cache_control_in_every_scope(aiohttp_client: Any, kind: str) -> None:
    async def page(request: web.Request) -> web.Response:
        if request.query.get("read"):
            fb.get_flashed_messages(request)
        return web.Response(text="page", headers={"Cache-Control": PUBLIC})

    client: Client = await aiohttp_client(app_for(kind, {"/page": page}))
    await send_in(client, [("info", "incoming")])
    resp = await client.get("/page", params={"read": "1"})
    assert resp.headers["Cache-Control"] == "no-store"
    await send_in(client, [("info", "incoming")])
    resp = await client.get("/page")
    assert resp.headers["Cache-Control"] == PUBLIC


async def test_file_and_stream_responses_are_still_sent_whole(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    client = await cache_client(aiohttp_client, "FileResponse", tmp_path)
    resp = await client.get("/page")
    assert resp.status == 200
    assert await resp.text() == "file body"
    # The incoming flashes were consumed by the download, which was saved.
    assert stored(client) == ({}, [])


# -- htmx client-side redirects count as redirects -----------------------------


@pytest.mark.parametrize("hx_request", [False, True], ids=["plain", "HX-Request"])
@pytest.mark.parametrize("htmx_event", [None, "flash"])
@pytest.mark.parametrize("header", ["HX-Redirect", "HX-Location"])
@pytest.mark.parametrize("kind", SCOPES)
async def test_hx_redirect_carries_unread_flashes(
    aiohttp_client: Any,
    kind: str,
    header: str,
    htmx_event: str | None,
    hx_request: bool,
) -> None:
    async def page(request: web.Request) -> web.Response:
        assert fb.flashbag_get(request, "read") == "r"
        assert fb.get_flashed_messages(request, category_filter="read") == ["r"]
        fb.flash(request, "own unread", "info")
        fb.flash(request, "own read", "read")
        fb.get_flashed_messages(request, category_filter="read")
        return web.Response(headers={header: "/next"})

    settings = {} if htmx_event is None else {"htmx_event": htmx_event}
    client: Client = await aiohttp_client(app_for(kind, {"/page": page}, **settings))
    await send_in(
        client, [("read", "r"), ("info", "unread")], {"read": "r", "unread": "u"}
    )
    headers = {"HX-Request": "true"} if hx_request else {}
    resp = await client.post("/page", headers=headers)
    assert resp.status == 200
    assert "HX-Trigger" not in resp.headers
    assert stored(client) == (
        {"unread": "u"},
        [("info", "unread"), ("info", "own unread")],
    )


@pytest.mark.parametrize("header", ["HX-Redirect", "HX-Location"])
async def test_a_raised_response_with_an_htmx_redirect_header(
    aiohttp_client: Any, header: str
) -> None:
    async def page(request: web.Request) -> web.Response:
        raise web.HTTPOk(headers={header: '{"path": "/next"}'})

    client: Client = await aiohttp_client(app_for("decorator", {"/page": page}))
    await send_in(client, [("info", "unread")])
    await client.post("/page")
    assert messages_stored(client) == [("info", "unread")]


async def test_without_an_htmx_redirect_header_a_200_consumes(
    aiohttp_client: Any,
) -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(headers={"HX-Refresh": "false", "HX-Push-Url": "/next"})

    client: Client = await aiohttp_client(app_for("decorator", {"/page": page}))
    await send_in(client, [("info", "unread")], {"unread": "u"})
    await client.post("/page")
    assert stored(client) == ({}, [])


@pytest.mark.parametrize("status", [400, 403, 422])
@pytest.mark.parametrize("header", ["HX-Redirect", "HX-Location"])
async def test_an_htmx_redirect_header_on_a_4xx_is_a_redirect_too(
    aiohttp_client: Any, header: str, status: int
) -> None:
    """htmx follows the header whatever the status; only a 5xx changes nothing."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={header: "/next"})

    client: Client = await aiohttp_client(app_for("decorator", {"/page": page}))
    await send_in(client, [("info", "unread")], {"unread": "u"})
    await client.post("/page")
    assert stored(client) == ({"unread": "u"}, [("info", "unread")])


# == Scopes ============================================================================
#
# The three scopes over real HTTP: middleware, decorator, mixin, and nesting.


async def form_get(request: web.Request) -> web.Response:
    error = flashbag_get(request, "error")
    return web.Response(text=f"form error={error}")


async def form_post(request: web.Request) -> web.Response:
    post = await request.post()
    if not post.get("name"):
        flashbag_set(request, "error", "Name is required")
        raise web.HTTPSeeOther("/")
    return web.Response(text=f"Hello, {post['name']!s}")


class FormView(FlashbagMixin, web.View):
    async def get(self) -> web.Response:
        return await form_get(self.request)

    async def post(self) -> web.Response:
        return await form_post(self.request)


async def asset(request: web.Request) -> web.Response:
    return web.Response(text="body { color: black }", content_type="text/css")


async def poll(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def form_app(scope: str, storage: Any = None) -> web.Application:
    noise: list[tuple[str, str, Any]] = [
        ("GET", "/favicon.ico", asset),
        ("GET", "/static/site.css", asset),
        ("GET", "/api/poll", poll),
    ]
    routes: list[tuple[str, str, Any]]
    if scope == "middleware":
        routes = [("GET", "/", form_get), ("POST", "/", form_post)]
    elif scope == "decorator":
        routes = [
            ("GET", "/", with_flashbag(form_get)),
            ("POST", "/", with_flashbag(form_post)),
        ]
    else:
        routes = [("*", "/", FormView)]
    return make_app(routes + noise, storage=storage, middleware=scope == "middleware")


@pytest.mark.parametrize("scope", SCOPES)
async def test_seed_form_flow(aiohttp_client: Any, scope: str) -> None:
    client: Client = await aiohttp_client(form_app(scope))

    resp = await client.post("/", data={"name": ""}, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/"
    assert COOKIE in resp.cookies

    resp = await client.get("/")
    assert await resp.text() == "form error=Name is required"

    resp = await client.get("/")
    assert await resp.text() == "form error=None"

    resp = await client.post("/", data={"name": "Ann"})
    assert await resp.text() == "Hello, Ann"


@pytest.mark.parametrize("cookie", [False, True], ids=["no cookie", "a session"])
async def test_a_scope_that_used_no_flashes_has_ended_for_code_after_it(
    aiohttp_client: Any, cookie: bool
) -> None:
    """docs/lifecycle.rst, "Scopes": once the outermost scope has ended, a
    write raises, also when nothing inside the scope read or wrote a flash
    (so nothing is lost without a word), and a read sees what came in.
    """

    @with_flashbag
    async def inner(request: web.Request) -> web.Response:
        return web.Response(text="inner")  # no read, no write

    async def page(request: web.Request) -> web.Response:
        await inner(request)
        assert fb.get_flashed_messages(request) == []
        with pytest.raises(RuntimeError, match="already ended"):
            fb.flash(request, "too late")
        return web.Response(text="ok")

    async def login(request: web.Request) -> web.Response:
        (await get_session(request))["user"] = "ann"
        return web.Response(text="in")

    client: Client = await aiohttp_client(
        make_app([("GET", "/", page), ("GET", "/login", login)])
    )
    if cookie:
        await client.get("/login")
    resp = await client.get("/")
    assert resp.status == 200, await resp.text()
    assert await resp.text() == "ok"


@pytest.mark.parametrize("scope", ["decorator", "mixin"])
async def test_unscoped_requests_do_not_eat_the_flash(
    aiohttp_client: Any, scope: str
) -> None:
    client: Client = await aiohttp_client(form_app(scope))
    await client.post("/", data={"name": ""}, allow_redirects=False)
    for path in ["/favicon.ico", "/static/site.css", "/api/poll", "/api/poll"]:
        resp = await client.get(path)
        assert resp.status == 200
        assert COOKIE not in resp.cookies, path
    resp = await client.get("/")
    assert await resp.text() == "form error=Name is required"


async def test_the_middleware_scopes_every_request(aiohttp_client: Any) -> None:
    """The app-wide option consumes on any page, as 0.0.3 did: its trade-off."""
    client: Client = await aiohttp_client(form_app("middleware"))
    await client.post("/", data={"name": ""}, allow_redirects=False)
    await client.get("/favicon.ico")
    resp = await client.get("/")
    assert await resp.text() == "form error=None"


@pytest.mark.parametrize("scope", SCOPES)
async def test_a_chain_of_redirects_carries_the_flash(
    aiohttp_client: Any, scope: str
) -> None:
    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/")

    routes: list[tuple[str, str, Any]] = [
        ("GET", "/hop", hop if scope == "middleware" else with_flashbag(hop))
    ]
    app = form_app(scope)
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    client: Client = await aiohttp_client(app)
    await client.post("/", data={"name": ""}, allow_redirects=False)
    resp = await client.get("/hop", allow_redirects=False)
    assert resp.status == 302
    resp = await client.get("/hop")  # follows the redirect to the page
    assert await resp.text() == "form error=Name is required"
    resp = await client.get("/")
    assert await resp.text() == "form error=None"


class TestNesting:
    async def test_middleware_and_decorator_run_the_lifecycle_once(
        self, aiohttp_client: Any
    ) -> None:
        counting = CountingStorage(aiohttp_flashbag_storage())

        @with_flashbag
        async def page(request: web.Request) -> web.Response:
            assert get_flashed_messages(request) == []
            flash(request, "from page")
            raise web.HTTPFound("/show")

        async def show(request: web.Request) -> web.Response:
            return web.json_response(get_flashed_messages(request))

        app = make_app(
            [("GET", "/", page), ("GET", "/show", show)],
            storage=counting.storage,
            middleware=True,
        )
        client: Client = await aiohttp_client(app)
        resp = await client.get("/")
        assert await resp.json() == ["from page"]
        assert counting.loads == 2
        assert counting.saves == 2  # one per request, not one per scope

    async def test_mixin_and_decorated_method(self, aiohttp_client: Any) -> None:
        class View(FlashbagMixin, web.View):
            @with_flashbag
            async def get(self) -> web.Response:
                seen = self.flashbag.get("n", 0)
                assert isinstance(seen, int)
                self.flashbag.set("n", seen + 1)
                return web.json_response(seen)

        counting = CountingStorage(aiohttp_flashbag_storage())
        client: Client = await aiohttp_client(
            make_app([("*", "/", View)], storage=counting.storage)
        )
        assert [await (await client.get("/")).json() for _ in range(3)] == [0, 1, 2]
        assert counting.loads == 3  # one session load per request, not per scope
        assert counting.saves == 3

    async def test_decorator_on_a_view_method(self, aiohttp_client: Any) -> None:
        class View(web.View):
            @with_flashbag
            async def get(self) -> web.Response:
                return web.json_response(flashbag_get(self.request, "x"))

            @with_flashbag
            async def post(self) -> web.Response:
                flashbag_set(self.request, "x", "posted")
                raise web.HTTPSeeOther("/")

            async def put(self) -> web.Response:
                try:
                    flashbag_set(self.request, "x", "never")
                except RuntimeError as exc:
                    return web.json_response(str(exc))
                return web.json_response(None)

        client: Client = await aiohttp_client(make_app([("*", "/", View)]))
        assert await (await client.post("/")).json() == "posted"
        assert await (await client.get("/")).json() is None
        error = await (await client.put("/")).json()  # the method has no scope
        for way in (
            "@aiohttp_flashbag.with_flashbag",
            "FlashbagMixin",
            "flashbag_middleware",
        ):
            assert way in error

    async def test_decorator_on_a_method_taking_the_request(
        self, aiohttp_client: Any
    ) -> None:
        class Handlers:
            def __init__(self) -> None:
                self.greeting = "hi"

            @with_flashbag
            async def set(self, request: web.Request) -> web.Response:
                flashbag_set(request, "g", self.greeting)
                raise web.HTTPSeeOther("/get")

            @with_flashbag
            async def get(self, request: web.Request) -> web.Response:
                return web.json_response(flashbag_get(request, "g"))

        handlers = Handlers()
        app = make_app([("POST", "/set", handlers.set), ("GET", "/get", handlers.get)])
        client: Client = await aiohttp_client(app)
        assert await (await client.post("/set")).json() == "hi"


def aiohttp_flashbag_storage() -> Any:
    from aiohttp_session import SimpleCookieStorage

    return SimpleCookieStorage()


class TestTheDoors:
    def test_decorator_keeps_name_doc_and_signature(self) -> None:
        async def handler(request: web.Request) -> web.Response:
            """Doc."""
            return web.Response()

        wrapped = with_flashbag(handler)
        assert wrapped.__name__ == "handler"
        assert wrapped.__doc__ == "Doc."
        assert inspect.signature(wrapped) == inspect.signature(handler)
        assert inspect.iscoroutinefunction(wrapped)

    def test_decorator_refuses_what_is_not_callable(self) -> None:
        with pytest.raises(TypeError, match="async def"):
            with_flashbag("nope")  # type: ignore[arg-type]

    async def test_decorator_needs_a_request(self) -> None:
        @with_flashbag
        async def handler(request: web.Request) -> None:
            return None

        with pytest.raises(TypeError, match="expected the request"):
            await handler("not a request")  # type: ignore[arg-type]

    async def test_a_decorated_partial_without_a_request_says_so_too(self) -> None:
        """A ``functools.partial`` of an ``async def`` handler is accepted
        (a coroutine function); called without a request, it is the same
        :exc:`TypeError` as for a function, not an ``AttributeError``: a
        partial has no ``__qualname__``.
        """

        async def handler(request: web.Request, title: str) -> None:
            return None

        wrapped = with_flashbag(functools.partial(handler, title="Page"))
        with pytest.raises(TypeError, match="expected the request"):
            await wrapped("not a request")

    def test_mixin_must_come_before_the_view(self) -> None:
        with pytest.raises(TypeError, match="FlashbagMixin before"):

            class Wrong(web.View, FlashbagMixin):  # type: ignore[misc,metaclass]
                pass

    async def test_middleware_is_called_with_request_and_handler(
        self, aiohttp_client: Any
    ) -> None:
        # An old-style (app, handler) factory would be called with the app
        # and warn (an error here); the middleware opens a scope instead.
        seen: list[bool] = []

        async def handler(request: web.Request) -> web.Response:
            seen.append(isinstance(aiohttp_flashbag.get_flashbag(request), Flashbag))
            return web.Response(text="ok")

        client: Client = await aiohttp_client(
            make_app([("GET", "/", handler)], middleware=True)
        )
        resp = await client.get("/")
        assert (resp.status, await resp.text()) == (200, "ok")
        assert seen == [True]


if TYPE_CHECKING:  # checked by mypy --strict in tests/meta/test_quality.py
    from typing import assert_type

    class TypedView(web.View):
        @with_flashbag
        async def get(self) -> web.Response:
            return web.Response()

    @with_flashbag
    async def typed_handler(request: web.Request) -> web.Response:
        return web.Response()

    async def _signatures_are_kept(view: TypedView, request: web.Request) -> None:
        assert_type(await view.get(), web.Response)
        assert_type(await typed_handler(request), web.Response)
        await view.get(request)  # type: ignore[call-arg]
        await typed_handler(view)  # type: ignore[arg-type]


async def test_a_view_whose_scope_cannot_open_starts_no_dispatch() -> None:
    """Without the session middleware the scope refuses to open (docs/
    lifecycle.rst, "Bad input and faults"): the view's own dispatch must not
    have been started, or Python warns that it was never awaited."""
    import gc
    import warnings

    from aiohttp.test_utils import make_mocked_request

    class Page(aiohttp_flashbag.FlashbagMixin, web.View):
        async def get(self) -> web.Response:
            return web.Response(text="never")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match="session middleware"):
            await Page(make_mocked_request("GET", "/"))
        gc.collect()  # an un-awaited coroutine warns when it is collected
    assert not [w for w in caught if "never awaited" in str(w.message)]


# == The table =========================================================================
#
# How a request ends decides what is stored (docs/lifecycle.rst, "The
# table"): a response by the status it answers with, one without a body
# and a file too.


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
        routes_app({"/seed": seed, "/page": handler, "/show": show_incoming})
    )
    await client.post("/seed", allow_redirects=False)
    assert (await client.get("/page")).status == status
    assert await shown(client) == {"values": {"own": 2}, "messages": []}


THIS_FILE = __file__


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
            ("GET", "/messages", show_messages),
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


@pytest.mark.parametrize("hooked", [False, True], ids=["no setup()", "setup()"])
@pytest.mark.parametrize(
    ("returned", "sent", "left"),
    [
        (200, 500, []),  # consumed by the page the scope saw
        (303, 200, ["waiting"]),  # carried by the redirect the scope saw
        (500, 200, ["waiting"]),  # unchanged by the failure the scope saw
    ],
)
async def test_lifecycle_a_status_changed_outside_the_scope_does_not_count(
    aiohttp_client: Any, hooked: bool, returned: int, sent: int, left: list[str]
) -> None:
    """docs/lifecycle.rst, "The table": the status that counts is the one
    the response has when the outermost scope ends; a middleware outside
    the scope that changes it afterwards changes nothing that was stored.
    """

    @web.middleware
    async def outer(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        response = await handler(request)
        if request.path == "/page":
            response.set_status(sent)
        return response

    @fb.with_flashbag
    async def page(request: web.Request) -> web.Response:
        return web.Response(status=returned)

    settings: dict[str, Any] = {"max_age": 600} if hooked else {}
    app = make_app(
        [
            ("POST", "/seed", seed_flash),
            ("GET", "/messages", show_messages),
            ("GET", "/page", page),
        ],
        **settings,
    )
    app.middlewares.append(outer)  # inside the session middleware
    client: Client = await aiohttp_client(app)
    assert (await client.post("/seed", allow_redirects=False)).status == 303
    resp = await client.get("/page", allow_redirects=False)
    assert resp.status == sent
    await resp.read()
    assert await (await client.get("/messages")).json() == left


# == Unread flashes ====================================================================
#
# ``setup(app, unread="keep")``: a flash lives until a read shows it
# (docs/lifecycle.rst, "Unread flashes"), through all three scopes.


def unread_app(scope: str, unread: str) -> web.Application:
    """Routes: /post flashes and redirects; /api and /quiet show nothing;
    /show reads the messages; /forget clears. Under the middleware every
    route is scoped, as a favicon or an API call would be."""

    def scoped(handler: Any) -> Any:
        if scope == "decorator":
            return fb.with_flashbag(handler)
        if scope == "mixin":

            class View(fb.FlashbagMixin, web.View):
                async def get(self) -> web.StreamResponse:
                    return await handler(self.request)  # type: ignore[no-any-return]

                async def post(self) -> web.StreamResponse:
                    return await handler(self.request)  # type: ignore[no-any-return]

            return View
        return handler

    async def post(request: web.Request) -> web.Response:
        fb.flash(request, "Saved", "success")
        raise web.HTTPSeeOther("/show")

    async def quiet(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def show(request: web.Request) -> web.Response:
        return web.json_response(fb.get_flashed_messages(request))

    async def forget(request: web.Request) -> web.Response:
        fb.flashbag_clear(request)
        return web.json_response({"cleared": True})

    routes = [("*", "/post", post), ("*", "/quiet", quiet), ("*", "/show", show)]
    routes.append(("*", "/forget", forget))
    return make_app(
        [(m, p, scoped(h)) for m, p, h in routes],
        middleware=scope == "middleware",
        unread=unread,
    )


async def messages(client: Client) -> list[str]:
    resp = await client.get("/show")
    assert resp.status == 200
    shown: list[str] = await resp.json()
    return shown


@pytest.mark.parametrize("scope", SCOPES)
async def test_pages_that_show_nothing_consume_nothing(
    aiohttp_client: Any, scope: str
) -> None:
    client: Client = await aiohttp_client(unread_app(scope, "keep"))
    await client.post("/post", allow_redirects=False)
    for _ in range(3):  # an API call, a favicon: pages that read no flash
        assert (await client.get("/quiet")).status == 200
        assert (await client.get("/favicon.ico")).status == 404
    assert await messages(client) == ["Saved"]
    assert await messages(client) == []  # shown once: gone


@pytest.mark.parametrize("scope", SCOPES)
async def test_the_default_drops_what_a_page_did_not_show(
    aiohttp_client: Any, scope: str
) -> None:
    client: Client = await aiohttp_client(unread_app(scope, "drop"))
    await client.post("/post", allow_redirects=False)
    assert (await client.get("/quiet")).status == 200
    assert await messages(client) == []


@pytest.mark.parametrize("scope", SCOPES)
async def test_clear_forgets_the_unread_flashes_too(
    aiohttp_client: Any, scope: str
) -> None:
    client: Client = await aiohttp_client(unread_app(scope, "keep"))
    await client.post("/post", allow_redirects=False)
    assert (await client.get("/forget")).status == 200
    assert await messages(client) == []


async def test_a_new_session_ends_unread_flashes(aiohttp_client: Any) -> None:
    from aiohttp_session import new_session

    @fb.with_flashbag
    async def log_in(request: web.Request) -> web.Response:
        (await new_session(request))["user"] = "ann"
        return web.json_response({"user": "ann"})

    app = unread_app("decorator", "keep")
    app.router.add_post("/login", log_in)
    client: Client = await aiohttp_client(app)
    await client.post("/post", allow_redirects=False)
    assert (await client.post("/login")).status == 200
    assert await messages(client) == []


# == Bounded life ======================================================================
#
# A flash stamped by a worker whose clock is ahead does not live longer.
#
# docs/lifecycle.rst, "Bounded life": a flash older than ``max_age`` seconds is
# dropped when a scope loads it; carrying and keeping do not renew it. A time
# in the future (a worker whose clock is ahead) counts as the reader's now at
# the commit that first carries or keeps it, which stores that time: the flash
# outlives ``max_age`` by at most the time until it is first carried, never by
# the skew.
#
# The library reads ``time.time()`` when it uses it: the tests move the clock
# of the whole app between requests, as if each went to another worker.


MAX_AGE = 60
SKEW = 3600  # the fast worker is an hour ahead


async def leave(request: web.Request) -> web.Response:
    fb.flashbag_set(request, "form", {"name": "Ann"})
    fb.flash(request, "Saved", "success")
    raise web.HTTPSeeOther("/elsewhere")


async def carry(request: web.Request) -> web.Response:
    """Shows nothing; carries (a redirect) or keeps (a page) what came in."""
    if request.headers.get("X-How") == "keep":
        fb.flashbag_keep(request)
        return web.Response(text="kept")
    raise web.HTTPSeeOther("/elsewhere")


def app_of() -> web.Application:
    return build_app(
        SimpleCookieStorage(),
        {"/leave": leave, "/carry": carry, "/show": show_all},
        settings={"max_age": MAX_AGE},
    )


ALL = {"values": {"form": {"name": "Ann"}}, "messages": [["success", "Saved"]]}
NONE: dict[str, Any] = {"values": {}, "messages": []}


@pytest.mark.parametrize("later", [MAX_AGE - 5, MAX_AGE + 5])
@pytest.mark.parametrize("how", ["redirect", "keep"])
async def test_a_future_stamp_counts_from_the_first_carry(
    aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch, how: str, later: int
) -> None:
    clock = Clock(monkeypatch)
    client: Client = await aiohttp_client(app_of())
    clock.offset = SKEW
    assert (await client.post("/leave", allow_redirects=False)).status == 303
    clock.offset = 0  # the next request goes to a worker with the right time
    resp = await client.get("/carry", headers={"X-How": how}, allow_redirects=False)
    assert resp.status in (200, 303)
    clock.offset = later
    shown = await (await client.get("/show")).json()
    assert shown == (ALL if later < MAX_AGE else NONE)


async def test_each_write_is_stamped_when_it_is_made(
    aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flash's age counts from its own write, not from the request's first
    write: in a request that lasts, a later flash lives its whole
    ``max_age``.
    """
    clock = Clock(monkeypatch)

    async def slow_form(request: web.Request) -> web.StreamResponse:
        fb.flash(request, "early")
        clock.offset = 40  # the request goes on for 40 seconds
        fb.flash(request, "late")
        raise web.HTTPSeeOther("/show")

    app = build_app(
        SimpleCookieStorage(),
        {"/slow": slow_form, "/show": show_all},
        settings={"max_age": MAX_AGE},
    )
    client: Client = await aiohttp_client(app)
    assert (await client.post("/slow", allow_redirects=False)).status == 303
    clock.offset = 40 + MAX_AGE - 10  # "early" is too old, "late" is not
    shown = await (await client.get("/show")).json()
    assert shown == {"values": {}, "messages": [["message", "late"]]}


@pytest.mark.parametrize("later", [20 + MAX_AGE - 5, 20 + MAX_AGE + 5])
async def test_carrying_again_does_not_renew_it(
    aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch, later: int
) -> None:
    clock = Clock(monkeypatch)
    client: Client = await aiohttp_client(app_of())
    clock.offset = SKEW
    await client.post("/leave", allow_redirects=False)
    clock.offset = 20  # first carried 20 s after it was set, by a right clock
    await client.get("/carry", allow_redirects=False)
    for step in (30, 45, 60):  # carried again and again, on right clocks
        clock.offset = step
        await client.get("/carry", headers={"X-How": "keep"})
        await client.get("/carry", allow_redirects=False)
    clock.offset = later
    shown = await (await client.get("/show")).json()
    assert shown == (ALL if later < 20 + MAX_AGE else NONE)


async def test_a_future_stamp_is_read_as_fresh(
    aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    client: Client = await aiohttp_client(app_of())
    clock.offset = SKEW
    await client.post("/leave", allow_redirects=False)
    clock.offset = 0
    assert await (await client.get("/show")).json() == ALL


class SettingsClock:
    """A clock given to the settings, moved by hand: no patching."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("how", ["redirect", "keep"])
async def test_a_future_stamp_becomes_the_now_of_the_commit_that_carries_it(
    aiohttp_client: Any, how: str
) -> None:
    """docs/lifecycle.rst, "Bounded life": a time in the future counts as
    the reader's now at the commit that first carries or keeps it, not at
    the opening of that request's scope: a request that lasts does not
    shorten the flash's life.
    """
    clock = SettingsClock()
    start = clock.now

    async def slow_carry(request: web.Request) -> web.Response:
        clock.now += 40  # the request goes on for 40 seconds
        return await carry(request)

    app = build_app(
        SimpleCookieStorage(),
        {"/leave": leave, "/carry": slow_carry, "/show": show_all},
        settings={"max_age": MAX_AGE},
    )
    with_clock(app, clock)
    client: Client = await aiohttp_client(app)
    clock.now = start + SKEW
    assert (await client.post("/leave", allow_redirects=False)).status == 303
    clock.now = start
    resp = await client.get("/carry", headers={"X-How": how}, allow_redirects=False)
    assert resp.status in (200, 303)
    stored = raw_bag_in_jar(client)[MARKER]
    assert stored[1]["form"][0] == start + 40
    clock.now = start + 40 + MAX_AGE - 5
    assert await (await client.get("/show")).json() == ALL


async def test_what_gives_way_to_max_bytes_leaves_the_others_their_time(
    aiohttp_client: Any,
) -> None:
    """docs/lifecycle.rst, "Bounded life": whatever drops flashes keeps the
    time of those that remain. A flash carried while a later one gives way
    to ``max_bytes`` (and one carried while an older one gives way) still
    expires ``max_age`` after it was set, by the clock the settings carry.
    """

    async def put(request: web.Request) -> web.Response:
        for key, value in request.query.items():
            fb.flashbag_set(request, key, value)
        raise web.HTTPSeeOther("/show")

    clock = SettingsClock()
    app = build_app(
        SimpleCookieStorage(),
        {"/put": put, "/carry": carry, "/show": show_all},
        settings={"max_age": MAX_AGE, "max_bytes": 150},
    )
    with_clock(app, clock)
    client: Client = await aiohttp_client(app)
    start = int(clock.now)
    await client.get("/put?old=" + "o" * 40, allow_redirects=False)
    clock.now += 20
    # carried at +20, with a flash of its own too large to stay beside it
    await client.get("/put?new=" + "n" * 60, allow_redirects=False)
    stored = raw_bag_in_jar(client)[MARKER]
    assert stored[1] == {"new": [start + 20, "n" * 60]}  # the oldest gave way
    clock.now += 10
    await client.get("/put?small=s", allow_redirects=False)
    stored = raw_bag_in_jar(client)[MARKER]
    assert stored[1] == {"new": [start + 20, "n" * 60], "small": [start + 30, "s"]}
    clock.now = start + 20 + MAX_AGE + 1  # "new" is too old, "small" is not
    shown = await (await client.get("/show")).json()
    assert shown["values"] == {"small": "s"}


# == Tried as an attacker and a careless user would ====================================
#
# Nothing lost, nothing leaked, never a broken session: tried over real HTTP as an
# attacker and a careless user would.


# -- nothing a caller gets back is shared ----------------------------------------


class TestNothingIsShared:
    async def test_mutating_everything_a_read_returns_changes_nothing(
        self, aiohttp_client: Any
    ) -> None:
        @fb.with_flashbag
        async def start(request: web.Request) -> web.Response:
            fb.flashbag_set(request, "form", {"name": "Ann", "tags": [1, 2]})
            fb.flash(request, {"text": "Saved", "ids": [1]}, "success")
            raise web.HTTPSeeOther("/show")

        @fb.with_flashbag
        async def meddle(request: web.Request) -> web.Response:
            bag = fb.get_flashbag(request)
            form: Any = fb.flashbag_get(request, "form")
            form["name"] = "Eve"
            form["tags"].append(666)
            again = fb.flashbag_get(request, "form")
            messages = fb.get_flashed_messages(request)
            messages[0]["ids"].append(666)
            messages.append("forged")
            pairs = fb.get_flashed_messages(request, with_categories=True)
            pairs[0].message["text"] = "forged"
            pairs.append(Message("error", "forged"))
            incoming = bag.incoming
            incoming.values["form"]["tags"].append(777)
            incoming.values.setdefault("leak", {"from": "meddle"})
            incoming.messages[0].message["ids"].append(777)
            incoming.messages.append(Message("error", "forged"))
            draft = {"lines": ["a"]}
            fb.flashbag_set(request, "draft", draft)
            draft["lines"].append("forged")
            item = {"n": [1]}
            fb.flashbag_append(request, "items", item)
            item["n"].append(2)
            mapping = {"m": [1]}
            fb.get_flashbag(request).set("m", mapping["m"])
            mapping["m"].append(2)
            outgoing = bag.outgoing
            outgoing.values["draft"]["lines"].append("forged")
            outgoing.values["items"].append({"n": [3]})
            outgoing.values.setdefault("leak", 1)
            outgoing.messages.append(Message("error", "forged"))
            fb.flashbag_keep(request)  # all incoming goes on, as it came in
            return web.json_response(
                {
                    "again": again,
                    "after": fb.flashbag_get(request, "form"),
                    "messages": [
                        list(m)
                        for m in fb.get_flashed_messages(request, with_categories=True)
                    ],
                    "incoming": bag.incoming.values,
                    "outgoing": bag.outgoing.values,
                    "out_messages": bag.outgoing.messages,
                    "leak": fb.flashbag_get(request, "leak"),
                    "leak_in": "leak" in bag,
                }
            )

        client: Client = await aiohttp_client(
            make_app(
                [
                    ("POST", "/", start),
                    ("GET", "/meddle", meddle),
                    ("GET", "/show", show_session),
                ]
            )
        )
        other: Client = await aiohttp_client(client.server)
        await client.post("/", allow_redirects=False)
        seen = await (await client.get("/meddle")).json()
        original_form = {"name": "Ann", "tags": [1, 2]}
        original_message = ["success", {"text": "Saved", "ids": [1]}]
        assert seen == {
            "again": original_form,
            "after": original_form,
            "messages": [original_message],
            "incoming": {"form": original_form},
            "outgoing": {"draft": {"lines": ["a"]}, "items": [{"n": [1]}], "m": [1]},
            "out_messages": [],
            "leak": None,
            "leak_in": False,
        }
        # the next request of the same visitor: what was stored, untouched
        assert await (await client.get("/show")).json() == {
            "user": None,
            "values": {
                "form": original_form,
                "draft": {"lines": ["a"]},
                "items": [{"n": [1]}],
                "m": [1],
            },
            "messages": [original_message],
        }
        # another visitor sees nothing of it
        assert await (await other.get("/show")).json() == {
            "user": None,
            "values": {},
            "messages": [],
        }

    async def test_the_empty_incoming_of_one_visitor_is_not_anothers(
        self, aiohttp_client: Any
    ) -> None:
        """Issue item 1: the incoming of a request with nothing incoming."""

        @fb.with_flashbag
        async def careless(request: web.Request) -> web.Response:
            incoming = fb.get_flashbag(request).incoming
            incoming.values.setdefault("form", {"name": "Ann"})
            incoming.messages.append(Message("message", "for Ann"))
            return web.Response(text="ok")

        @fb.with_flashbag
        async def flash_and_redirect(request: web.Request) -> web.Response:
            found = fb.flashbag_get(request, "form")
            fb.flash(request, f"found {found!r}")
            fb.flashbag_keep(request)
            raise web.HTTPSeeOther("/show")

        app = make_app(
            [
                ("GET", "/careless", careless),
                ("POST", "/", flash_and_redirect),
                ("GET", "/show", show_session),
            ]
        )
        ann: Client = await aiohttp_client(app)
        bob: Client = await aiohttp_client(ann.server)
        assert (await ann.get("/careless")).status == 200
        assert COOKIE not in (await ann.get("/careless")).cookies
        resp = await bob.post("/", allow_redirects=False)
        assert set_cookie_session(resp) is not None
        stored = json.dumps(set_cookie_session(resp))
        assert "Ann" not in stored
        assert await (await bob.get("/show")).json() == {
            "user": None,
            "values": {},
            "messages": [["message", "found None"]],
        }


# -- bounded life ------------------------------------------------------------------


@fb.with_flashbag
async def life(request: web.Request) -> web.Response:
    """``?set=1`` sets; ``?keep=1`` reads and keeps; ``?carry=1`` redirects."""
    if "set" in request.query:
        fb.flashbag_set(request, "a", "value")
        fb.flash(request, "message")
    if "keep" in request.query:
        fb.flashbag_get(request, "a")
        fb.get_flashed_messages(request)
        fb.flashbag_keep(request)
    if "set" in request.query or "carry" in request.query:
        raise web.HTTPSeeOther("/show")
    return web.Response(text="page")


def life_app(**settings: Any) -> web.Application:
    return make_app([("GET", "/", life), ("GET", "/show", show_session)], **settings)


SET = {"user": None, "values": {"a": "value"}, "messages": [["message", "message"]]}


class TestBoundedLife:
    async def test_a_flash_lives_max_age_seconds_and_carrying_does_not_renew_it(
        self, aiohttp_client: Any, clock: Clock
    ) -> None:
        client: Client = await aiohttp_client(life_app())
        other: Client = await aiohttp_client(client.server)
        await client.get("/?set=1", allow_redirects=False)
        await other.get("/?set=1", allow_redirects=False)
        for offset in (200, 400, 590):
            clock.offset = offset
            resp = await client.get("/?carry=1", allow_redirects=False)
            assert resp.status == 303
        clock.offset = 590
        assert await (await other.get("/show")).json() == SET  # still alive
        clock.offset = 610
        assert await (await client.get("/show")).json() == NOTHING
        assert KEY not in session_in(client)  # dropped and removed

    async def test_keeping_does_not_renew_a_flash(
        self, aiohttp_client: Any, clock: Clock
    ) -> None:
        client: Client = await aiohttp_client(life_app())
        await client.get("/?set=1", allow_redirects=False)
        for offset in (100, 300, 590):
            clock.offset = offset
            await client.get("/?keep=1")
            assert KEY in session_in(client)
        clock.offset = 610
        assert await (await client.get("/show")).json() == NOTHING

    async def test_an_expired_flash_is_dropped_whatever_the_page_does(
        self, aiohttp_client: Any, clock: Clock
    ) -> None:
        client: Client = await aiohttp_client(life_app(max_age=60))
        await client.get("/?set=1", allow_redirects=False)
        clock.offset = 61
        # a HEAD consumes nothing and a redirect carries unread flashes: an
        # expired one is gone all the same
        await client.head("/?carry=1", allow_redirects=False)
        await client.get("/?keep=1")
        assert await (await client.get("/show")).json() == NOTHING

    async def test_max_age_none_keeps_flashes_forever(
        self, aiohttp_client: Any, clock: Clock
    ) -> None:
        client: Client = await aiohttp_client(life_app(max_age=None))
        await client.get("/?set=1", allow_redirects=False)
        clock.offset = 10**7
        assert await (await client.get("/show")).json() == SET

    @pytest.mark.parametrize(
        "entry",
        [
            {"a": "value"},  # aiohttp-flashbag 0.0.3
            [1, {"a": "value"}, [["message", "message"]]],  # the previous form
        ],
        ids=["0.0.3", "version-1"],
    )
    async def test_data_stored_without_a_time_is_read_as_set_now(
        self, aiohttp_client: Any, clock: Clock, entry: Any
    ) -> None:
        expected = SET if isinstance(entry, list) else {**SET, "messages": []}
        client: Client = await aiohttp_client(life_app())
        clock.offset = 10**6  # long after the data was written
        put_session(client, {"user": "ann", KEY: entry})
        assert await (await client.get("/show")).json() == {**expected, "user": "ann"}

        # carried unread at T, it is stamped T: gone max_age after that
        put_session(client, {"user": "ann", KEY: entry})
        await client.get("/?carry=1", allow_redirects=False)
        clock.offset += 590
        await client.get("/?carry=1", allow_redirects=False)
        clock.offset += 20
        assert await (await client.get("/show")).json() == {**NOTHING, "user": "ann"}


# -- a new session -----------------------------------------------------------------


@pytest.mark.parametrize("switch", ["new_session", "invalidate"])
@pytest.mark.parametrize("end", ["303", "200", "400", "HEAD"])
async def test_a_new_session_starts_clean(
    aiohttp_client: Any, switch: str, end: str
) -> None:
    @fb.with_flashbag
    async def login(request: web.Request) -> web.Response:
        (await get_session(request))["user"] = "alice"
        fb.flashbag_set(request, "draft", "alice's draft")
        fb.flash(request, "Welcome alice")
        raise web.HTTPSeeOther("/show")  # never followed

    @fb.with_flashbag
    async def logout(request: web.Request) -> web.Response:
        fb.flashbag_keep(request)  # a careless handler keeps everything
        fb.flashbag_set(request, "before", 1)
        fb.flash(request, "flashed before")
        if switch == "new_session":
            await new_session(request)
        else:
            (await get_session(request)).invalidate()
        fb.flashbag_set(request, "after", 2)
        fb.flash(request, "Logged out")
        if end == "303":
            raise web.HTTPSeeOther("/show")
        return web.Response(status=int(end) if end != "HEAD" else 200)

    client: Client = await aiohttp_client(
        make_app(
            [
                ("POST", "/login", login),
                ("*", "/logout", logout),
                ("GET", "/show", show_session),
            ]
        )
    )
    await client.post("/login", allow_redirects=False)
    method = "HEAD" if end == "HEAD" else "POST"
    await client.request(method, "/logout", allow_redirects=False)
    assert await (await client.get("/show")).json() == {
        "user": None,
        "values": {"before": 1, "after": 2},
        "messages": [["message", "flashed before"], ["message", "Logged out"]],
    }


async def test_a_new_session_left_empty_is_not_saved_and_the_old_one_stays(
    aiohttp_client: Any,
) -> None:
    """docs/lifecycle.rst, "New sessions": aiohttp-session saves a new
    session only when something is written to it. A handler that calls
    ``new_session()`` and leaves it empty (no login, no flash to pass on)
    leaves the browser with its old session, whose flashes stay as they
    were, the ones this request showed included: nothing of the old session
    is carried into the new one, and nothing is written to the old one.
    """

    @fb.with_flashbag
    async def switch(request: web.Request) -> web.Response:
        shown_here = get_flashed_messages(request)
        await new_session(request)
        return web.json_response(shown_here)

    client: Client = await aiohttp_client(
        routes_app({"/seed": seed_flash, "/switch": switch, "/show": show_incoming})
    )
    await client.post("/seed", allow_redirects=False)
    before = cookie_of(client)
    resp = await client.get("/switch")
    assert await resp.json() == ["waiting"]
    assert COOKIE not in resp.cookies  # the new session was not saved
    assert cookie_of(client) == before
    assert await shown(client) == {"values": {}, "messages": [["message", "waiting"]]}


# -- responses aiohttp-session does not save ---------------------------------------


def download_app(tmp_path: Path) -> web.Application:
    path = tmp_path / "report.csv"
    path.write_text("a,b\n1,2\n")

    @fb.with_flashbag
    async def start(request: web.Request) -> web.Response:
        (await get_session(request))["user"] = "ann"
        fb.flashbag_set(request, "old", 1)
        fb.flash(request, "old message")
        raise web.HTTPSeeOther("/show")

    @fb.with_flashbag
    async def download(request: web.Request) -> web.StreamResponse:
        if "flash" in request.query:
            fb.flashbag_set(request, "new", 2)
            fb.flash(request, "Download started")
        if request.query.get("kind") == "stream":
            return web.StreamResponse(headers={"Content-Length": "0"})
        return web.FileResponse(path)

    return make_app(
        [
            ("POST", "/", start),
            ("GET", "/download", download),
            ("GET", "/show", show_session),
        ]
    )


@pytest.mark.parametrize("kind", ["file", "stream"])
class TestDownloads:
    async def test_a_flash_set_before_a_download_is_stored(
        self, aiohttp_client: Any, tmp_path: Path, kind: str
    ) -> None:
        client: Client = await aiohttp_client(download_app(tmp_path))
        await client.post("/", allow_redirects=False)
        resp = await client.get(f"/download?kind={kind}&flash=1")
        assert resp.status == 200
        await resp.read()
        assert COOKIE in resp.cookies
        assert await (await client.get("/show")).json() == {
            "user": "ann",
            "values": {"new": 2},  # "old" was consumed by the download
            "messages": [["message", "Download started"]],
        }

    async def test_a_download_consumes_incoming_flashes(
        self, aiohttp_client: Any, tmp_path: Path, kind: str
    ) -> None:
        client: Client = await aiohttp_client(download_app(tmp_path))
        await client.post("/", allow_redirects=False)
        resp = await client.get(f"/download?kind={kind}")
        await resp.read()
        assert await (await client.get("/show")).json() == {**NOTHING, "user": "ann"}
        assert session_in(client) == {"user": "ann"}

    async def test_a_download_that_changes_no_flash_writes_no_session(
        self, aiohttp_client: Any, tmp_path: Path, kind: str
    ) -> None:
        client: Client = await aiohttp_client(download_app(tmp_path))
        resp = await client.get(f"/download?kind={kind}")  # an anonymous visitor
        await resp.read()
        assert COOKIE not in resp.cookies
        assert len(client.session.cookie_jar) == 0
        await client.post("/", allow_redirects=False)
        await client.get("/show")  # nothing incoming any more
        resp = await client.get(f"/download?kind={kind}")  # a logged-in one
        await resp.read()
        assert COOKIE not in resp.cookies


# -- a second scope in one request -------------------------------------------------


async def test_a_scope_after_an_ended_one_is_a_new_scope(aiohttp_client: Any) -> None:
    """An error middleware calls a decorated error page after the handler's
    scope has ended: the page sees what that scope stored and commits its own.
    """

    @fb.with_flashbag
    async def error_page(request: web.Request, status: int) -> web.Response:
        fb.flash(request, f"Error {status}", "error")
        if status == 404:  # shows what came in, its own message too
            shown = fb.get_flashed_messages(request, with_categories=True)
            return web.json_response([list(m) for m in shown], status=404)
        raise web.HTTPSeeOther("/show")

    @web.middleware
    async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except web.HTTPClientError as exc:
            return await error_page(request, status=exc.status)
        except ZeroDivisionError:
            return await error_page(request, status=500)

    @fb.with_flashbag
    async def failing(request: web.Request) -> web.Response:
        fb.flash(request, f"from {request.path}")
        if request.path == "/broken":
            raise ZeroDivisionError  # nothing of this request is stored
        if request.path == "/missing":
            raise web.HTTPNotFound()
        raise web.HTTPForbidden()

    app = make_app(
        [
            ("POST", "/start", start_with_a_flash),
            ("GET", "/missing", failing),
            ("GET", "/forbidden", failing),
            ("GET", "/broken", failing),
            ("GET", "/show", show_session),
        ]
    )
    app.middlewares.append(errors)  # inside the session middleware
    client: Client = await aiohttp_client(app)

    await client.post("/start", allow_redirects=False)
    resp = await client.get("/missing")
    assert resp.status == 404
    assert await resp.json() == [
        ["message", "from /missing"],  # stored by the handler's scope
        ["error", "Error 404"],
    ]
    # the handler's scope consumed the earlier flash, the error page the rest
    assert await (await client.get("/show")).json() == NOTHING

    await client.post("/start", allow_redirects=False)
    resp = await client.get("/forbidden")  # the error page redirects
    assert await resp.json() == {
        **NOTHING,
        "messages": [["message", "from /forbidden"], ["error", "Error 403"]],
    }

    await client.post("/start", allow_redirects=False)
    resp = await client.get("/broken")  # the error page redirects
    assert await resp.json() == {
        **NOTHING,
        "messages": [["message", "earlier"], ["error", "Error 500"]],
    }


@fb.with_flashbag
async def start_with_a_flash(request: web.Request) -> web.Response:
    fb.flash(request, "earlier")
    raise web.HTTPSeeOther("/show")


# -- sub-app settings --------------------------------------------------------------


@pytest.mark.parametrize("scope", ["parent middleware", "sub middleware", "decorator"])
async def test_a_sub_apps_own_setup_wins_for_its_routes(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, scope: str
) -> None:
    async def setter(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "big", "x" * 200)  # gives way over max_bytes=100
        fb.flashbag_set(request, "small", 1)
        return web.Response(text="accepted")

    scoped = fb.with_flashbag(setter) if scope == "decorator" else setter
    app = make_app(
        [("GET", "/", scoped)],
        middleware=scope == "parent middleware",
        session_key="parent_key",
        max_bytes=1000,
    )
    sub = web.Application()
    if scope == "sub middleware":
        sub.middlewares.append(fb.flashbag_middleware)
    fb.setup(sub, session_key="sub_key", max_bytes=100)
    sub.router.add_get("/", scoped)
    app.add_subapp("/sub", sub)
    if scope == "sub middleware":
        app.router.add_get("/parent", fb.with_flashbag(setter))
    client: Client = await aiohttp_client(app)

    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get("/sub/")
    assert "over max_bytes=100" in caplog.text
    session = set_cookie_session(resp)
    assert session is not None
    assert list(session) == ["sub_key"]
    assert "big" not in json.dumps(session["sub_key"])
    caplog.clear()

    resp = await client.get("/" if scope != "sub middleware" else "/parent")
    assert "max_bytes" not in caplog.text  # the parent's own settings
    session = set_cookie_session(resp)
    assert session is not None
    assert set(session) == {"sub_key", "parent_key"}
    assert "big" in json.dumps(session["parent_key"])


async def test_the_app_that_loads_a_flash_ages_it_with_its_own_max_age(
    aiohttp_client: Any,
) -> None:
    """docs/lifecycle.rst, "Bounded life": a flash is aged by the scope that
    loads it, with the ``max_age`` of the app that owns that route: set
    under a sub-application whose flashes live 60 seconds, it is shown 100
    seconds later by the main application's page, whose flashes live 600;
    the other way round, it is gone.
    """
    clock = SettingsClock()

    async def put(request: web.Request) -> web.Response:
        fb.flash(request, "saved")
        raise web.HTTPSeeOther("show")

    async def show(request: web.Request) -> web.Response:
        return web.json_response(fb.get_flashed_messages(request))

    app = make_app(
        [("GET", "/put", put), ("GET", "/show", show)], middleware=True, max_age=600
    )
    sub = web.Application()
    fb.setup(sub, max_age=60)
    sub.router.add_get("/put", put)
    sub.router.add_get("/show", show)
    app.add_subapp("/sub", sub)
    for each in (app, sub):
        with_clock(each, clock)
    client: Client = await aiohttp_client(app)
    await client.get("/sub/put", allow_redirects=False)
    clock.now += 100
    assert await (await client.get("/show")).json() == ["saved"]
    await client.get("/put", allow_redirects=False)
    clock.now += 100
    assert await (await client.get("/sub/show")).json() == []


# == Rules checked from the outside ====================================================
#
# Rules checked from the outside, the way a careless user (or an attacker with a
# cookie) meets them; each test is named after the rule it checks.


# -- the lifecycle --------------------------------------------------------------------


def lifecycle_app(**settings: Any) -> web.Application:
    async def set_it(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "a", "A")
        fb.flash(request, "hello")
        raise web.HTTPFound("/page")

    async def status(request: web.Request) -> web.StreamResponse:
        code = int(request.match_info["code"])
        headers = dict(request.query)
        if 300 <= code < 400:
            headers.setdefault("Location", "/page")
        return web.Response(status=code, headers=headers)

    return make_app(
        [
            ("GET", "/set", set_it),
            ("GET", "/page", echo),
            ("*", "/status/{code}", status),
        ],
        middleware=True,
        **settings,
    )


@pytest.mark.parametrize(
    ("method", "code", "query", "survives"),
    [
        ("HEAD", 200, {}, True),
        ("GET", 500, {}, True),
        ("GET", 503, {}, True),
        ("GET", 302, {}, True),
        ("GET", 304, {}, True),
        ("GET", 200, {"HX-Redirect": "/x"}, True),
        ("GET", 200, {"HX-Location": "/x"}, True),
        ("GET", 200, {"HX-Refresh": "true"}, True),
        ("GET", 200, {}, False),
        ("GET", 404, {}, False),
        ("POST", 422, {}, False),
    ],
)
async def test_lifecycle_table_each_ending(
    aiohttp_client: Any, method: str, code: int, query: dict[str, str], survives: bool
) -> None:
    client = await aiohttp_client(lifecycle_app())
    await client.get("/set", allow_redirects=False)
    resp = await client.request(
        method, f"/status/{code}", params=query, allow_redirects=False
    )
    assert resp.status == code
    body = await (await client.get("/page")).json()
    if survives:
        assert body == {
            "values": {"a": "A", "b": None, "k": None},
            "messages": ["hello"],
        }
    else:
        assert body == {"values": {"a": None, "b": None, "k": None}, "messages": []}


async def test_lifecycle_unread_keep_unscoped_like_pages_consume_nothing(
    aiohttp_client: Any,
) -> None:
    client = await aiohttp_client(lifecycle_app(unread="keep"))
    await client.get("/set", allow_redirects=False)
    await client.get("/status/200")
    await client.get("/status/404")
    body = await (await client.get("/page")).json()
    assert body == {"values": {"a": "A", "b": None, "k": None}, "messages": ["hello"]}
    body = await (await client.get("/page")).json()
    assert body["messages"] == []


async def test_lifecycle_own_message_shown_is_not_passed_on_even_on_redirect(
    aiohttp_client: Any,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        fb.flash(request, "mine")
        fb.flash(request, "now", now=True)
        assert fb.get_flashed_messages(request) == ["mine", "now"]
        raise web.HTTPFound("/page")

    app = make_app([("GET", "/", handler), ("GET", "/page", echo)], middleware=True)
    client = await aiohttp_client(app)
    body = await (await client.get("/")).json()
    assert body["messages"] == []


async def test_lifecycle_reads_after_scope_ended_return_incoming_only(
    aiohttp_client: Any,
) -> None:
    seen: dict[str, Any] = {}

    @web.middleware
    async def outer(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        if request.path == "/read":
            seen["messages"] = fb.get_flashed_messages(request)
            seen["a"] = fb.flashbag_get(request, "a")
        return cast(web.StreamResponse, response)

    @fb.with_flashbag
    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, "first")
        raise web.HTTPFound("/read")

    @fb.with_flashbag
    async def read(request: web.Request) -> web.Response:
        fb.flash(request, "second")
        return web.Response(text="page")

    app = web.Application()
    setup_session(app, SimpleCookieStorage())
    app.middlewares.append(outer)
    app.router.add_get("/", set_it)
    app.router.add_get("/read", read)
    client = await aiohttp_client(app)
    await client.get("/")
    assert seen["messages"] == ["first"]
    # the read after the scope ended consumed nothing more: "second" waits
    assert bag_in_jar(client) == [1, {}, [["message", "second"]]]


async def test_scopes_sequential_error_page_sees_and_commits(
    aiohttp_client: Any,
) -> None:
    @fb.with_flashbag
    async def error_page(request: web.Request) -> web.Response:
        return web.json_response(
            {"messages": fb.get_flashed_messages(request)}, status=404
        )

    @web.middleware
    async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return cast(web.StreamResponse, await handler(request))
        except RuntimeError:
            return await error_page(request)

    @fb.with_flashbag
    async def crash(request: web.Request) -> web.Response:
        fb.flash(request, "lost in the crash")
        raise RuntimeError("boom")

    @fb.with_flashbag
    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, "waiting")
        raise web.HTTPFound("/crash")

    app = web.Application()
    setup_session(app, SimpleCookieStorage())
    app.middlewares.append(errors)
    app.router.add_get("/", set_it)
    app.router.add_get("/crash", crash)
    client = await aiohttp_client(app)
    resp = await client.get("/")
    assert resp.status == 404
    assert (await resp.json())["messages"] == ["waiting"]
    # the error page consumed it
    assert bag_in_jar(client) is None


async def test_scopes_sub_app_own_setup_wins_under_parent_middleware(
    aiohttp_client: Any,
) -> None:
    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, "x")
        return web.Response(text="ok")

    parent = web.Application()
    setup_session(parent, SimpleCookieStorage())
    parent.middlewares.append(fb.flashbag_middleware)
    sub = web.Application()
    fb.setup(sub, session_key="sub_key")
    sub.router.add_get("/set", set_it)
    parent.add_subapp("/sub", sub)
    client = await aiohttp_client(parent)
    await client.get("/sub/set")
    data = json.loads(cookie_of(client) or "{}")
    assert "sub_key" in data["session"]
    assert fb.SESSION_KEY not in data["session"]


async def test_new_session_carries_own_flashes_not_incoming(
    aiohttp_client: Any,
) -> None:
    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, "old")
        raise web.HTTPFound("/login")

    async def login(request: web.Request) -> web.Response:
        fb.flash(request, "before switch")
        session = await new_session(request)
        session["user"] = "bob"
        fb.flash(request, "after switch")
        raise web.HTTPFound("/page")

    app = make_app(
        [("GET", "/", set_it), ("GET", "/login", login), ("GET", "/page", echo)],
        middleware=True,
    )
    client = await aiohttp_client(app)
    body = await (await client.get("/")).json()
    assert body["messages"] == ["before switch", "after switch"]


# -- time ---------------------------------------------------------------------------


async def test_clock_future_time_becomes_readers_now_when_carried(
    aiohttp_client: Any,
) -> None:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/page")

    app = make_app([("GET", "/go", redirect), ("GET", "/page", echo)], middleware=True)
    client = await aiohttp_client(app)
    future = int(time.time()) + 10_000
    plant(client, {fb.SESSION_KEY: {MARKER: [2, {"a": [future, "v"]}, []]}})
    before = time.time()
    await client.get("/go", allow_redirects=False)
    stamp = raw_bag_in_jar(client)[MARKER][1]["a"][0]
    assert before - 1 <= stamp <= time.time() + 1


async def test_clock_expired_flash_dropped_when_loaded(aiohttp_client: Any) -> None:
    app = make_app([("GET", "/", echo)], middleware=True, max_age=60)
    client = await aiohttp_client(app)
    old = int(time.time()) - 61 - 1
    plant(
        client,
        {fb.SESSION_KEY: {MARKER: [2, {"a": [old, "v"]}, [[old, "message", "m"]]]}},
    )
    body = await (await client.get("/")).json()
    assert body == {"values": {"a": None, "b": None, "k": None}, "messages": []}


@pytest.mark.parametrize("with_setup", [False, True], ids=["no_setup", "setup"])
async def test_lifecycle_websocket_leaves_flashes_unchanged(
    aiohttp_client: Any, with_setup: bool
) -> None:
    async def ws(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_str("hi")
        await socket.close()
        return socket

    settings: dict[str, Any] = {"max_age": 600} if with_setup else {}
    app = make_app(
        [("GET", "/", set_and_redirect), ("GET", "/ws", ws), ("GET", "/page", echo)],
        middleware=True,
        **settings,
    )
    client = await aiohttp_client(app)
    await client.get("/", allow_redirects=False)
    with record_flashes(app) as records:
        socket = await client.ws_connect("/ws")
        assert await socket.receive_str() == "hi"
        handshake_cookies = socket._response.headers.getall("Set-Cookie", [])
        await socket.close()
        for _ in range(200):  # the handler returns once the close is done
            if records:
                break
            await asyncio.sleep(0.01)
    # a browser takes the Set-Cookie of the handshake
    assert all("hello" in c for c in handshake_cookies), handshake_cookies
    # the browser would take a Set-Cookie of the handshake: none may change flashes
    assert records[-1].stored.messages == [("message", "hello")], records
    assert records[-1].stored.values == {"a": "A"}
    body = await (await client.get("/page")).json()
    assert body["messages"] == ["hello"]
    assert body["values"]["a"] == "A"


async def test_unread_keep_clear_forgets_unread_incoming(aiohttp_client: Any) -> None:
    async def clear(request: web.Request) -> web.Response:
        fb.flashbag_clear(request)
        return web.Response(text="ok")

    app = make_app(
        [
            ("GET", "/", set_and_redirect),
            ("GET", "/clear", clear),
            ("GET", "/page", echo),
        ],
        middleware=True,
        unread="keep",
    )
    client = await aiohttp_client(app)
    await client.get("/", allow_redirects=False)
    await client.get("/clear")
    body = await (await client.get("/page")).json()
    assert body["messages"] == []
    assert body["values"]["a"] is None


async def test_scopes_decorated_view_method_inside_mixin_and_middleware(
    aiohttp_client: Any,
) -> None:
    class View(fb.FlashbagMixin, web.View):
        @fb.with_flashbag
        async def get(self) -> web.Response:
            return web.json_response(self.flashbag.get_flashed_messages())

    app = make_app(
        [("GET", "/", set_and_redirect), ("*", "/page", View)], middleware=True
    )
    client = await aiohttp_client(app)
    assert await (await client.get("/")).json() == ["hello"]
    assert bag_in_jar(client) is None


async def test_lifecycle_websocket_with_setup_on_server_storage_loses_nothing(
    aiohttp_client: Any,
) -> None:
    from ..support.sessions import MemoryStorage

    async def ws(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_str("hi")
        await socket.close()
        return socket

    storage = MemoryStorage()
    app = make_app(
        [("GET", "/", set_and_redirect), ("GET", "/ws", ws), ("GET", "/page", echo)],
        middleware=True,
        storage=storage,
        max_age=600,
    )
    client = await aiohttp_client(app)
    await client.get("/", allow_redirects=False)
    socket = await client.ws_connect("/ws")
    assert await socket.receive_str() == "hi"
    await socket.close()
    body = await (await client.get("/page")).json()
    assert body["messages"] == ["hello"]


# == Scopes: a decorated page called by another handler ==


@fb.with_flashbag
async def titled_page(request: web.Request, title: str = "Page") -> web.Response:
    """A decorated page that other handlers call with arguments of their own."""
    return web.json_response([title, fb.get_flashed_messages(request)])


async def page_by_keyword(request: web.Request) -> web.Response:
    return await titled_page(request=request)


async def page_with_a_title(request: web.Request) -> web.Response:
    return await titled_page(request, "Other")


async def page_with_a_keyword_title(request: web.Request) -> web.Response:
    return await titled_page(request, title="Named")


@pytest.mark.parametrize(
    ("handler", "title"),
    [
        (page_by_keyword, "Page"),
        (page_with_a_title, "Other"),
        (page_with_a_keyword_title, "Named"),
    ],
)
async def test_scopes_a_decorated_page_called_as_its_signature_allows(
    aiohttp_client: Any, handler: Any, title: str
) -> None:
    """docs/lifecycle.rst, "Scopes": the decorator keeps the handler's
    signature, so every call that signature allows opens the scope: the
    request passed by keyword, or followed by other arguments (a handler
    that renders a decorated page of its own with a title).
    """

    @fb.with_flashbag
    async def seed(request: web.Request) -> web.Response:
        fb.flash(request, "saved")
        raise web.HTTPSeeOther("/page")

    app = make_app([("POST", "/seed", seed), ("GET", "/page", handler)])
    client = await aiohttp_client(app)
    await client.post("/seed", allow_redirects=False)
    resp = await client.get("/page")
    assert resp.status == 200, await resp.text()
    assert await resp.json() == [title, ["saved"]]
    assert await (await client.get("/page")).json() == [title, []]


@pytest.mark.parametrize("kind", SCOPES)
@pytest.mark.parametrize("with_setup", [False, True])
async def test_lifecycle_a_visitor_who_goes_away_changes_nothing(
    aiohttp_client: Any, kind: str, with_setup: bool
) -> None:
    """docs/lifecycle.rst, "The table": a request whose visitor goes away
    while the handler runs (a server with ``handler_cancellation=True``
    cancels it) ends with an exception that is not an HTTP response: the
    stored bag is unchanged, what it read is not consumed and what it set is
    not stored, in every scope, with and without ``setup()``.
    """
    entered, ended = asyncio.Event(), asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        assert fb.get_flashed_messages(request) == ["waiting"]
        fb.flash(request, "never stored")
        fb.flashbag_set(request, "draft", "lost")
        entered.set()
        await asyncio.Event().wait()  # until the visitor goes away
        raise AssertionError("not reached")

    @web.middleware
    async def outermost(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return cast(web.StreamResponse, await handler(request))
        finally:
            if request.path == "/slow":
                ended.set()

    async def prime(request: web.Request) -> web.Response:
        fb.flash(request, "waiting")
        raise web.HTTPSeeOther("/show")

    app = build_app(
        SimpleCookieStorage(),
        {"/prime": prime, "/slow": slow, "/show": show_all},
        kind=kind,
        first=[outermost],
        settings={} if with_setup else None,
    )
    client: Client = await aiohttp_client(
        app, server_kwargs={"handler_cancellation": True}
    )
    await client.get("/prime", allow_redirects=False)
    with record_flashes(app) as records:
        request = asyncio.ensure_future(client.get("/slow"))
        await entered.wait()
        request.cancel()  # the visitor closes the connection
        with pytest.raises(asyncio.CancelledError):
            await request
        await ended.wait()
    assert [r.status for r in records] == [None]
    assert records[0].stored.messages == [Message("message", "waiting")]
    assert await (await client.get("/show")).json() == {
        "values": {},
        "messages": [["message", "waiting"]],
    }
