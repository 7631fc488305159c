"""In real headless Chromium: flashes near the budget never cost the login.

Chromium drops a cookie whose ``name=value`` is over 4096 bytes, and with it
the session. A logged-in user saves large drafts several times, each page
keeping what came in, each save redirecting: the browser must still hold the
session, and each page must show the newest flashes.
"""

from __future__ import annotations

import base64
import html
import logging
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp_session import AbstractStorage, SimpleCookieStorage, get_session
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet

import aiohttp_flashbag as fb

from ..conftest import COOKIE

pytestmark = pytest.mark.browser

DRAFT = 1750  # bytes of each draft as json.dumps encodes it, near max_bytes=2048
SAVES = 6


@pytest.fixture
async def context(chromium: Any) -> Any:
    return await chromium.new_context()


def drafts_app(storage: AbstractStorage, login_size: int) -> web.Application:
    async def login(request: web.Request) -> web.Response:
        session = await get_session(request)
        session["user"] = {"name": "alice", "token": "t" * login_size}
        raise web.HTTPSeeOther("/")

    @fb.with_flashbag
    async def save(request: web.Request) -> web.Response:
        i = int(request.query["i"])
        fb.flashbag_keep(request)  # whatever came in goes on as well
        fb.flashbag_set(request, f"draft{i}", f"{i}" * (DRAFT - 2))
        fb.flash(request, f"Saved draft {i}", "success")
        raise web.HTTPSeeOther("/")

    @fb.with_flashbag
    async def page(request: web.Request) -> web.Response:
        user = (await get_session(request)).get("user")
        bag = fb.get_flashbag(request)
        values = bag.incoming.values  # every incoming value, each read below
        for key in values:
            fb.flashbag_get(request, key)
        messages = fb.get_flashed_messages(request)
        fb.flashbag_keep(request)  # and the page keeps it all for the next
        items = "".join(
            f'<li class="value" data-key="{html.escape(key)}">{len(value)}</li>'
            for key, value in values.items()
        ) + "".join(f'<li class="message">{html.escape(m)}</li>' for m in messages)
        name = user["name"] if user else "nobody"
        return web.Response(
            text=f'<p id="user">{name}</p><ul>{items}</ul>', content_type="text/html"
        )

    app = web.Application()
    setup_session(app, storage)
    app.router.add_get("/login", login)
    app.router.add_get("/save", save)
    app.router.add_get("/", page)
    return app


STORAGES: dict[str, tuple[Callable[[], AbstractStorage], int]] = {
    # each login large enough that the full bag would overflow the cookie,
    # small enough that the newest draft always fits beside it
    "simple": (SimpleCookieStorage, 2000),
    "encrypted": (
        lambda: EncryptedCookieStorage(base64.urlsafe_b64decode(Fernet.generate_key())),
        1000,
    ),
}


@pytest.mark.parametrize("kind", list(STORAGES))
async def test_the_login_survives_flashes_near_the_budget(
    context: Any, aiohttp_server: Any, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    make_storage, login_size = STORAGES[kind]
    server = await aiohttp_server(drafts_app(make_storage(), login_size))
    page = await context.new_page()
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        await page.goto(str(server.make_url("/login")))
        assert await page.text_content("#user") == "alice"
        for i in range(SAVES):
            await page.goto(str(server.make_url(f"/save?i={i}")))
            assert page.url == str(server.make_url("/"))
            cookies = [c for c in await context.cookies() if c["name"] == COOKIE]
            assert len(cookies) == 1, f"the browser lost the session at save {i}"
            assert len(cookies[0]["name"]) + 1 + len(cookies[0]["value"]) <= 4096
            assert await page.text_content("#user") == "alice"
            keys = await page.locator(".value").evaluate_all(
                "items => items.map(item => item.dataset.key)"
            )
            assert f"draft{i}" in keys  # the newest value
            messages = await page.locator(".message").all_text_contents()
            assert messages[-1] == f"Saved draft {i}"  # the newest message
    # the cookie guard, not luck, kept the session
    assert any("4096" in r.getMessage() for r in caplog.records)
