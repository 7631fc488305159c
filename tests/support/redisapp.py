"""The app that the stress tests of the Redis flash store drive.

In the test process (``build``), or in gunicorn workers::

    gunicorn --pythonpath tests/support redisapp:make_app \\
        --worker-class aiohttp.GunicornWebWorker --workers 3

with ``REDIS_URL``, ``SESSIONS`` (``redis`` or ``encrypted``, which then
needs ``FERNET_KEY``, the same in every worker), ``STORE`` (``redis``, or
``session`` for flashes in the session) and optionally ``LEASE`` (the
store's lease, seconds) in the environment. It imports
nothing from the test package, so that gunicorn can load it on its own.
"""

from __future__ import annotations

import asyncio
import base64
import os

from aiohttp import web
from aiohttp_session import AbstractStorage
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from aiohttp_session.redis_storage import RedisStorage
from redis import asyncio as aioredis

import aiohttp_flashbag as fb
from aiohttp_flashbag.stores import FlashStore, RedisFlashStore


@fb.with_flashbag
async def post_flash(request: web.Request) -> web.Response:
    """Flash the posted id, and redirect (the client does not follow)."""
    fb.flash(request, str((await request.post())["id"]))
    raise web.HTTPSeeOther("/")


@fb.with_flashbag
async def page(request: web.Request) -> web.Response:
    """Show every message, and say which process did."""
    shown = fb.get_flashed_messages(request)
    return web.json_response({"shown": shown, "worker": os.getpid()})


@fb.with_flashbag
async def stall(request: web.Request) -> web.Response:
    """Take the visitor's flashes, say so in Redis (``stalled``, this
    process's id), and never answer: a request that a SIGKILL ends.
    """
    await request.app[REDIS].rpush("stalled", os.getpid())
    await asyncio.Event().wait()
    raise AssertionError("never")


async def poll(request: web.Request) -> web.Response:
    """Unscoped, like an XHR endpoint."""
    return web.json_response({"shown": [], "worker": os.getpid()})


REDIS = web.AppKey("redis", aioredis.Redis)


def build(storage: AbstractStorage, store: FlashStore | None) -> web.Application:
    """The app, on ``storage`` sessions; ``store=None``: flashes in the session.

    ``max_bytes=None``: the load piles up flashes that no page has shown yet,
    and what it measures is concurrency, not the bound.
    """
    app = web.Application()
    setup_session(app, storage)
    fb.setup(app, store=store, max_bytes=None)
    app.router.add_post("/flash", post_flash)
    app.router.add_get("/", page)
    app.router.add_get("/poll", poll)
    app.router.add_post("/stall", stall)
    return app


async def make_app() -> web.Application:
    """The app as gunicorn makes it, from the environment."""
    # many requests in flight: a pool that waits for a free connection
    # rather than failing past its max_connections
    pool = aioredis.BlockingConnectionPool.from_url(
        os.environ["REDIS_URL"], max_connections=50, timeout=20
    )
    redis = aioredis.Redis(connection_pool=pool)
    storage: AbstractStorage
    if os.environ["SESSIONS"] == "redis":
        storage = RedisStorage(redis, max_age=3600)
    else:
        key = base64.urlsafe_b64decode(os.environ["FERNET_KEY"])
        storage = EncryptedCookieStorage(key)
    lease = float(os.environ.get("LEASE", "15"))
    store = (
        # many requests in flight share 50 connections: a busy machine must
        # not look like Redis being away
        RedisFlashStore(redis, lease=lease, timeout=30)
        if os.environ["STORE"] == "redis"
        else None
    )
    app = build(storage, store)
    app[REDIS] = redis

    async def close_redis(app: web.Application) -> None:
        await redis.aclose()
        await pool.disconnect()

    app.on_cleanup.append(close_redis)
    return app
