"""Speculative requests (docs/lifecycle.rst, "Speculative requests").

A prefetch or prerender of a scoped page while flashes wait for the visitor
is answered without running the handler (503, ``Cache-Control: no-store``)
and consumes nothing; the real visit shows the flashes once. Through the
three scopes, both ``unread`` settings and both flash stores, over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict

import aiohttp_flashbag as fb
from aiohttp_flashbag import Message
from aiohttp_flashbag._speculative import is_speculative
from aiohttp_flashbag.testing import record_flashes

from ..conftest import Client, make_app
from ..support.edges import echo

SCOPES = ["middleware", "decorator", "mixin"]
RUNS = web.AppKey("runs", list)

#: Every form browsers and Turbo send (docs/lifecycle.rst lists them).
SPECULATIVE = [
    {"Sec-Purpose": "prefetch"},  # speculation rules prefetch, link prefetch
    {"Sec-Purpose": "prefetch;prerender"},  # speculation rules prerender
    {"Sec-Purpose": "prefetch; anonymous-client-ip"},  # private prefetch proxy
    {"Purpose": "prefetch"},  # Chromium's legacy header
    {"X-Sec-Purpose": "prefetch"},  # Turbo's hover prefetch
    {"X-Moz": "prefetch"},  # Firefox's older link prefetch
    {"X-Purpose": "preview"},  # Safari's previews
    {"sec-purpose": "PREFETCH"},
]
NOT_SPECULATIVE = [
    {},
    {"Sec-Purpose": ""},
    {"Sec-Purpose": "something-else"},
    {"X-Moz": "other"},
    {"X-Purpose": "navigate"},
    {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},
]


@pytest.mark.parametrize("headers", SPECULATIVE, ids=str)
def test_every_speculative_form_is_recognised(headers: dict[str, str]) -> None:
    assert is_speculative(CIMultiDict(headers))


@pytest.mark.parametrize("headers", NOT_SPECULATIVE, ids=str)
def test_other_requests_are_not_speculative(headers: dict[str, str]) -> None:
    assert not is_speculative(CIMultiDict(headers))


def app_for(scope: str, unread: str, store: Any = None) -> web.Application:
    """/post flashes a message and sets a value, then redirects to /show;
    /show counts its runs and returns what it read."""

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
        fb.flashbag_set(request, "form", "kept")
        raise web.HTTPSeeOther("/show")

    async def show(request: web.Request) -> web.Response:
        request.app[RUNS].append(dict(request.headers))
        return web.json_response(
            {
                "messages": fb.get_flashed_messages(request),
                "form": fb.flashbag_get(request, "form"),
            }
        )

    settings: dict[str, Any] = {"unread": unread}
    if store is not None:
        settings["store"] = store
    app = make_app(
        [("*", "/post", scoped(post)), ("*", "/show", scoped(show))],
        middleware=scope == "middleware",
        **settings,
    )
    app[RUNS] = []
    return app


NOTHING: dict[str, Any] = {"messages": [], "form": None}
EVERYTHING: dict[str, Any] = {"messages": ["Saved"], "form": "kept"}


async def show(client: Client, headers: dict[str, str] | None = None) -> Any:
    resp = await client.get("/show", headers=headers or {})
    assert resp.status == 200
    return await resp.json()


async def refused(client: Client, headers: dict[str, str]) -> None:
    resp = await client.get("/show", headers=headers, allow_redirects=False)
    assert resp.status == 503
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.content_type == "text/plain"
    assert "Saved" not in await resp.text()


@pytest.fixture
async def redis_store(redis_port: int) -> AsyncIterator[Any]:
    from redis import asyncio as aioredis

    from aiohttp_flashbag.stores import RedisFlashStore

    client = aioredis.Redis(host="127.0.0.1", port=redis_port, db=7)
    await client.flushdb()
    try:
        yield RedisFlashStore(client)
    finally:
        await client.aclose()


async def check_refusal(client: Client, app: web.Application) -> None:
    runs: list[Any] = app[RUNS]
    await client.post("/post", allow_redirects=False)
    for _ in range(2):  # a prefetch, then a prerender of the same page
        await refused(client, {"Sec-Purpose": "prefetch"})
    assert runs == []  # the handler never ran
    assert await show(client) == EVERYTHING  # the real visit
    assert await show(client) == NOTHING  # once
    # nothing waits: a speculative request runs as usual
    assert await show(client, {"Sec-Purpose": "prefetch"}) == NOTHING
    assert len(runs) == 3


@pytest.mark.parametrize("unread", ["drop", "keep"])
@pytest.mark.parametrize("scope", SCOPES)
async def test_a_prefetch_while_flashes_wait_is_refused_in_the_session(
    aiohttp_client: Any, scope: str, unread: str
) -> None:
    app = app_for(scope, unread)
    await check_refusal(await aiohttp_client(app), app)


@pytest.mark.parametrize("unread", ["drop", "keep"])
@pytest.mark.parametrize("scope", SCOPES)
async def test_a_prefetch_while_flashes_wait_is_refused_in_redis(
    aiohttp_client: Any, scope: str, unread: str, redis_store: Any
) -> None:
    app = app_for(scope, unread, redis_store)
    await check_refusal(await aiohttp_client(app), app)


@pytest.mark.parametrize("headers", SPECULATIVE, ids=str)
async def test_every_form_is_refused_over_http(
    aiohttp_client: Any, headers: dict[str, str]
) -> None:
    app = app_for("decorator", "drop")
    client: Client = await aiohttp_client(app)
    await client.post("/post", allow_redirects=False)
    await refused(client, headers)
    assert app[RUNS] == []
    assert await show(client) == EVERYTHING


@pytest.mark.parametrize("headers", NOT_SPECULATIVE, ids=str)
async def test_other_requests_run_and_consume(
    aiohttp_client: Any, headers: dict[str, str]
) -> None:
    client: Client = await aiohttp_client(app_for("decorator", "drop"))
    await client.post("/post", allow_redirects=False)
    assert await show(client, headers) == EVERYTHING
    assert await show(client) == NOTHING


async def test_a_refusal_is_recorded_with_its_status_and_nothing_shown(
    aiohttp_client: Any,
) -> None:
    app = app_for("middleware", "drop")
    client: Client = await aiohttp_client(app)
    with record_flashes(app) as records:
        await client.post("/post", allow_redirects=False)
        await refused(client, {"Sec-Purpose": "prefetch;prerender"})
        await show(client)
    post, refusal, visit = records
    assert (refusal.method, refusal.path, refusal.status) == ("GET", "/show", 503)
    assert refusal.shown.messages == []
    assert refusal.shown.values == {}
    assert refusal.stored == post.stored  # as it was
    assert refusal.stored.messages == [Message("success", "Saved")]
    assert visit.shown.messages == [Message("success", "Saved")]


async def test_a_refusal_writes_no_cookie(aiohttp_client: Any) -> None:
    client: Client = await aiohttp_client(app_for("decorator", "keep"))
    await client.post("/post", allow_redirects=False)
    resp = await client.get("/show", headers={"Sec-Purpose": "prefetch"})
    assert resp.status == 503
    assert "Set-Cookie" not in resp.headers


async def test_the_headers_are_read_only_when_flashes_wait(
    aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check costs nothing to requests that have no flash waiting."""
    calls: list[Any] = []

    def counting(headers: Any) -> bool:
        calls.append(headers)
        return is_speculative(headers)

    monkeypatch.setattr("aiohttp_flashbag._scope.is_speculative", counting)
    client: Client = await aiohttp_client(app_for("middleware", "drop"))
    assert await show(client, {"Sec-Purpose": "prefetch"}) == NOTHING
    await client.post("/post", allow_redirects=False)
    assert calls == []
    await refused(client, {"Sec-Purpose": "prefetch"})
    assert len(calls) == 1


