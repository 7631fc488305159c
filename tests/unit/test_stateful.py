"""Property-based: random requests of several visitors against a reference model.

A real app is driven over HTTP by several clients, each with its own cookie
jar. Each scoped request runs random flash operations (a log in among them)
and ends in a random way; unscoped requests are mixed in. Every read, every
session write and every stored bag is checked against ``expect`` (the model of
tests/support/model.py, shared with test_redis_model.py), a model
written from docs/lifecycle.rst alone ("The table", "Unread flashes",
"Messages of this request", "New sessions", "Writes", "Size"), under both
``unread`` settings, and from docs/translations.rst: levels, the minimum
level (the app's, and ``set_level``), extra tags and lazy messages.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web
from hypothesis import assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    rule,
    run_state_machine_as_test,
)

from ..conftest import CountingStorage, make_app
from ..support.backends import Backend, Memcached, Redis, cookie_backends
from ..support.machine import ServerMachine
from ..support.model import (
    ENDS,
    LEVELS,
    MAX_BYTES,
    MIN_LEVEL,
    N_CLIENTS,
    OPS,
    expect,
    scoped,
)
from ..support.opsapp import unscoped


class FlashbagMachine(ServerMachine):
    def driven_app(self) -> web.Application:
        self.storage = CountingStorage(self.backend.storage(self.backend_state))
        return make_app(
            [("*", "/scoped", scoped), ("GET", "/asset", unscoped)],
            storage=self.storage.storage,
            unread=self.unread,
            max_bytes=MAX_BYTES,
            levels=LEVELS,
            min_level=MIN_LEVEL,
        )

    @rule(who=st.integers(0, N_CLIENTS - 1), ops=st.lists(OPS, max_size=6), end=ENDS)
    def scoped_request(self, who: int, ops: list[list[Any]], end: str) -> None:
        log_in = ["log_in"] in ops
        # aiohttp-session saves no StreamResponse: the log in itself is lost.
        assume(not (log_in and end == "stream"))
        self.clock += 1  # a new second for every request: each write is new
        expected_results, after = expect(
            self.model[who], ops, end, self.clock, self.unread
        )
        changed = after != self.model[who] or (log_in and end != "crash")
        saves = self.storage.saves
        client = self.clients[who]

        async def go() -> tuple[int, Any, bool, Any]:
            status, results, has_cookie = await self.send_ops(client, ops, end)
            stored = await self.backend.stored(self.backend_state, client)
            return status, results, has_cookie, stored

        status, results, set_cookie, stored = self.run(go())
        statuses = {"crash": 500, "500-raised": 500, "HEAD": 200, "stream": 200}
        statuses["hx-redirect"] = 200
        assert status == (statuses[end] if end in statuses else int(end))
        if results is not None:
            assert json.loads(results) == expected_results
        else:
            assert end == "crash"
        assert self.storage.saves - saves == int(changed)
        if self.backend.cookie_holds_data:
            assert set_cookie == changed
        assert stored == after.as_session_entry()
        self.model[who] = after

    @rule(who=st.integers(0, N_CLIENTS - 1))
    def unscoped_request(self, who: int) -> None:
        loads, saves = self.storage.loads, self.storage.saves

        async def go() -> bool:
            async with self.clients[who].get(self.server.make_url("/asset")) as resp:
                assert resp.status == 200
                return "Set-Cookie" in resp.headers

        assert not self.run(go())
        assert (self.storage.loads, self.storage.saves) == (loads, saves)


def run_machine(backend: Backend, unread: str) -> None:
    machine = type(
        f"FlashbagMachine_{backend.name}_{unread}",
        (FlashbagMachine,),
        {"backend": backend, "unread": unread},
    )
    run_state_machine_as_test(machine, settings=settings(stateful_step_count=25))


UNREAD = pytest.mark.parametrize("unread", ["drop", "keep"])


@UNREAD
@pytest.mark.parametrize("backend", cookie_backends(), ids=lambda b: b.name)
def test_flash_lifecycle(backend: Backend, unread: str) -> None:
    run_machine(backend, unread)


@UNREAD
def test_flash_lifecycle_RedisStorage(redis_port: int, unread: str) -> None:
    run_machine(Redis(redis_port), unread)


@UNREAD
def test_flash_lifecycle_MemcachedStorage(memcached_port: int, unread: str) -> None:
    run_machine(Memcached(memcached_port), unread)
