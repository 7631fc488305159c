"""Probes of docs/lifecycle.rst, docs/api.rst and docs/translations.rst from
the outside: what a tester who reads only the docs would try, as an attacker
and as a careless user. Each test names the rule it holds the library to.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage
from aiohttp_session import setup as setup_session

import aiohttp_flashbag as fb

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