# == Speculative requests, checked from the outside ====================================
#
# Rules checked from the outside, the way a careless user (or an attacker with a
# cookie) meets them; each test is named after the rule it checks.


# -- speculative requests ---------------------------------------------------------


PURPOSE_HEADERS = [
    {"Sec-Purpose": "prefetch"},
    {"Sec-Purpose": "prefetch;prerender"},
    {"Purpose": "prefetch"},
    {"X-Sec-Purpose": "prefetch"},
    {"X-Moz": "prefetch"},
    {"X-Purpose": "preview"},
]


@pytest.mark.parametrize(
    "headers", PURPOSE_HEADERS, ids=lambda h: next(iter(h.values()))
)
async def test_speculative_refused_without_running_handler_and_consumes_nothing(
    aiohttp_client: Any, headers: dict[str, str]
) -> None:
    runs: list[str] = []

    async def page(request: web.Request) -> web.Response:
        runs.append(request.path)
        return await echo(request)

    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, "wait for me")
        return web.Response(text="set")

    app = make_app([("GET", "/set", set_it), ("GET", "/page", page)], middleware=True)
    client = await aiohttp_client(app)
    # nothing waits: runs as usual
    resp = await client.get("/page", headers=headers)
    assert resp.status == 200
    assert runs == ["/page"]
    await client.get("/set")
    with record_flashes(app) as records:
        resp = await client.get("/page", headers=headers)
    assert 400 <= resp.status < 600
    assert resp.headers["Cache-Control"] == "no-store"
    assert runs == ["/page"]
    assert records[-1].status == resp.status
    assert records[-1].stored.messages == [("message", "wait for me")]
    body = await (await client.get("/page")).json()
    assert body["messages"] == ["wait for me"]


@pytest.mark.parametrize("kind", ["middleware_setup", "mixin", "decorator_setup"])
async def test_speculative_refused_for_every_scope_and_with_setup(
    aiohttp_client: Any, kind: str
) -> None:
    runs: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        runs.append("ran")
        return web.Response(text=json.dumps(fb.get_flashed_messages(request)))

    class View(fb.FlashbagMixin, web.View):
        async def get(self) -> web.Response:
            return await handler(self.request)

    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, "wait")
        return web.Response(text="set")

    if kind == "mixin":
        routes = [("GET", "/set", fb.with_flashbag(set_it)), ("*", "/page", View)]
        app = make_app(routes)
    elif kind == "decorator_setup":
        routes = [
            ("GET", "/set", fb.with_flashbag(set_it)),
            ("GET", "/page", fb.with_flashbag(handler)),
        ]
        app = make_app(routes, max_age=600)
    else:
        app = make_app(
            [("GET", "/set", set_it), ("GET", "/page", handler)],
            middleware=True,
            max_age=600,
        )
    client = await aiohttp_client(app)
    await client.get("/set")
    with record_flashes(app) as records:
        resp = await client.get("/page", headers={"Sec-Purpose": "prefetch"})
    assert 400 <= resp.status < 600
    assert resp.headers["Cache-Control"] == "no-store"
    assert runs == []
    assert len(records) == 1
    assert records[0].status == resp.status
    assert records[0].shown.messages == []
    assert records[0].stored.messages == [("message", "wait")]
    resp = await client.get("/page")
    assert json.loads(await resp.text()) == ["wait"]
