"""Helpers of the reliability tests: apps with each scope, sessions by hand.

Sessions are written as a visitor's browser would send them and read as the
server sent them, so the tests need nothing of the library but its public
API.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from http.cookies import SimpleCookie
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from aiohttp_session import AbstractStorage, Session
from aiohttp_session import setup as setup_session

import aiohttp_flashbag as fb

from ..conftest import COOKIE, Client

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")

#: Browsers drop a cookie whose ``name=value`` is over this many bytes.
COOKIE_LIMIT = 4096

SCOPES = ("middleware", "decorator", "mixin")


# -- apps ----------------------------------------------------------------------


def scoped(kind: str | None, handler: Handler) -> Any:
    """``handler`` as a route of an app whose scope is of ``kind``.

    ``None`` (or ``"middleware"``, whose app installs the middleware): the
    handler as it is.
    """
    if kind == "decorator":
        return fb.with_flashbag(handler)
    if kind in (None, "middleware"):
        return handler
    assert kind == "mixin", kind

    async def method(self: web.View) -> web.StreamResponse:
        return await handler(self.request)

    return type(
        "View",
        (fb.FlashbagMixin, web.View),
        dict.fromkeys(("get", "post", "head", "put", "delete"), method),
    )


def build_app(
    storage: AbstractStorage,
    routes: Mapping[str, Handler],
    *,
    kind: str | None = "decorator",
    first: Iterable[Any] = (),
    outer: Iterable[Any] = (),
    settings: Mapping[str, Any] | None = None,
    unscoped: Mapping[str, Handler] | None = None,
    max_field_size: int | None = None,
) -> web.Application:
    """An app: ``first`` middlewares, the session middleware, ``outer``
    middlewares, then the flashbag middleware (``kind="middleware"``).

    ``routes`` open a scope of ``kind`` (any method); ``unscoped`` routes do
    not (unless the middleware scopes them all). ``settings``: the keyword
    arguments of ``aiohttp_flashbag.setup()``, which is called only when given.
    ``max_field_size``: the longest request header line the server takes.
    """
    app = web.Application(
        middlewares=list(first),
        handler_args=None
        if max_field_size is None
        else {"max_field_size": max_field_size},
    )
    setup_session(app, storage)
    app.middlewares.extend(outer)
    if kind == "middleware":
        app.middlewares.append(fb.flashbag_middleware)
    if settings is not None:
        fb.setup(app, **settings)
    for path, handler in routes.items():
        app.router.add_route("*", path, scoped(kind, handler))
    for path, handler in (unscoped or {}).items():
        app.router.add_route("*", path, handler)
    return app


async def show(request: web.Request) -> web.Response:
    """Everything incoming, as a page shows it (this consumes it)."""
    bag = fb.get_flashbag(request)
    return web.json_response(
        {
            "values": {key: fb.flashbag_get(request, key) for key in bag.incoming[0]},
            "messages": [
                list(m) for m in fb.get_flashed_messages(request, with_categories=True)
            ],
        }
    )


# -- cookies -------------------------------------------------------------------


def put_cookie(client: Client | aiohttp.ClientSession, value: str) -> None:
    """Give the client the session cookie ``value``, as its browser would."""
    if isinstance(client, TestClient):
        client.session.cookie_jar.update_cookies(
            {COOKIE: value}, response_url=client.make_url("/")
        )
    else:
        client.cookie_jar.update_cookies({COOKIE: value})


def put_simple_session(
    client: Client | aiohttp.ClientSession, session: Mapping[str, Any]
) -> None:
    """A SimpleCookieStorage cookie holding ``session``, written by hand."""
    put_cookie(client, json.dumps({"created": int(time.time()), "session": session}))


def sent_cookies(resp: aiohttp.ClientResponse) -> list[str]:
    """``name=value`` of every session cookie the response sets, as sent."""
    found = []
    for header in resp.headers.getall("Set-Cookie", []):
        name_value = header.split(";", 1)[0].strip()
        if name_value.split("=", 1)[0].strip() == COOKIE:
            found.append(name_value)
    return found


def sent_value(resp: aiohttp.ClientResponse) -> str | None:
    """The session cookie's value as sent (``None``: not sent), however long.

    aiohttp's client, like a browser, ignores a cookie over 4096 bytes, so
    this reads the header itself.
    """
    parsed: SimpleCookie = SimpleCookie()
    for header in resp.headers.getall("Set-Cookie", []):
        parsed.load(header)
    morsel = parsed.get(COOKIE)
    return None if morsel is None else morsel.value


def jar_value(client: Client | aiohttp.ClientSession) -> str | None:
    """The session cookie the client holds (``None``: none)."""
    jar = (
        client.session.cookie_jar
        if isinstance(client, TestClient)
        else client.cookie_jar
    )
    return next((m.value for m in jar if m.key == COOKIE), None)


async def cookie_bytes(storage: AbstractStorage, session: Mapping[str, Any]) -> int:
    """Bytes of ``name=value`` of the cookie ``storage`` sends for ``session``."""
    data: Any = {"created": int(time.time()), "session": dict(session)}
    response = web.Response()
    await storage.save_session(
        make_mocked_request("GET", "/"), response, Session(None, data=data, new=True)
    )
    morsel = response.cookies[storage.cookie_name]
    return len(morsel.key) + 1 + len(morsel.coded_value)


# -- a storage that keeps Python objects -----------------------------------------


class MemoryStorage(AbstractStorage):
    """A custom server-side storage that keeps sessions as Python objects.

    It stores what no JSON storage can (a dict with an ``int`` key), and has
    no cookie-size limit.
    """

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, dict[str, Any]] = {}

    async def load_session(self, request: web.Request) -> Session:
        key = self.load_cookie(request)
        data: Any = self.records.get(key) if key is not None else None
        if data is None:
            return Session(None, data=None, new=True)
        return Session(key, data=copy.deepcopy(data), new=False)

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        key = session.identity or uuid.uuid4().hex
        self.records[key] = {
            "created": session.created,
            "session": copy.deepcopy(dict(session)),
        }
        self.save_cookie(response, key)

    def put(self, client: Client, session: Mapping[str, Any]) -> str:
        """Give ``client`` a session holding ``session`` (kept as it is)."""
        key = uuid.uuid4().hex
        self.records[key] = {"created": int(time.time()), "session": dict(session)}
        put_cookie(client, key)
        return key

    def held(self, client: Client) -> dict[str, Any]:
        """The session the client's cookie names (empty: none)."""
        key = jar_value(client)
        record = self.records.get(key) if key else None
        return {} if record is None else dict(record["session"])


# -- logs and time ---------------------------------------------------------------


def flash_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The WARNING messages the library logged (logger ``aiohttp_flashbag``)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("aiohttp_flashbag") and r.levelno == logging.WARNING
    ]


class Clock:
    """``time.time`` moved on by ``offset`` seconds (patched for the test).

    The library reads ``time.time()`` when it uses it, so moving ``offset``
    moves every clock of the app: a request, or a worker whose clock is off.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = 0.0
        real = time.time
        self.start = real()
        monkeypatch.setattr(time, "time", lambda: real() + self.offset)


class FrozenClock:
    """``time.time`` fixed at ``now`` (patched for the test): one second."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = float(int(time.time()) + 0.5)
        monkeypatch.setattr(time, "time", lambda: self.now)


# -- a server for property tests ---------------------------------------------------


class Site:
    """An app served on its own event loop, for tests that hypothesis drives.

    Hypothesis runs a test many times within one pytest test, which the
    function-scoped ``aiohttp_client`` fixture cannot serve; each example
    here runs to completion on this loop.
    """

    def __init__(self, app: web.Application) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = TestServer(app, host="127.0.0.1")
        self.loop.run_until_complete(self.server.start_server())

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.loop.run_until_complete(self.server.close())
        self.loop.close()
