"""htmx: a response with ``HX-Refresh: true`` is a redirect for flashes.

docs/lifecycle.rst, "The table" and "htmx": htmx reloads the page when a
response carries ``HX-Refresh: true``, so the response itself is never
shown. Like a redirect, it consumes nothing it did not show: the incoming
flashes it did not read and its own flashes are stored for the page htmx
loads, and none goes out in ``HX-Trigger``, with or without
``setup(app, htmx_event=...)``. The last test checks it in real Chromium
with real htmx: the reloaded page shows each flash exactly once.
"""

from __future__ import annotations

import html
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage

import aiohttp_flashbag as fb

from ..conftest import Client
from ..e2e.test_htmx_browser import HTMX_VERSION, unavailable
from ..support.servers import require_binary
from ..support.sessions import SCOPES, build_app, show

HX = {"HX-Request": "true"}


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
