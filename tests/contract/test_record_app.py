"""``record_flashes(app)`` records the requests of one application only.

docs/lifecycle.rst, "Testing": ``record_flashes(app)`` records only the
requests routed by ``app`` (or its sub-applications), so tests that run at
once in one process do not see each other's flashes; ``record_flashes()``
without an app still records the scopes of every app, in the order they end.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp_session import SimpleCookieStorage

import aiohttp_flashbag as fb
from aiohttp_flashbag.testing import Flashes, Message, record_flashes

from ..conftest import Client, FernetCookies
from ..support.sessions import build_app

NOTHING = Flashes({}, [])


async def flash_and_redirect(request: web.Request) -> web.Response:
    """Flashes the app's name, with a little wait to interleave the requests."""
    await asyncio.sleep(0.001)
    fb.flash(request, request.app.get(NAME, "sub"))
    raise web.HTTPSeeOther("/elsewhere")


async def page(request: web.Request) -> web.Response:
    await asyncio.sleep(0.001)
    fb.get_flashed_messages(request)
    return web.Response(text="page")


NAME = web.AppKey("name", str)


def named_app(
    name: str, *, kind: str = "decorator", storage: Any = None
) -> web.Application:
    app = build_app(
        storage if storage is not None else SimpleCookieStorage(),
        {"/flash": flash_and_redirect, "/page": page},
        kind=kind,
    )
    app[NAME] = name
    return app


def with_sub(app: web.Application, kind: str = "decorator") -> web.Application:
    sub = web.Application()
    if kind == "middleware":
        sub.middlewares.append(fb.flashbag_middleware)
        sub.router.add_route("*", "/flash", flash_and_redirect)
    else:
        sub.router.add_route("*", "/flash", fb.with_flashbag(flash_and_redirect))
    app.add_subapp("/sub", sub)
    return app


async def visit(client: Client, rounds: int) -> None:
    for _ in range(rounds):
        await client.post("/flash", allow_redirects=False)
        await client.get("/page")


async def test_two_apps_at_once_each_see_their_own(aiohttp_client: Any) -> None:
    first_app = named_app("first")
    second_app = named_app("second", storage=FernetCookies().storage)
    first: Client = await aiohttp_client(first_app)
    second: Client = await aiohttp_client(second_app)
    with (
        record_flashes(first_app) as first_records,
        record_flashes(second_app) as second_records,
        record_flashes() as every,
    ):
        await asyncio.gather(visit(first, 5), visit(second, 5))
    for records, name in ((first_records, "first"), (second_records, "second")):
        assert [(r.method, r.path) for r in records] == [
            ("POST", "/flash"),
            ("GET", "/page"),
        ] * 5
        for record in records:
            for message in (*record.shown.messages, *record.stored.messages):
                assert message == Message("message", name)
        assert records[0].stored == Flashes({}, [Message("message", name)])
        assert records[1].shown == Flashes({}, [Message("message", name)])
        assert records[1].stored == NOTHING
    # without an app: every scope of the process, in the order they ended
    assert len(every) == 20
    assert [r for r in every if r in first_records] == first_records
    assert [r for r in every if r in second_records] == second_records


async def test_sub_applications_are_recorded_with_their_parent(
    aiohttp_client: Any,
) -> None:
    parent_app = with_sub(named_app("parent", kind="middleware"), "decorator")
    other_app = named_app("other")
    parent: Client = await aiohttp_client(parent_app)
    other: Client = await aiohttp_client(other_app)
    with record_flashes(parent_app) as records:
        await asyncio.gather(
            parent.post("/sub/flash", allow_redirects=False),
            other.post("/flash", allow_redirects=False),
            parent.get("/page"),
            other.get("/page"),
        )
    assert sorted(r.path for r in records) == ["/page", "/sub/flash"]


async def test_a_sub_application_alone(aiohttp_client: Any) -> None:
    parent_app = named_app("parent")
    sub = web.Application()
    sub.router.add_route("*", "/flash", fb.with_flashbag(flash_and_redirect))
    parent_app.add_subapp("/sub", sub)
    client: Client = await aiohttp_client(parent_app)
    with record_flashes(sub) as records:
        await client.post("/sub/flash", allow_redirects=False)
        await client.post("/flash", allow_redirects=False)
        await client.get("/page")
    assert [r.path for r in records] == ["/sub/flash"]
    assert records[0].stored == Flashes({}, [Message("message", "sub")])


async def test_nothing_of_another_app_while_it_runs_alone(aiohttp_client: Any) -> None:
    mine_app, theirs_app = named_app("mine"), named_app("theirs")
    mine: Client = await aiohttp_client(mine_app)
    theirs: Client = await aiohttp_client(theirs_app)
    with record_flashes(mine_app) as records:
        await visit(theirs, 3)
    assert records == []
    with record_flashes(mine_app) as records:
        await visit(mine, 1)
    assert [r.path for r in records] == ["/flash", "/page"]
