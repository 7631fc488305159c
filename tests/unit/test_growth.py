"""How a request's cost grows with its flashes (docs/performance.rst,
"Growth"): by the number of function calls the server makes (counted with
``sys.setprofile``, so the figures are the same on every run), setting
flashes and consuming them cost the same per flash at 2,000 flashes as at
200, and a small number of calls each.

The session is kept on the server (a dict-backed storage) and ``max_bytes``
is off, so that no size limit cuts in.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web
from aiohttp_session import AbstractStorage, Session, SessionData

import aiohttp_flashbag as fb

from ..conftest import Client, make_app


class DictStorage(AbstractStorage):
    """Sessions in a dict, the cookie holding only their key."""

    def __init__(self) -> None:
        super().__init__(cookie_name="AIOHTTP_SESSION")
        self.sessions: dict[str, SessionData] = {}

    async def load_session(self, request: web.Request) -> Session:
        key = self.load_cookie(request)
        data = self.sessions.get(key) if isinstance(key, str) else None
        if data is None:
            return Session(None, data=None, new=True, max_age=self.max_age)
        return Session(key, data=data, new=False, max_age=self.max_age)

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        key = session.identity or uuid.uuid4().hex
        self.sessions[key] = self._get_session_data(session)
        self.save_cookie(response, key, max_age=session.max_age)


@contextmanager
def counting() -> Iterator[Callable[[], int]]:
    """The number of function calls (Python and C) made inside the block."""
    calls = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield lambda: calls
    finally:
        sys.setprofile(previous)


def app() -> web.Application:
    async def flash(request: web.Request) -> web.Response:
        for i in range(int(request.match_info["n"])):
            fb.flash(request, f"Message number {i}", "info")
        raise web.HTTPSeeOther("/")

    async def page(request: web.Request) -> web.Response:
        shown = fb.get_flashed_messages(request)
        return web.Response(text=str(len(shown)))

    async def prime(request: web.Request) -> web.Response:
        return web.Response(text="primed")

    return make_app(
        [
            ("GET", "/", fb.with_flashbag(page)),
            ("GET", "/flash/{n}", fb.with_flashbag(flash)),
            ("GET", "/prime", fb.with_flashbag(prime)),
        ],
        storage=DictStorage(),
        max_bytes=None,
    )


async def per_flash(client: Client, n: int) -> tuple[float, float]:
    """Calls per flash beyond the first: setting ``n`` messages in one
    request, and a page that consumes them.
    """
    costs: list[list[int]] = []
    for count in (1, n):
        client.session.cookie_jar.clear()
        await client.get("/prime")  # the same work each time before
        with counting() as set_calls:
            resp = await client.get(f"/flash/{count}", allow_redirects=False)
        assert resp.status == 303
        with counting() as page_calls:
            resp = await client.get("/")
        assert await resp.text() == str(count)
        costs.append([set_calls(), page_calls()])
    (set_one, page_one), (set_n, page_n) = costs
    return (set_n - set_one) / (n - 1), (page_n - page_one) / (n - 1)


async def test_setting_and_consuming_flashes_grows_linearly(
    aiohttp_client: Any,
) -> None:
    client: Client = await aiohttp_client(app())
    await per_flash(client, 200)  # warm: imports, caches
    set_200, page_200 = await per_flash(client, 200)
    set_2000, page_2000 = await per_flash(client, 2000)
    assert 0.9 < set_2000 / set_200 < 1.1, (set_200, set_2000)
    assert 0.9 < page_2000 / page_200 < 1.1, (page_200, page_2000)
    # A few calls a flash (the handler's loop included): no check or clock
    # look-up that plain text does not need (benchmarks/growth.py counts
    # the instructions).
    assert set_200 <= 20, set_200
    assert page_200 <= 14, page_200
