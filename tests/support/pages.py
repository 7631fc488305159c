"""Pages and apps that several contract and store modules share to check
rules from the outside: an app of routes, a page that shows everything
incoming, pages that flash and redirect, a text enumeration, and the sealed
cookie storages and the Redis flash store they are tried with."""

from __future__ import annotations

import enum
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage
from aiohttp_session import setup as setup_session

import aiohttp_flashbag as fb


def routes_app(
    routes: dict[str, Callable[..., Any]],
    *,
    storage: Any = None,
    middleware: bool = False,
    **settings: Any,
) -> web.Application:
    app = web.Application()
    setup_session(app, storage if storage is not None else SimpleCookieStorage())
    if middleware:
        app.middlewares.append(fb.flashbag_middleware)
    if settings:
        fb.setup(app, **settings)
    for path, handler in routes.items():
        app.router.add_route("*", path, handler)
    return app


@fb.with_flashbag
async def show_incoming(request: web.Request) -> web.Response:
    """Shows everything incoming (a page: it consumes what it shows)."""
    bag = fb.get_flashbag(request)
    values = {key: bag.get(key) for key in bag.incoming.values}
    return web.json_response(
        {
            "values": values,
            "messages": [
                list(m) for m in bag.get_flashed_messages(with_categories=True)
            ],
        }
    )


async def shown(client: Any) -> Any:
    resp = await client.get("/show")
    assert resp.status == 200, await resp.text()
    return await resp.json()


def redirect_to_show() -> web.StreamResponse:
    raise web.HTTPSeeOther("/show")


@fb.with_flashbag
async def seed(request: web.Request) -> web.StreamResponse:
    """Stores a message and a value for the next request."""
    fb.flash(request, "m")
    fb.flashbag_set(request, "k", 1)
    return redirect_to_show()


SEEDED = {"values": {"k": 1}, "messages": [["message", "m"]]}
NOTHING_SHOWN: dict[str, Any] = {"values": {}, "messages": []}


@fb.with_flashbag
async def seed_flash(request: web.Request) -> web.StreamResponse:
    fb.flash(request, "waiting")
    raise web.HTTPSeeOther("/page")


@fb.with_flashbag
async def show_messages(request: web.Request) -> web.Response:
    return web.json_response(fb.get_flashed_messages(request))


class Status(str, enum.Enum):
    """A text enumeration, as Django's ``TextChoices`` and many apps write one."""

    ACTIVE = "active"
    ERROR = "error"


def nacl_storage() -> Any:
    import nacl.secret
    import nacl.utils
    from aiohttp_session.nacl_storage import NaClCookieStorage

    return NaClCookieStorage(nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE))


def sealed() -> Any:
    from aiohttp_session.cookie_storage import EncryptedCookieStorage

    return EncryptedCookieStorage(os.urandom(32))


def redis_store(client: Any, **options: Any) -> Any:
    from aiohttp_flashbag.stores import RedisFlashStore

    return RedisFlashStore(client, **options)


@pytest.fixture
async def flash_redis(redis_port: int) -> AsyncIterator[Any]:
    """A Redis database for the flash store, empty."""
    from redis import asyncio as aioredis

    client = aioredis.Redis(host="127.0.0.1", port=redis_port, db=11)
    await client.flushdb()
    yield client
    await client.aclose()
