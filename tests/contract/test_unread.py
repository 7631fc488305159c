"""``setup(app, unread="keep")``: a flash lives until a read shows it
(docs/lifecycle.rst, "Unread flashes"), through all three scopes."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

import aiohttp_flashbag as fb

from ..conftest import Client, make_app

SCOPES = ["middleware", "decorator", "mixin"]


def app_for(scope: str, unread: str) -> web.Application:
    """Routes: /post flashes and redirects; /api and /quiet show nothing;
    /show reads the messages; /forget clears. Under the middleware every
    route is scoped, as a favicon or an API call would be."""

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
        raise web.HTTPSeeOther("/show")

    async def quiet(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def show(request: web.Request) -> web.Response:
        return web.json_response(fb.get_flashed_messages(request))

    async def forget(request: web.Request) -> web.Response:
        fb.flashbag_clear(request)
        return web.json_response({"cleared": True})

    routes = [("*", "/post", post), ("*", "/quiet", quiet), ("*", "/show", show)]
    routes.append(("*", "/forget", forget))
    return make_app(
        [(m, p, scoped(h)) for m, p, h in routes],
        middleware=scope == "middleware",
        unread=unread,
    )


async def messages(client: Client) -> list[str]:
    resp = await client.get("/show")
    assert resp.status == 200
    shown: list[str] = await resp.json()
    return shown


@pytest.mark.parametrize("scope", SCOPES)
async def test_pages_that_show_nothing_consume_nothing(
    aiohttp_client: Any, scope: str
) -> None:
    client: Client = await aiohttp_client(app_for(scope, "keep"))
    await client.post("/post", allow_redirects=False)
    for _ in range(3):  # an API call, a favicon: pages that read no flash
        assert (await client.get("/quiet")).status == 200
        assert (await client.get("/favicon.ico")).status == 404
    assert await messages(client) == ["Saved"]
    assert await messages(client) == []  # shown once: gone


@pytest.mark.parametrize("scope", SCOPES)
async def test_the_default_drops_what_a_page_did_not_show(
    aiohttp_client: Any, scope: str
) -> None:
    client: Client = await aiohttp_client(app_for(scope, "drop"))
    await client.post("/post", allow_redirects=False)
    assert (await client.get("/quiet")).status == 200
    assert await messages(client) == []


@pytest.mark.parametrize("scope", SCOPES)
async def test_clear_forgets_the_unread_flashes_too(
    aiohttp_client: Any, scope: str
) -> None:
    client: Client = await aiohttp_client(app_for(scope, "keep"))
    await client.post("/post", allow_redirects=False)
    assert (await client.get("/forget")).status == 200
    assert await messages(client) == []


async def test_a_new_session_ends_unread_flashes(aiohttp_client: Any) -> None:
    from aiohttp_session import new_session

    @fb.with_flashbag
    async def log_in(request: web.Request) -> web.Response:
        (await new_session(request))["user"] = "ann"
        return web.json_response({"user": "ann"})

    app = app_for("decorator", "keep")
    app.router.add_post("/login", log_in)
    client: Client = await aiohttp_client(app)
    await client.post("/post", allow_redirects=False)
    assert (await client.post("/login")).status == 200
    assert await messages(client) == []
