"""Safe HTML flashes in real headless Chromium (docs/safe-html.rst).

A forged SimpleCookieStorage cookie that claims "safe" HTML runs no script;
a genuine ``Markup`` link is a link on a trusted storage and text under
SimpleCookieStorage. The app runs in the test's own event loop.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp_jinja2
import jinja2
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp_session import AbstractStorage, SimpleCookieStorage
from aiohttp_session.cookie_storage import EncryptedCookieStorage

import aiohttp_flashbag as fb

from ..conftest import COOKIE, make_app
from ..contract.test_safe_html import (
    IMG,
    LINK,
    LINK_HTML,
    PLAIN,
    SCRIPT,
    forged_session,
)

pytestmark = pytest.mark.browser

PAGE = """<!doctype html>
<html><head><title>Flashes</title></head><body>
<div id="flashes">
{%- for category, message in get_flashed_messages(with_categories=true) -%}
<p class="flash {{ category }}">{{ message }}</p>
{%- endfor -%}
</div>
<div id="note">{{ flashbag.get("note", "") }}</div>
<div id="raw">{{ flashbag.get("raw", "") }}</div>
<script>window.pageScriptRan = true;</script>
</body></html>
"""


class JSONCookieStorage(SimpleCookieStorage):
    """A subclass: still a cookie the visitor can rewrite."""


@fb.with_flashbag
async def set_flashes(request: web.Request) -> web.Response:
    fb.flash(request, LINK, "success")
    fb.flash(request, SCRIPT + IMG, "error")  # a plain str
    fb.flashbag_set(request, "raw", PLAIN)
    raise web.HTTPSeeOther("/show")


@fb.with_flashbag
@aiohttp_jinja2.template("page.html")
async def show(request: web.Request) -> dict[str, Any]:
    return {}


async def undo(request: web.Request) -> web.Response:
    return web.Response(text="undone")


@pytest.fixture
async def context(chromium: Any) -> Any:
    """A fresh Chromium browser context (skips locally without chromium)."""
    return await chromium.new_context()


async def serve(storage: AbstractStorage) -> TestServer:
    app = make_app(
        [("GET", "/set", set_flashes), ("GET", "/show", show), ("GET", "/undo", undo)],
        storage=storage,
    )
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.DictLoader({"page.html": PAGE}),
        context_processors=[fb.context_processor],
        autoescape=True,
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


def cookie_value(session: dict[str, Any]) -> str:
    """The session as SimpleCookieStorage puts it in the cookie, quoted as
    aiohttp sends it: what a visitor can write into their own browser."""
    response = web.Response()
    response.set_cookie(COOKIE, json.dumps(session))
    return response.cookies[COOKIE].coded_value


async def no_script_ran(page: Any) -> None:
    await page.wait_for_function("window.pageScriptRan === true", timeout=10_000)
    await page.wait_for_timeout(200)  # time for an onerror handler to fire
    assert await page.evaluate("typeof window.forged") == "undefined"
    assert await page.title() == "Flashes"
    assert await page.locator("#flashes script, #flashes img").count() == 0
    assert await page.locator("#note *, #raw *").count() == 0


@pytest.mark.parametrize(
    "storage", [SimpleCookieStorage, JSONCookieStorage], ids=lambda c: c.__name__
)
async def test_a_forged_safe_cookie_runs_no_script(
    context: Any, storage: type[SimpleCookieStorage]
) -> None:
    server = await serve(storage())
    try:
        url = str(server.make_url("/show"))
        await context.add_cookies(
            [{"name": COOKIE, "value": cookie_value(forged_session(1)), "url": url}]
        )
        page = await context.new_page()
        await page.goto(url)
        await no_script_ran(page)
        # the forged flashes were read, and shown as text
        flashes = page.locator("#flashes .flash")
        assert await flashes.all_text_contents() == [SCRIPT + IMG, IMG]
        assert await page.text_content("#note") == SCRIPT
        assert await page.text_content("#raw") == IMG
    finally:
        await server.close()


async def test_markup_is_a_link_on_a_trusted_storage(context: Any) -> None:
    server = await serve(EncryptedCookieStorage(b"k" * 32))
    try:
        page = await context.new_page()
        await page.goto(str(server.make_url("/set")))
        await no_script_ran(page)  # the plain str beside the link
        assert await page.locator(".flash.error").text_content() == SCRIPT + IMG
        assert await page.text_content("#raw") == PLAIN
        link = page.locator(".flash.success a#undo")
        assert await link.count() == 1
        assert await page.locator(".flash.success").text_content() == ("Saved. Undo ✓")
        await link.click()
        await page.wait_for_url("**/undo?*")
        assert page.url == str(server.make_url("/undo")) + "?id=1&next=%2F"
        assert await page.text_content("body") == "undone"
    finally:
        await server.close()


async def test_markup_is_text_under_simple_cookie_storage(context: Any) -> None:
    server = await serve(SimpleCookieStorage())
    try:
        page = await context.new_page()
        await page.goto(str(server.make_url("/set")))
        await no_script_ran(page)
        assert await page.locator(".flash a").count() == 0
        assert await page.locator(".flash.success").text_content() == LINK_HTML
    finally:
        await server.close()
