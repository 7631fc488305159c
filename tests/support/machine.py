"""The frame of the property-based state machines (tests/unit/test_stateful.py
and tests/unit/test_redis_model.py): one app served over HTTP on its own
event loop, several visitors each with a cookie jar, one reference model of
what each visitor's flashes should be, and a clock that moves one second a
request.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis.stateful import RuleBasedStateMachine

from ..conftest import with_clock
from .backends import Backend
from .model import N_CLIENTS, Stored
from .opsapp import ops_headers


class ServerMachine(RuleBasedStateMachine):
    """Subclasses build the app (:meth:`driven_app`) and close what they opened
    besides (:meth:`close_more`).
    """

    backend: ClassVar[Backend]
    unread: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.backend_state = self.run(self.backend.begin())
        app = self.driven_app()
        self.server = TestServer(app, host="127.0.0.1")
        # The clock flashes are stamped with, one second further every
        # request: five minutes behind the reader's, so never ahead of it
        # and never older than max_age.
        self.clock = int(time.time()) - 300
        with_clock(app, lambda: self.clock)
        self.run(self.server.start_server())
        self.clients = [self.run(self.new_client()) for _ in range(N_CLIENTS)]
        self.model = [Stored() for _ in range(N_CLIENTS)]

    def driven_app(self) -> web.Application:
        raise NotImplementedError

    async def close_more(self) -> None:
        """Close what :meth:`driven_app` opened besides the backend."""

    async def send_ops(
        self, client: aiohttp.ClientSession, ops: list[list[Any]], end: str
    ) -> tuple[int, str | None, bool]:
        """One scoped request that runs ``ops`` and ends as ``end`` says: its
        status, its ``X-Results`` (what the reads returned), and whether it
        set a cookie.
        """
        async with client.request(
            "HEAD" if end == "HEAD" else "POST",
            self.server.make_url("/scoped"),
            headers=ops_headers(ops, "200" if end == "HEAD" else end),
            allow_redirects=False,
        ) as resp:
            await resp.read()
            return (
                resp.status,
                resp.headers.get("X-Results"),
                "Set-Cookie" in resp.headers,
            )

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def new_client(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    def teardown(self) -> None:
        async def close() -> None:
            for client in self.clients:
                await client.close()
            await self.server.close()
            await self.close_more()
            await self.backend.end(self.backend_state)

        self.run(close())
        self.loop.close()
