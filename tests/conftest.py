"""Shared helpers: apps with each kind of scope, storages that count writes."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp_session import AbstractStorage, Session, SimpleCookieStorage
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, settings

import aiohttp_flashbag
from aiohttp_flashbag._settings import SETTINGS_KEY

from .support.servers import memcached_server, redis_server, require_binary

settings.register_profile(
    "ci",
    max_examples=200,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    max_examples=50,
    derandomize=False,  # Hypothesis derandomises by default where CI is set
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def hypothesis_profile(environ: Mapping[str, str]) -> str:
    """In CI (``CI`` set, as CI services and .ci/run do, and not false), the
    fixed, derandomised examples; locally, random ones. ``HYPOTHESIS_PROFILE``
    chooses either.
    """
    in_ci = environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return environ.get("HYPOTHESIS_PROFILE", "ci" if in_ci else "dev")


settings.load_profile(hypothesis_profile(os.environ))

COOKIE = "AIOHTTP_SESSION"

if TYPE_CHECKING:
    Client = TestClient[web.Request, web.Application]
else:  # not subscriptable at run time before aiohttp 3.11
    Client = TestClient
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class CountingStorage:
    """Counts the loads and saves of a real storage instance.

    The instance's own methods are wrapped, not subclassed, so the library
    sees the storage's real class and takes the path users' apps take.
    """

    def __init__(self, storage: AbstractStorage) -> None:
        self.storage = storage
        self.loads = 0
        self.saves = 0
        load, save = storage.load_session, storage.save_session

        async def load_session(request: web.Request) -> Session:
            self.loads += 1
            return await load(request)

        async def save_session(
            request: web.Request, response: web.StreamResponse, session: Session
        ) -> None:
            self.saves += 1
            await save(request, response, session)

        storage.load_session = load_session  # type: ignore[method-assign]
        storage.save_session = save_session  # type: ignore[method-assign]


def simple_storage() -> SimpleCookieStorage:
    return SimpleCookieStorage()


class FernetCookies:
    """An EncryptedCookieStorage and the means to read its cookies in tests."""

    def __init__(self) -> None:
        key = Fernet.generate_key()
        self.fernet = Fernet(key)
        self.storage = EncryptedCookieStorage(base64.urlsafe_b64decode(key))

    def read(self, cookie: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.fernet.decrypt(cookie.encode()))
        return data


def make_app(
    routes: list[tuple[str, str, Any]],
    *,
    storage: AbstractStorage | None = None,
    middleware: bool = False,
    **flashbag_settings: Any,
) -> web.Application:
    """An app with sessions, optionally the flashbag middleware, and routes.

    ``routes`` holds ``(method, path, handler_or_view)``; ``"*"`` routes views.
    """
    app = web.Application()
    setup_session(app, storage if storage is not None else simple_storage())
    if middleware:
        app.middlewares.append(aiohttp_flashbag.flashbag_middleware)
    if flashbag_settings:
        aiohttp_flashbag.setup(app, **flashbag_settings)
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    return app


def with_clock(app: web.Application, clock: Callable[[], float]) -> None:
    """Give the settings ``setup()`` gave ``app`` another clock (seconds since
    the epoch), for the flashes its requests stamp and age.
    """
    app[SETTINGS_KEY] = dataclasses.replace(app[SETTINGS_KEY], clock=clock)


def unstamped(entry: Any) -> Any:
    """A stored flashbag entry without its timestamps and safe marks (a
    message's options kept).

    Values alone as a plain object, else ``[1, {values}, [[category,
    message], ...]]``: the shapes tests compare against. Anything that is not
    this library's current form (``{"__aiohttp_flashbag__": [2, {values},
    [messages]]}``) is returned as it is.
    """
    if not (isinstance(entry, dict) and list(entry) == ["__aiohttp_flashbag__"]):
        return entry
    entry = entry["__aiohttp_flashbag__"]
    if not (isinstance(entry, list) and len(entry) == 3 and entry[0] == 2):
        return entry
    values = {key: item[1] for key, item in entry[1].items()}
    # a message's options (docs/translations.rst) stay, last
    messages = [
        [item[1], item[2], *(o for o in item[3:] if isinstance(o, dict))]
        for item in entry[2]
    ]
    if not messages:
        return values
    return [1, values, messages]


def stored_bag(resp_or_jar_value: str) -> Any:
    """The flashbag entry of a SimpleCookieStorage cookie value, unstamped."""
    data = json.loads(resp_or_jar_value)
    return unstamped(data.get("session", {}).get(aiohttp_flashbag.DEFAULT_SESSION_KEY))


@pytest.fixture
def counting() -> CountingStorage:
    return CountingStorage(simple_storage())


@pytest.fixture(scope="session")
def redis_port() -> Iterator[int]:
    """A real redis-server for the whole run (skips locally when missing)."""
    with redis_server() as port:
        yield port


@pytest.fixture(scope="session")
def memcached_port() -> Iterator[int]:
    """A real memcached for the whole run (skips locally when missing)."""
    with memcached_server() as port:
        yield port


# Chromium as a root process on a machine with no network beyond loopback.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    """A real headless Chromium browser (skips locally when it is missing)."""
    executable = require_binary("chromium", "chromium")
    try:
        from playwright.async_api import async_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        pytest.fail("playwright is not installed: pip install -e '.[test]'")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield browser
        finally:
            await browser.close()
