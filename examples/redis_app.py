"""The form with sessions and flashes in Redis, ready for several gunicorn workers.

Flashes live in the Redis flash store (docs/concurrency.rst): several
requests of one visitor in flight at once, in any worker, never lose or
repeat a flash. ``FLASH_STORE=session`` keeps them in the session instead.

One process::

    python examples/redis_app.py [--port 8080]

Three worker processes behind one socket::

    gunicorn --pythonpath examples redis_app:make_app \\
        --worker-class aiohttp.GunicornWebWorker --workers 3 --bind 127.0.0.1:8080

``REDIS_URL`` names the server (default ``redis://127.0.0.1:6379/0``).
"""

from __future__ import annotations

import html
import os

from _serve import read_form, serve
from aiohttp import web
from aiohttp_session import setup as setup_session
from aiohttp_session.redis_storage import RedisStorage
from redis import asyncio as aioredis

from aiohttp_flashbag import flash, get_flashed_messages, setup, with_flashbag
from aiohttp_flashbag.stores import RedisFlashStore

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
#: "redis": the Redis flash store; "session": flashes in the session
FLASH_STORE = os.environ.get("FLASH_STORE", "redis")
#: Sessions last a week (a visitor's flashes, max_age: ten minutes).
WEEK = 7 * 24 * 3600
# JSON (what the session stores) spends at most 12 bytes on a character, so
# "Hello, <name>!" stays under max_bytes (2048 by default).
MAX_NAME = 100

PAGE = """<!doctype html>
<html>
  <head><title>aiohttp_flashbag on Redis</title></head>
  <body>
    <ul id="flashes">{flashes}</ul>
    <form method="post" action="/">
      <input name="name"> <button type="submit">Say hello</button>
    </form>
  </body>
</html>
"""


@with_flashbag
async def page(request: web.Request) -> web.Response:
    flashes = "".join(
        f'<li class="flash {html.escape(category)}">{html.escape(message)}</li>'
        for category, message in get_flashed_messages(request, with_categories=True)
    )
    return web.Response(text=PAGE.format(flashes=flashes), content_type="text/html")


@with_flashbag
async def submit(request: web.Request) -> web.Response:
    name = (await read_form(request, "name"))["name"]
    if not name:
        flash(request, "Name is required", "error")
    elif len(name) > MAX_NAME:
        flash(request, f"Name is longer than {MAX_NAME} characters", "error")
    else:
        flash(request, f"Hello, {name}!", "success")
    raise web.HTTPSeeOther("/")


async def poll(request: web.Request) -> web.Response:
    """Unscoped, like an XHR endpoint: no session, no Redis command."""
    return web.json_response({"worker": os.getpid()})


async def make_app() -> web.Application:
    # Requests in flight wait for a free connection rather than fail when
    # there are more of them than connections.
    pool = aioredis.BlockingConnectionPool.from_url(
        REDIS_URL, max_connections=50, timeout=10
    )
    redis = aioredis.Redis(connection_pool=pool)
    app = web.Application()
    setup_session(app, RedisStorage(redis, max_age=WEEK, httponly=True, samesite="Lax"))
    if FLASH_STORE == "redis":
        setup(app, store=RedisFlashStore(redis))
    app.router.add_get("/", page)
    app.router.add_post("/", submit)
    app.router.add_get("/api/poll", poll)

    async def close_redis(app: web.Application) -> None:
        await redis.aclose()
        await pool.disconnect()

    app.on_cleanup.append(close_redis)
    return app


if __name__ == "__main__":
    serve(make_app, "aiohttp_flashbag on Redis sessions")
