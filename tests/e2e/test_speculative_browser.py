"""Speculative requests in real headless Chromium (docs/lifecycle.rst,
"Speculative requests"): a page that the browser prefetches or prerenders
through speculation rules, while a flash waits, shows the flash once, on
the real navigation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import aiohttp_flashbag as fb

from ..conftest import make_app

SEEN = web.AppKey("seen", list)

START = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Start</title>
<script type="speculationrules">{rules}</script></head>
<body><a id="go" href="/show">Show</a></body></html>"""


def build_app(kind: str) -> web.Application:
    @fb.with_flashbag
    async def save(request: web.Request) -> web.Response:
        fb.flash(request, "Saved", "success")
        raise web.HTTPSeeOther("/start")

    async def start(request: web.Request) -> web.Response:
        """Unscoped: the page whose speculation rules name /show."""
        rules = json.dumps({kind: [{"source": "list", "urls": ["/show"]}]})
        return web.Response(text=START.format(rules=rules), content_type="text/html")

    @fb.with_flashbag
    async def show(request: web.Request) -> web.Response:
        messages = fb.get_flashed_messages(request)
        items = "".join(f"<li>{m}</li>" for m in messages)
        return web.Response(
            text=f"<!doctype html><title>Show</title><ul id='m'>{items}</ul>",
            content_type="text/html",
        )

    @web.middleware
    async def log(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        if request.path == "/show":
            purpose = request.headers.get("Sec-Purpose")
            request.app[SEEN].append((purpose, response.status))
        return response

    app = make_app(
        [("POST", "/save", save), ("GET", "/start", start), ("GET", "/show", show)]
    )
    app.middlewares.insert(0, log)
    app[SEEN] = []
    return app


@pytest.fixture
async def server() -> AsyncIterator[Any]:
    servers: list[TestServer] = []

    async def start(kind: str) -> TestServer:
        srv = TestServer(build_app(kind), host="127.0.0.1")
        await srv.start_server()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        await srv.close()


async def wait_for_speculation(app: web.Application) -> list[Any]:
    """The requests for /show seen so far, once the speculative one came."""
    seen: list[Any] = app[SEEN]
    for _ in range(200):  # bounded: 20 s at most
        if seen:
            return seen
        await asyncio.sleep(0.1)
    return seen


@pytest.mark.browser
@pytest.mark.parametrize("kind", ["prefetch", "prerender"])
async def test_a_speculated_page_shows_the_flash_on_the_real_visit(
    chromium: Any, server: Any, kind: str
) -> None:
    srv = await server(kind)
    app = srv.app
    context = await chromium.new_context()
    page = await context.new_page()
    base = str(srv.make_url(""))
    # a form post whose redirect lands on the page that speculates
    await page.goto(base + "/start")
    await page.evaluate("""async () => { await fetch("/save", {method: "POST"}); }""")
    app[SEEN].clear()
    await page.reload()
    seen = await wait_for_speculation(app)
    assert seen, f"headless Chromium made no {kind} request"
    assert all(purpose and "prefetch" in purpose for purpose, _ in seen)
    assert {status for _, status in seen} == {503}
    count = len(seen)
    await page.click("#go")
    await page.wait_for_url("**/show")
    assert await page.locator("#m li").all_text_contents() == ["Saved"]
    assert seen[count:] == [(None, 200)]  # the real navigation
    await page.reload()
    assert await page.locator("#m li").count() == 0
    await context.close()
