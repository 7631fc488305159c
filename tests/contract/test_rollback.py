"""A rolling deploy or a rollback between aiohttp-flashbag 0.0.3 and this
version: both read the same sessions.

docs/lifecycle.rst, "Bad input and faults", and docs/coming-from.rst,
"Rolling deploys and rollbacks": no 500 on either side, on any request;
0.0.3's ``flashbag_get`` returns its default for every key an application
uses rather than this version's data (so this version's flashes are lost
to a 0.0.3 page); 0.0.3's data is read by this version as incoming values.
Applications written for 0.0.3 (its names and arguments, through the
middleware) keep working.

0.0.3 itself is installed aside with pip and imported under another module
name, so the two versions run in one process, as two applications that share
one cookie storage key: the same visitor's cookie goes to both.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

import aiohttp_flashbag as fb

# 0.0.3 keeps its state under str request keys, which aiohttp 3.14 warns about.
pytestmark = pytest.mark.filterwarnings(
    "ignore:It is recommended to use web.RequestKey"
)

Server = Callable[[web.Application], Awaitable[TestServer]]

#: Keys an application would name its flashes by.
APP_KEYS = ["error", "notice", "form", "list", "message", "success", "aiohttp_flashbag"]
DEFAULT = "<default>"


@pytest.fixture(scope="session")
def seed(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """aiohttp-flashbag 0.0.3, as ``aiohttp_flashbag_003``."""
    into = tmp_path_factory.mktemp("seed")
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps"]
    result = subprocess.run(
        [*pip, "--target", str(into), "aiohttp-flashbag==0.0.3"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    spec = importlib.util.spec_from_file_location(
        "aiohttp_flashbag_003", into / "aiohttp_flashbag" / "__init__.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__version__ == "0.0.3"
    return module


@pytest.fixture
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    """One visitor: a cookie set on 127.0.0.1 goes to every test server."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        yield session


def shared_storage(secret: bytes) -> EncryptedCookieStorage:
    return EncryptedCookieStorage(secret, cookie_name="SHARED")


# -- the two applications ------------------------------------------------------


def old_app(seed: ModuleType, secret: bytes) -> web.Application:
    """An application on 0.0.3: the middleware and its four calls."""

    async def page(request: web.Request) -> web.Response:
        return web.json_response(
            {key: seed.flashbag_get(request, key, DEFAULT) for key in APP_KEYS}
        )

    async def submit(request: web.Request) -> web.Response:
        seed.flashbag_set(request, "error", "Name is required")
        seed.flashbag_append(request, "list", 1)
        seed.flashbag_append(request, "list", 2)
        raise web.HTTPSeeOther("/page")

    app = web.Application()
    setup_session(app, shared_storage(secret))
    app.middlewares.append(seed.flashbag_middleware)
    app.router.add_get("/page", page)
    app.router.add_post("/submit", submit)
    return app


def new_app(secret: bytes) -> web.Application:
    """The same kind of application on this version, which also flashes."""

    async def page(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "values": {key: fb.flashbag_get(request, key) for key in APP_KEYS},
                "messages": fb.get_flashed_messages(request),
            }
        )

    async def submit(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "error", "Name is required")
        fb.flashbag_append(request, "list", 1)
        fb.flash(request, "Saved", "success")
        raise web.HTTPSeeOther("/page")

    app = web.Application()
    setup_session(app, shared_storage(secret))
    app.middlewares.append(fb.flashbag_middleware)
    app.router.add_get("/page", page)
    app.router.add_post("/submit", submit)
    return app


async def get(
    browser: aiohttp.ClientSession, server: TestServer, path: str, method: str = "GET"
) -> tuple[int, Any]:
    async with browser.request(
        method, server.make_url(path), allow_redirects=False
    ) as resp:
        body = await resp.json() if resp.status == 200 else await resp.text()
        return resp.status, body


# -- this version's flashes meet 0.0.3 ---------------------------------------------


async def test_0_0_3_reads_the_defaults_where_this_version_flashed(
    seed: ModuleType, aiohttp_server: Server, browser: aiohttp.ClientSession
) -> None:
    """A rollback, or a rolling deploy that sends the next request to a 0.0.3
    worker: the page renders, with every key at its default, and the
    flashes of this version are lost.
    """
    secret = os.urandom(32)
    new, old = (
        await aiohttp_server(new_app(secret)),
        await aiohttp_server(old_app(seed, secret)),
    )
    assert (await get(browser, new, "/submit", "POST"))[0] == 303
    status, body = await get(browser, old, "/page")
    assert status == 200, body
    assert body == dict.fromkeys(APP_KEYS, DEFAULT)
    assert await get(browser, old, "/page") == (200, dict.fromkeys(APP_KEYS, DEFAULT))
    # and back on this version: what 0.0.3 stored (nothing) is read
    assert await get(browser, new, "/page") == (
        200,
        {"values": dict.fromkeys(APP_KEYS), "messages": []},
    )


