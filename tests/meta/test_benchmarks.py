"""The benchmark app serves, in every mode, what its scenarios claim to measure.

``benchmarks/run.py`` is run by hand and measures; this checks each of its
scenarios through real requests, in every mode of ``benchmarks/bench_app.py``
and at each message length: the page (or redirect) the scenario asks for, and
the flash a following ``/page`` shows: the one the request set, the one it
left (only the middleware, with or without ``setup()``, and 0.0.3 consume it on
an unrelated route), or none. 0.0.3's mode needs the 0.0.3 release, which the
benchmark script downloads: without it that mode is skipped.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

import aiohttp_session
import pytest
from aiohttp import web
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from ..conftest import COOKIE, Client
from ..support.servers import ROOT

SEED = ROOT / "benchmarks" / ".work" / "seed" / "aiohttp_flashbag" / "__init__.py"


def bench_app() -> ModuleType:
    path = ROOT / "benchmarks" / "bench_app.py"
    spec = importlib.util.spec_from_file_location("bench_app", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = bench_app()
CONSUMES_EVERYWHERE = {"middleware", "middleware+setup", "seed"}


async def text(client: Client, path: str, status: int = 200) -> str:
    resp = await client.get(path, allow_redirects=False)
    assert resp.status == status
    if status == 303:
        assert resp.headers["Location"] == "/page"
        assert COOKIE in resp.cookies
    return await resp.text()


# 0.0.3 keys the request with a str, as it did before aiohttp had RequestKey.
OLD_KEYS = pytest.mark.filterwarnings(
    "ignore:It is recommended to use web.RequestKey:UserWarning:aiohttp_flashbag_0_0_3"
)


@pytest.fixture(
    params=[
        pytest.param(mode, marks=[OLD_KEYS] if mode == "seed" else [])
        for mode in BENCH.MODES
    ]
)
def mode(request: pytest.FixtureRequest) -> str:
    param: str = request.param
    if param == "seed" and not SEED.exists():
        pytest.skip("0.0.3 is not downloaded (benchmarks/run.py does it)")
    return param


def app(mode: str) -> Any:
    seed = BENCH.load_seed(str(SEED)) if mode == "seed" else None
    return BENCH.make_app(mode, EncryptedCookieStorage(BENCH.SECRET), seed)


@pytest.fixture
async def client(
    mode: str, aiohttp_client: Callable[[Any], Awaitable[Client]]
) -> Client:
    return await aiohttp_client(app(mode))


@pytest.mark.parametrize("length", BENCH.LENGTHS)
@pytest.mark.parametrize(
    ("name", "path", "kind", "status"),
    BENCH.SCENARIOS,
    ids=[s[0] for s in BENCH.SCENARIOS],
)
async def test_each_scenario_serves_what_it_claims(
    mode: str,
    client: Client,
    name: str,
    path: str,
    kind: str | None,
    status: int,
    length: int,
) -> None:
    message = BENCH.message(length)
    assert len(message) == length
    if kind is not None:
        assert await text(client, BENCH.PRIME[kind].format(length=length)) == "primed"
    shown = {
        "unrelated, no cookie": "unrelated",
        "unrelated, flash cookie": "unrelated",
        "page consumes a flash": f"page error={message}",
        "page, session without flash": "page error=None",
        "flash and redirect, no cookie": "303: See Other",
    }
    assert await text(client, path.format(length=length), status) == shown[name]
    flash_left = name == "unrelated, flash cookie" and mode not in CONSUMES_EVERYWHERE
    flash_set = name == "flash and redirect, no cookie"
    left = message if flash_left or flash_set else None
    assert await text(client, "/page") == f"page error={left}"


@pytest.mark.parametrize("route", ["/flash/{length}", BENCH.PRIME["flash"]])
async def test_the_lengths_give_cookies_of_each_padding(
    mode: str, client: Client, route: str
) -> None:
    # Each '=' of base64 padding gets the cookie quoted; each length its own.
    padding = set()
    for length in BENCH.LENGTHS:
        client.session.cookie_jar.clear()
        resp = await client.get(route.format(length=length), allow_redirects=False)
        padding.add(resp.cookies[COOKIE].value.count("="))
    assert padding == {0, 1, 2}


@pytest.mark.parametrize("door", ["decorator", "middleware"])
def test_the_setup_modes_call_setup(door: str) -> None:
    # setup() leaves its settings on the app, and nothing else differs.
    assert len(app(f"{door}+setup")) > len(app(door))


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(SystemExit, match="unknown mode"):
        BENCH.make_app("nope", EncryptedCookieStorage(BENCH.SECRET))
    with pytest.raises(SystemExit, match="--seed"):
        BENCH.make_app("seed", EncryptedCookieStorage(BENCH.SECRET))


async def test_the_floor_stores_the_same_bytes_as_the_library(
    aiohttp_client: Any,
) -> None:
    """The floor is hand-written flash code that stores what the library
    stores (key, form, time stamp), so that the ratios are the library's own
    code and not a cookie of another size.
    """
    storage = EncryptedCookieStorage(BENCH.SECRET)
    stored = {}
    for mode in ("floor", "decorator"):
        client: Client = await aiohttp_client(BENCH.make_app(mode, storage))
        length = BENCH.LENGTHS[1]
        resp = await client.get(f"/flash/{length}", allow_redirects=False)
        assert resp.status == 303
        cookie = resp.cookies[COOKIE].value
        session = await storage.load_session(fake_request(COOKIE, cookie))
        stored[mode] = session[BENCH.FLASH_KEY]
    floor, library = stored["floor"], stored["decorator"]
    (times,) = {abs(floor[k][1]["error"][0] - library[k][1]["error"][0]) for k in floor}
    assert times <= 1  # stamped in the same second, or the next
    for bag in (floor, library):
        for values in (bag[k][1] for k in bag):
            values["error"][0] = 0
    assert floor == library


def fake_request(name: str, value: str) -> Any:
    """A request that carries only the cookie ``name=value``."""
    from aiohttp.test_utils import make_mocked_request

    return make_mocked_request("GET", "/", headers={"Cookie": f"{name}={value}"})


@pytest.mark.parametrize("mode", ["decorator", "decorator+setup", "middleware"])
async def test_a_scoped_page_leaves_nothing_for_the_garbage_collector(
    aiohttp_client: Any, mode: str
) -> None:
    """docs/performance.rst: a page, with a flash or without, frees what it
    made when it ends; a reference cycle (the request holding the scope that
    holds the request) would leave every request to the collector.
    """
    import gc

    from aiohttp import DummyCookieJar

    storage = EncryptedCookieStorage(BENCH.SECRET)
    client: Client = await aiohttp_client(
        BENCH.make_app(mode, storage), cookie_jar=DummyCookieJar()
    )
    cookies = []
    for prime in ("/prime/session", f"/prime/flash/{BENCH.LENGTHS[0]}"):
        resp = await client.get(prime)
        cookies.append(f"{COOKIE}={resp.cookies[COOKIE].value}")
    from aiohttp_flashbag import Flashbag

    # What a request makes: only these are looked for among the garbage, which
    # may also hold what other threads of the test process left behind.
    made = (web.BaseRequest, web.StreamResponse, Flashbag, aiohttp_session.Session)
    for cookie in cookies:
        await client.get("/page", headers={"Cookie": cookie})  # warm
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(10):
                resp = await client.get("/page", headers={"Cookie": cookie})
                assert resp.status == 200
            gc.collect()
            left = [type(o).__name__ for o in gc.garbage if isinstance(o, made)]
            assert left == []
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
