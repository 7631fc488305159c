"""Many users on three gunicorn workers with sessions in a real Redis."""

from __future__ import annotations

import asyncio
import collections
import os
import re
import time

import aiohttp
import pytest

from ..support.servers import ROOT, free_port, gunicorn, process

USERS = 50
CYCLES = 10
XHR_PER_CYCLE = 10
WORKERS = 3
TIME_LIMIT = 240  # seconds for the whole load; it takes a fraction of that

FLASH = re.compile(r'<li class="flash success">Hello, (u\d+c\d+)!</li>')


async def user(
    url: str, index: int, shown: collections.Counter[str], pages: list[str]
) -> set[int]:
    """One visitor: post, ten unscoped XHRs, then the page; ten times."""
    workers: set[int] = set()
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as client:
        for cycle in range(CYCLES):
            flash_id = f"u{index}c{cycle}"
            async with client.post(
                url + "/", data={"name": flash_id}, allow_redirects=False
            ) as resp:
                assert resp.status == 303

            async def xhr() -> int:
                async with client.get(url + "/api/poll") as resp:
                    assert resp.status == 200
                    assert "Set-Cookie" not in resp.headers
                    worker: int = (await resp.json())["worker"]
                    return worker

            workers.update(await asyncio.gather(*(xhr() for _ in range(XHR_PER_CYCLE))))

            async with client.get(url + "/") as resp:
                assert resp.status == 200
                found = FLASH.findall(await resp.text())
            shown.update(found)
            # the page right after the redirect shows this flash and no other
            pages.append("ok" if found == [flash_id] else f"{flash_id}: {found}")
    return workers


async def test_every_flash_is_shown_once_across_workers(
    redis_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/1"}
    args = gunicorn("examples", "redis_app:make_app", WORKERS, port)
    shown: collections.Counter[str] = collections.Counter()
    pages: list[str] = []
    with process(args, port, cwd=str(ROOT), env=env):
        url = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        worker_sets = await asyncio.wait_for(
            asyncio.gather(*(user(url, i, shown, pages) for i in range(USERS))),
            timeout=TIME_LIMIT,
        )
        elapsed = time.monotonic() - started

    expected = {f"u{i}c{c}" for i in range(USERS) for c in range(CYCLES)}
    lost = sorted(expected - set(shown))
    duplicated = sorted(k for k, n in shown.items() if n > 1)
    misplaced = [p for p in pages if p != "ok"]
    workers = set().union(*worker_sets)
    requests = USERS * CYCLES * (2 + XHR_PER_CYCLE)
    with capsys.disabled():
        print(
            f"\n[workers] {USERS} users x {CYCLES} post-redirect-get cycles, "
            f"{XHR_PER_CYCLE} XHRs each, {requests} requests on {len(workers)} "
            f"gunicorn workers in {elapsed:.1f}s: {len(expected)} flashes, "
            f"{len(expected) - len(lost) - len(duplicated)} shown once, "
            f"{len(lost)} lost, {len(duplicated)} duplicated, "
            f"{len(misplaced)} misplaced"
        )
    assert lost == []
    assert duplicated == []
    assert misplaced == []
    assert len(workers) > 1, "the load should reach several workers"
