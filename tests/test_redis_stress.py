"""Many visitors, each with many requests in flight at once (docs/concurrency.rst).

Every visitor posts flashes with unique ids and loads scoped pages that show
every message, from several concurrent tasks in random interleavings, with
unscoped polls in between. With the Redis flash store every flash is shown
exactly once, and only to the visitor who set it, on a real server in this
process and on three gunicorn workers behind one socket. The same load on
flashes kept in the session (the default store) is reported, not asserted:
it is what docs/concurrency.rst says the session cannot do.
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp_session import AbstractStorage
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from aiohttp_session.redis_storage import RedisStorage
from cryptography.fernet import Fernet
from redis import asyncio as aioredis

from aiohttp_flashbag.stores import RedisFlashStore

from .redisapp import build
from .servers import ROOT, free_port, gunicorn, process

VISITORS = 20
TASKS = 10  # requests of one visitor in flight at once
STEPS = 6  # requests of each task
TIME_LIMIT = 120  # seconds for one load; it takes a few
DB = 6  # other tests use database 0 and flush it


@dataclass
class Tally:
    """What the pages showed, and the ids posted."""

    posted: set[str] = field(default_factory=set)
    shown: collections.Counter[str] = field(default_factory=collections.Counter)
    #: (visitor, flash id) for a flash shown to a visitor who did not set it
    misplaced: list[tuple[int, str]] = field(default_factory=list)
    workers: set[int] = field(default_factory=set)
    requests: int = 0

    def lost(self) -> list[str]:
        return sorted(self.posted - set(self.shown))

    def duplicated(self) -> list[str]:
        return sorted(k for k, n in self.shown.items() if n > 1)

    def report(self, name: str, elapsed: float) -> str:
        once = sum(1 for k in self.posted if self.shown[k] == 1)
        return (
            f"\n[{name}] {VISITORS} visitors x {TASKS} tasks in flight, "
            f"{self.requests} requests on {len(self.workers)} process(es) in "
            f"{elapsed:.1f}s: {len(self.posted)} flashes, {once} shown once, "
            f"{len(self.lost())} lost, {len(self.duplicated())} shown more than "
            f"once, {len(self.misplaced)} shown to another visitor"
        )


async def visitor(url: str, index: int, tally: Tally, seed: int) -> None:
    """One visitor: a first post (the session), then concurrent tasks, then
    a last page for what is left.

    The first post comes alone: two first requests of a visitor with no
    session yet make two sessions, as aiohttp-session itself does, and the
    cookie jar keeps one.
    """
    rng = random.Random(seed * 1000 + index)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:

        async def post(flash_id: str) -> None:
            async with http.post(
                url + "/flash", data={"id": flash_id}, allow_redirects=False
            ) as resp:
                assert resp.status == 303, await resp.text()
            tally.posted.add(flash_id)
            tally.requests += 1

        async def look(path: str = "/") -> None:
            async with http.get(url + path) as resp:
                assert resp.status == 200, await resp.text()
                body = await resp.json()
            tally.requests += 1
            tally.workers.add(body["worker"])
            for flash_id in body["shown"]:
                tally.shown[flash_id] += 1
                if not flash_id.startswith(f"v{index}-"):
                    tally.misplaced.append((index, flash_id))

        async def task(number: int) -> None:
            for step in range(STEPS):
                await asyncio.sleep(rng.random() / 500)
                roll = rng.random()
                if roll < 0.5:
                    await post(f"v{index}-t{number}-s{step}")
                elif roll < 0.85:
                    await look()
                else:
                    await look("/poll")

        await post(f"v{index}-first")
        await asyncio.gather(*(task(n) for n in range(TASKS)))
        await look()


async def load(url: str, seed: int) -> tuple[Tally, float]:
    tally = Tally()
    started = time.monotonic()
    await asyncio.wait_for(
        asyncio.gather(*(visitor(url, i, tally, seed) for i in range(VISITORS))),
        TIME_LIMIT,
    )
    return tally, time.monotonic() - started


async def all_workers_up(url: str) -> None:
    """Wait (10 s at most) until every worker has answered: the first one
    ready would otherwise take the whole load, and nothing would be tested
    across workers.
    """
    seen: set[int] = set()
    deadline = time.monotonic() + 10
    async with aiohttp.ClientSession() as client:
        while len(seen) < WORKERS and time.monotonic() < deadline:

            async def worker() -> int:
                async with client.get(f"{url}/poll") as resp:
                    pid: int = (await resp.json())["worker"]
                    return pid

            seen.update(await asyncio.gather(*(worker() for _ in range(2 * WORKERS))))
            await asyncio.sleep(0.05)


def check(tally: Tally) -> None:
    assert tally.lost() == []
    assert tally.duplicated() == []
    assert tally.misplaced == []
    assert len(tally.posted) >= VISITORS * (1 + TASKS * STEPS // 4)


# -- one process ------------------------------------------------------------------


@pytest.fixture
async def redis(redis_port: int) -> AsyncIterator[aioredis.Redis]:
    # 200 requests in flight: a pool that waits for a free connection
    # rather than failing past its max_connections (100 by default)
    pool = aioredis.BlockingConnectionPool(
        host="127.0.0.1", port=redis_port, db=DB, max_connections=50, timeout=20
    )
    client = aioredis.Redis(connection_pool=pool)
    await client.flushdb()
    yield client
    await client.aclose()
    await pool.disconnect()


Sessions = Callable[[aioredis.Redis], AbstractStorage]
SESSIONS: dict[str, Sessions] = {
    "EncryptedCookieStorage": lambda redis: EncryptedCookieStorage(os.urandom(32)),
    "RedisStorage": lambda redis: RedisStorage(redis, max_age=3600),
}
Serve = Callable[..., Awaitable[Any]]


@pytest.mark.parametrize("sessions", sorted(SESSIONS))
async def test_every_flash_is_shown_once_with_the_redis_store(
    aiohttp_server: Serve,
    redis: aioredis.Redis,
    sessions: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = build(SESSIONS[sessions](redis), RedisFlashStore(redis))
    server = await aiohttp_server(app)
    tally, elapsed = await load(str(server.make_url("")), seed=1)
    with capsys.disabled():
        print(tally.report(f"redis store, {sessions}", elapsed))
    check(tally)


@pytest.mark.parametrize("sessions", sorted(SESSIONS))
async def test_what_the_session_store_loses_under_the_same_load(
    aiohttp_server: Serve,
    redis: aioredis.Redis,
    sessions: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Reported, not asserted: last writer wins (docs/concurrency.rst)."""
    server = await aiohttp_server(build(SESSIONS[sessions](redis), None))
    tally, elapsed = await load(str(server.make_url("")), seed=1)
    with capsys.disabled():
        print(tally.report(f"session store, {sessions}", elapsed))
    assert tally.misplaced == []  # separate sessions stay separate


# -- three gunicorn workers -------------------------------------------------------

WORKERS = 3


@pytest.mark.parametrize(
    ("sessions", "store"),
    [("encrypted", "redis"), ("redis", "redis"), ("redis", "session")],
)
async def test_every_flash_is_shown_once_across_workers(
    redis_port: int,
    sessions: str,
    store: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    admin = aioredis.Redis(host="127.0.0.1", port=redis_port, db=DB)
    await admin.flushdb()
    await admin.aclose()
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/{DB}",
        "SESSIONS": sessions,
        "FERNET_KEY": Fernet.generate_key().decode(),
        "STORE": store,
    }
    args = gunicorn("tests", "redisapp:make_app", WORKERS, port)
    with process(args, port, cwd=str(ROOT), env=env):
        await all_workers_up(f"http://127.0.0.1:{port}")
        tally, elapsed = await load(f"http://127.0.0.1:{port}", seed=2)
    with capsys.disabled():
        name = f"{WORKERS} gunicorn workers, {store} store, {sessions} sessions"
        print(tally.report(name, elapsed))
    assert len(tally.workers) > 1, "the load should reach several workers"
    if store == "redis":
        check(tally)
