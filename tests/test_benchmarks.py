"""The benchmark app does in every mode what its scenarios claim to measure.

``benchmarks/run.py`` is run by hand and measures; this checks, through real
requests, that the floor and this library's two modes serve the same pages:
a primed flash is shown once, and only the middleware consumes it on an
unrelated route. (0.0.3's mode needs the 0.0.3 release, which the benchmark
script downloads.)
"""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

import pytest
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from .conftest import Client
from .servers import ROOT


def bench_app() -> ModuleType:
    path = ROOT / "benchmarks" / "bench_app.py"
    spec = importlib.util.spec_from_file_location("bench_app", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = bench_app()


async def text(client: Client, path: str) -> str:
    resp = await client.get(path)
    assert resp.status == 200
    return await resp.text()


@pytest.fixture(params=["floor", "decorator", "middleware"])
def mode(request: pytest.FixtureRequest) -> str:
    param: str = request.param
    return param


@pytest.fixture
async def client(
    mode: str, aiohttp_client: Callable[[Any], Awaitable[Client]]
) -> Client:
    storage = EncryptedCookieStorage(BENCH.SECRET)
    return await aiohttp_client(BENCH.make_app(mode, storage))


async def test_a_primed_flash_is_shown_once(client: Client) -> None:
    assert await text(client, "/prime/flash") == "primed"
    assert await text(client, "/page") == f"page error={BENCH.MESSAGE}"
    assert await text(client, "/page") == "page error=None"


async def test_a_session_without_flash_shows_none(client: Client) -> None:
    assert await text(client, "/prime/session") == "primed"
    assert await text(client, "/page") == "page error=None"


async def test_only_the_middleware_consumes_on_an_unrelated_route(
    mode: str, client: Client
) -> None:
    await text(client, "/prime/flash")
    assert await text(client, "/unrelated") == "unrelated"
    expected = "None" if mode == "middleware" else BENCH.MESSAGE
    assert await text(client, "/page") == f"page error={expected}"


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(SystemExit, match="unknown mode"):
        BENCH.make_app("nope", EncryptedCookieStorage(BENCH.SECRET))
    with pytest.raises(SystemExit, match="--seed"):
        BENCH.make_app("seed", EncryptedCookieStorage(BENCH.SECRET))