async def test_0_0_3_sets_and_this_version_reads(
    seed: ModuleType, aiohttp_server: Server, browser: aiohttp.ClientSession
) -> None:
    """An upgrade, or a rolling deploy the other way: 0.0.3's values are
    read as incoming values, once.
    """
    secret = os.urandom(32)
    new, old = (
        await aiohttp_server(new_app(secret)),
        await aiohttp_server(old_app(seed, secret)),
    )
    assert (await get(browser, old, "/submit", "POST"))[0] == 303
    status, body = await get(browser, new, "/page")
    assert status == 200, body
    expected = dict.fromkeys(APP_KEYS)
    expected |= {"error": "Name is required", "list": [1, 2]}
    assert body == {"values": expected, "messages": []}
    assert await get(browser, new, "/page") == (
        200,
        {"values": dict.fromkeys(APP_KEYS), "messages": []},
    )


async def test_turns_between_the_versions_never_fail(
    seed: ModuleType, aiohttp_server: Server, browser: aiohttp.ClientSession
) -> None:
    """Requests of one visitor alternate between the versions, as a rolling
    deploy sends them: every one is answered.
    """
    secret = os.urandom(32)
    new, old = (
        await aiohttp_server(new_app(secret)),
        await aiohttp_server(old_app(seed, secret)),
    )
    steps = [
        (server, path, method)
        for server in (new, old)
        for path, method in (("/submit", "POST"), ("/page", "GET"))
    ]
    for first in steps:  # every step right after every step
        for second in steps:
            for server, path, method in (first, second):
                status, body = await get(browser, server, path, method)
                assert status in (200, 303), body


# -- an application written for 0.0.3, on either version -----------------------------


def seed_app(module: Any, secret: bytes) -> web.Application:
    """0.0.3's whole API, used as its README showed, the keyword arguments
    included; it runs unchanged on ``module``.
    """

    async def form(request: web.Request) -> web.Response:
        return web.json_response(
            [
                module.flashbag_get(request, "errors", []),
                module.flashbag_get(request, "name"),
                module.flashbag_get(request, key="notice", default="none"),
            ]
        )

    async def submit(request: web.Request) -> web.Response:
        module.flashbag_append(request, "errors", "Name is required")
        module.flashbag_append(request, key="errors", value="Email is required")
        module.flashbag_set(request, "name", "Ann")
        raise web.HTTPFound("/")

    async def replace(request: web.Request) -> web.Response:
        module.flashbag_set(request, "name", "gone")
        module.flashbag_replace_all(request, value={"notice": "Replaced"})
        raise web.HTTPFound("/")

    async def replace_positionally(request: web.Request) -> web.Response:
        module.flashbag_replace_all(request, {"name": "Bo"})
        raise web.HTTPFound("/")

    app = web.Application()
    setup_session(app, shared_storage(secret))
    app.middlewares.append(module.flashbag_middleware)
    app.router.add_get("/", form)
    app.router.add_post("/submit", submit)
    app.router.add_post("/replace", replace)
    app.router.add_post("/replace-positionally", replace_positionally)
    return app


SEED_VISIT = [
    ("GET", "/"),
    ("POST", "/submit"),
    ("GET", "/"),
    ("GET", "/"),
    ("POST", "/replace"),
    ("GET", "/"),
    ("POST", "/replace-positionally"),
    ("GET", "/"),
    ("GET", "/"),
]


@pytest.mark.parametrize("version", ["0.0.3", "this version"])
async def test_an_application_written_for_0_0_3_runs_unchanged(
    version: str,
    seed: ModuleType,
    aiohttp_server: Server,
    browser: aiohttp.ClientSession,
) -> None:
    """The same visit gives the same pages on 0.0.3 and on this version."""
    module: Any = seed if version == "0.0.3" else fb
    server = await aiohttp_server(seed_app(module, os.urandom(32)))
    pages = []
    for method, path in SEED_VISIT:
        async with browser.request(method, server.make_url(path)) as resp:
            assert resp.status == 200, await resp.text()
            pages.append(await resp.json())
    assert pages == [
        [[], None, "none"],
        [["Name is required", "Email is required"], "Ann", "none"],
        [[], None, "none"],
        [[], None, "none"],
        [[], None, "Replaced"],
        [[], None, "none"],
        [[], "Bo", "none"],
        [[], None, "none"],
        [[], None, "none"],
    ]


def test_the_seed_names_are_importable() -> None:
    """0.0.3's ``SESSION_KEY`` is still there, and is still the default."""
    from aiohttp_flashbag import SESSION_KEY

    assert SESSION_KEY == "aiohttp_flashbag" == fb.DEFAULT_SESSION_KEY
