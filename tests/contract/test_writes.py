"""The session is written only when the stored bag changes
(docs/lifecycle.rst, "Writes")."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp_session import get_session, new_session

import aiohttp_flashbag as fb

from ..conftest import (
    COOKIE,
    Client,
    CountingStorage,
    FernetCookies,
    make_app,
    stored_bag,
    unstamped,
)
from ..support.opsapp import ops_app, ops_headers


async def test_scoped_request_with_nothing_to_do_writes_nothing(
    aiohttp_client: Any, counting: CountingStorage
) -> None:
    client: Client = await aiohttp_client(ops_app(counting.storage))
    for end in ["200", "302", "400"]:
        resp = await client.get(
            "/scoped", headers=ops_headers([["get", "x"]], end), allow_redirects=False
        )
        assert COOKIE not in resp.cookies
    resp = await client.head("/scoped", headers=ops_headers([]))
    assert COOKIE not in resp.cookies
    assert counting.saves == 0
    assert len(client.session.cookie_jar) == 0  # no session for an anonymous visitor


async def test_unscoped_requests_never_load_or_write(
    aiohttp_client: Any, counting: CountingStorage
) -> None:
    client: Client = await aiohttp_client(ops_app(counting.storage))
    await client.get("/scoped", headers=ops_headers([["set", "a", 1]]))
    loads, saves = counting.loads, counting.saves
    for _ in range(5):
        resp = await client.get("/asset")
        assert COOKIE not in resp.cookies
    assert (counting.loads, counting.saves) == (loads, saves) == (1, 1)


async def test_one_write_to_set_one_to_consume_none_after(
    aiohttp_client: Any, counting: CountingStorage
) -> None:
    client: Client = await aiohttp_client(ops_app(counting.storage))
    await client.get("/scoped", headers=ops_headers([["set", "a", 1]]))
    assert counting.saves == 1
    await client.get("/scoped", headers=ops_headers([["get", "a"]]))
    assert counting.saves == 2
    await client.get("/scoped", headers=ops_headers([["get", "a"]]))
    assert counting.saves == 2


async def test_unchanged_carry_over_writes_nothing(
    aiohttp_client: Any, counting: CountingStorage
) -> None:
    client: Client = await aiohttp_client(ops_app(counting.storage))
    await client.get("/scoped", headers=ops_headers([["set", "a", 1]]))
    for ops, end in [([], "302"), ([["keep"]], "200"), ([["get", "a"]], "HEAD")]:
        method = "HEAD" if end == "HEAD" else "GET"
        resp = await client.request(
            method,
            "/scoped",
            headers=ops_headers(ops, "200" if end == "HEAD" else end),
            allow_redirects=False,
        )
        assert COOKIE not in resp.cookies, (ops, end)
    assert counting.saves == 1


async def test_empty_bag_is_removed_not_stored(aiohttp_client: Any) -> None:
    @fb.with_flashbag
    async def page(request: web.Request) -> web.Response:
        session = await get_session(request)
        if "user" not in session:
            session["user"] = "ann"
            fb.flashbag_set(request, "a", 1)
        return web.Response(text="ok")

    client: Client = await aiohttp_client(make_app([("GET", "/", page)]))
    resp = await client.get("/")
    assert stored_bag(resp.cookies[COOKIE].value) == {"a": 1}
    resp = await client.get("/")
    data = json.loads(resp.cookies[COOKIE].value)
    assert data["session"] == {"user": "ann"}  # no "aiohttp_flashbag": {} left


@fb.with_flashbag
async def home(request: web.Request) -> web.Response:
    """The user and the messages this page shows."""
    session = await get_session(request)
    return web.json_response([session.get("user"), fb.get_flashed_messages(request)])


async def test_new_session_in_the_handler_is_respected(aiohttp_client: Any) -> None:
    @fb.with_flashbag
    async def login(request: web.Request) -> web.Response:
        session = await new_session(request)
        session["user"] = "ann"
        fb.flash(request, "Welcome back")
        raise web.HTTPSeeOther("/")

    cookies = FernetCookies()
    client: Client = await aiohttp_client(
        make_app(
            [("POST", "/login", login), ("GET", "/", home)], storage=cookies.storage
        )
    )
    resp = await client.post("/login")
    assert await resp.json() == ["ann", ["Welcome back"]]


async def test_invalidate_in_the_handler_is_respected(aiohttp_client: Any) -> None:
    @fb.with_flashbag
    async def login(request: web.Request) -> web.Response:
        (await get_session(request))["user"] = "ann"
        fb.flash(request, "Hello")
        raise web.HTTPSeeOther("/")

    @fb.with_flashbag
    async def logout(request: web.Request) -> web.Response:
        (await get_session(request)).invalidate()
        fb.flash(request, "Bye")
        raise web.HTTPSeeOther("/")

    client: Client = await aiohttp_client(
        make_app(
            [("POST", "/login", login), ("POST", "/logout", logout), ("GET", "/", home)]
        )
    )
    await client.post("/login", allow_redirects=False)
    resp = await client.post("/logout")
    # the user is gone with the invalidated data, and so is the unread
    # "Hello" of the old session; "Bye", flashed after the switch, goes in
    assert await resp.json() == [None, ["Bye"]]


@pytest.mark.parametrize("scope", ["decorator", "middleware"])
async def test_setup_changes_the_session_key(aiohttp_client: Any, scope: str) -> None:
    async def setter(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "a", 1)
        return web.Response()

    handler = fb.with_flashbag(setter) if scope == "decorator" else setter
    client: Client = await aiohttp_client(
        make_app(
            [("GET", "/", handler)],
            middleware=scope == "middleware",
            session_key="flashes",
        )
    )
    resp = await client.get("/")
    session = json.loads(resp.cookies[COOKIE].value)["session"]
    assert list(session) == ["flashes"]
    assert unstamped(session["flashes"]) == {"a": 1}


@pytest.mark.parametrize("scope", ["decorator", "middleware"])
async def test_sub_apps_inherit_the_settings(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, scope: str
) -> None:
    async def setter(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "big", "x" * 50)  # over the budget: gives way
        fb.flashbag_set(request, "a", 1)
        return web.Response(text="accepted")

    app = make_app(
        [], middleware=scope == "middleware", session_key="flashes", max_bytes=66
    )
    sub = web.Application()
    sub.router.add_get(
        "/", fb.with_flashbag(setter) if scope == "decorator" else setter
    )
    app.add_subapp("/sub", sub)
    client: Client = await aiohttp_client(app)
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get("/sub/")
    assert "over max_bytes=66" in caplog.text  # the parent's budget
    session = json.loads(resp.cookies[COOKIE].value)["session"]
    assert unstamped(session["flashes"]) == {"a": 1}  # the parent's key
