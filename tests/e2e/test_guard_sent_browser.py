"""In real headless Chromium: a login is never lost to flashes, whatever a
middleware outside the scope writes into the session afterwards.

docs/lifecycle.rst, "Size": Chromium drops a cookie whose ``name=value`` is
over 4096 bytes, and with it the session. Where the app called ``setup()``,
what counts is the cookie that is sent, writes made after the scope ended
included. A visitor leaves flashes, then logs in through a scoped handler;
a middleware between the session middleware and the scope adds the user's
profile to the session after the scope ended, bringing the session near the
limit. Generated cases, each in a fresh browser context: the next page must
still know the user.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp_session import AbstractStorage, SimpleCookieStorage, get_session

import aiohttp_flashbag as fb

from ..conftest import COOKIE, FernetCookies
from ..support.sessions import COOKIE_LIMIT, build_app, cookie_bytes

pytestmark = pytest.mark.browser

CASES = 24


async def add_profile(request: web.Request) -> None:
    if request.path == "/login":
        session = await get_session(request)
        session["profile"] = "p" * int(request.query["profile"])


@web.middleware
async def profile_loader(request: web.Request, handler: Any) -> web.StreamResponse:
    """Puts the user's profile in the session once the login handler is done."""
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException:
        await add_profile(request)
        raise
    await add_profile(request)
    return response


async def leave_a_flash(request: web.Request) -> web.Response:
    size = int(request.query["size"])
    fb.flash(request, "f" * size, f"old{request.query['i']}")
    raise web.HTTPSeeOther("/plain")


async def login(request: web.Request) -> web.Response:
    session = await get_session(request)
    session["user"] = {"name": "alice", "token": "t" * int(request.query["token"])}
    fb.flash(request, "Welcome alice", "success")
    raise web.HTTPSeeOther("/whoami")


async def plain(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def whoami(request: web.Request) -> web.Response:
    user = (await get_session(request)).get("user")
    name = user["name"] if user else "nobody"
    return web.Response(text=f'<p id="user">{name}</p>', content_type="text/html")


def site(storage: AbstractStorage) -> web.Application:
    return build_app(
        storage,
        {"/flash": leave_a_flash, "/login": login},
        outer=[profile_loader],
        settings={"max_bytes": None},
        unscoped={"/plain": plain, "/whoami": whoami},
    )


@dataclass
class Case:
    token: int
    profile: int
    flashes: list[int]


async def generate(storage: AbstractStorage, seed: str) -> list[Case]:
    """Logins whose session, without flashes, takes 2600 to 3900 bytes as a
    cookie: room for some flashes, never for all of them.
    """
    rng = random.Random(seed)
    cases = []
    for _ in range(CASES):
        token = rng.randint(100, 1500)
        room = rng.randint(2600, 3900)
        user = {"name": "alice", "token": "t" * token}
        low, high = 0, COOKIE_LIMIT
        while low < high:  # the largest profile that keeps the session in room
            middle = (low + high + 1) // 2
            session = {"user": user, "profile": "p" * middle}
            if await cookie_bytes(storage, session) <= room:
                low = middle
            else:
                high = middle - 1
        flashes = [rng.randint(100, 900) for _ in range(rng.randint(1, 4))]
        cases.append(Case(token, low, flashes))
    return cases


STORAGES: dict[str, Any] = {
    "simple": SimpleCookieStorage,
    "encrypted": lambda: FernetCookies().storage,
}


@pytest.mark.parametrize("kind", list(STORAGES))
async def test_no_login_is_lost(
    chromium: Any, aiohttp_server: Any, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    storage = STORAGES[kind]()
    server = await aiohttp_server(site(storage))
    cases = await generate(storage, f"guard-sent-{kind}")
    lost: list[tuple[Case, str]] = []
    context = await chromium.new_context()
    page = await context.new_page()
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        for case in cases:
            await context.clear_cookies()  # a new visitor
            for i, size in enumerate(case.flashes):
                await page.goto(str(server.make_url(f"/flash?i={i}&size={size}")))
            login = f"/login?token={case.token}&profile={case.profile}"
            await page.goto(str(server.make_url(login)))
            assert page.url == str(server.make_url("/whoami"))
            who = await page.text_content("#user")
            cookies = [c for c in await context.cookies() if c["name"] == COOKIE]
            if who != "alice" or len(cookies) != 1:
                lost.append((case, f"the next page knows {who!r}"))
                continue
            assert len(cookies[0]["name"]) + 1 + len(cookies[0]["value"]) <= 4096
    await context.close()
    assert lost == [], f"{len(lost)} of {len(cases)} logins lost"
    # the cookie guard, not luck, kept the sessions
    assert any("4096" in r.getMessage() for r in caplog.records)
