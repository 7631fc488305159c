"""A flash stamped by a worker whose clock is ahead does not live longer.

docs/lifecycle.rst, "Bounded life": a flash older than ``max_age`` seconds is
dropped when a scope loads it; carrying and keeping do not renew it. A time
in the future (a worker whose clock is ahead) counts as the reader's now at
the commit that first carries or keeps it, which stores that time: the flash
outlives ``max_age`` by at most the time until it is first carried, never by
the skew.

The library reads ``time.time()`` when it uses it: the tests move the clock
of the whole app between requests, as if each went to another worker.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage

import aiohttp_flashbag as fb

from ..conftest import Client
from ..support.sessions import Clock, build_app, show

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
        {"/leave": leave, "/carry": carry, "/show": show},
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
