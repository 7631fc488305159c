"""The benchmark server: one app, the ways of handling flashes side by side.

    python benchmarks/bench_app.py --modes floor,decorator,... \\
        --ports PORT1,PORT2,... [--seed PATH]

Each mode is its own app on its own port, in one process. Modes:

``floor``
    Flash handling written by hand on aiohttp-session, storing the same bytes
    as the library (same key, same form, a time stamp): the page pops the
    flash from the session only when it is there.
``decorator``
    ``@aiohttp_flashbag.with_flashbag`` on the page only.
``middleware``
    ``aiohttp_flashbag.flashbag_middleware`` around every request.
``decorator+setup``, ``middleware+setup``
    The same in an app that called ``aiohttp_flashbag.setup(app)``.
``seed``
    aiohttp-flashbag 0.0.3's middleware, loaded from the file given with
    ``--seed`` under another module name (it has the same import name as
    this library), so that it runs in the same process as the other modes.

Routes: ``/unrelated`` never touches flashes; ``/page`` shows (and so
consumes) the flash; ``/flash/{length}`` sets a flash of that length and
redirects (303) to ``/page``; ``/prime/flash/{length}`` and ``/prime/session``
hand out the cookies the scenarios send: a session holding a flash of that
length, and a session holding only a user id.

Every scenario with a flash runs at three message lengths, ``LENGTHS``, one
AES block (16 bytes) apart: the encrypted cookie is the base64 of 57 + 16 *
blocks bytes, so its padding, and with it whether the cookie is quoted (and
parsed on aiohttp's slow path), turns with the number of blocks modulo 3.
Lengths one character apart would mostly give cookies of the same length.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import math
import time
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

from aiohttp import web
from aiohttp_session import AbstractStorage, get_session
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

import aiohttp_flashbag

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# A fixed key, so that every mode pays the same for the same cookie.
SECRET = b"for-benchmarks-only-32-bytes-key"
FLASH_KEY = "aiohttp_flashbag"  # the floor keeps its flash under the same key
FORMAT_KEY = "__aiohttp_flashbag__"  # and in the same form
MESSAGE = "Name is required"
LENGTHS = tuple(len(MESSAGE) + 16 * i for i in range(3))

MODES = (
    "floor",
    "decorator",
    "decorator+setup",
    "middleware",
    "middleware+setup",
    "seed",
)
# What benchmarks/run.py measures: a name, the route, the cookie sent (none,
# or the one PRIME[KIND] hands out) and the status expected. Routes and cookies
# take each of LENGTHS in turn (where they have no "{length}", the same).
SCENARIOS: tuple[tuple[str, str, str | None, int], ...] = (
    ("unrelated, no cookie", "/unrelated", None, 200),
    ("unrelated, flash cookie", "/unrelated", "flash", 200),
    ("page consumes a flash", "/page", "flash", 200),
    ("page, session without flash", "/page", "session", 200),
    ("flash and redirect, no cookie", "/flash/{length}", None, 303),
)
PRIME = {"flash": "/prime/flash/{length}", "session": "/prime/session"}


def message(length: int) -> str:
    """The flash message of that length."""
    return MESSAGE.ljust(length, ".")


def requested(request: web.Request) -> str:
    """The message of the length the route names."""
    return message(int(request.match_info["length"]))


async def unrelated(request: web.Request) -> web.Response:
    return web.Response(text="unrelated")


async def collect(request: web.Request) -> web.Response:
    """Harness only: start every measured window from the same GC state."""
    gc.collect()
    return web.Response(text="collected")


# -- floor: by hand ----------------------------------------------------------


def floor_bag(text: str) -> dict[str, Any]:
    """What the library stores for ``flashbag_set(request, "error", text)``,
    written by hand: the same bytes, so that both sides pay the same to
    encrypt, decrypt and quote the cookie, and only the handling differs.
    """
    return {FORMAT_KEY: [2, {"error": [math.ceil(time.time()), text]}, []]}


async def floor_page(request: web.Request) -> web.Response:
    session = await get_session(request)
    error = None
    if FLASH_KEY in session:
        values = session.pop(FLASH_KEY)[FORMAT_KEY][1]
        error = values["error"][1] if "error" in values else None
    return web.Response(text=f"page error={error}")


async def floor_prime_flash(request: web.Request) -> web.Response:
    session = await get_session(request)
    session["user"] = "ann"
    session[FLASH_KEY] = floor_bag(requested(request))
    return web.Response(text="primed")


async def floor_flash(request: web.Request) -> web.Response:
    session = await get_session(request)
    session[FLASH_KEY] = floor_bag(requested(request))
    raise web.HTTPSeeOther("/page")


# -- aiohttp_flashbag: this library, or 0.0.3 --------------------------------


def flashbag_handlers(lib: ModuleType) -> tuple[Handler, Handler, Handler]:
    """The page, the priming and the redirecting handler, on this library or
    on 0.0.3."""
    flashbag_get, flashbag_set = lib.flashbag_get, lib.flashbag_set

    async def page(request: web.Request) -> web.Response:
        error = flashbag_get(request, "error")
        return web.Response(text=f"page error={error}")

    async def prime_flash(request: web.Request) -> web.Response:
        session = await get_session(request)
        session["user"] = "ann"
        flashbag_set(request, "error", requested(request))
        return web.Response(text="primed")

    async def flash(request: web.Request) -> web.Response:
        flashbag_set(request, "error", requested(request))
        raise web.HTTPSeeOther("/page")

    return page, prime_flash, flash


def load_seed(path: str) -> ModuleType:
    """aiohttp-flashbag 0.0.3 (one source file) as ``aiohttp_flashbag_0_0_3``."""
    spec = importlib.util.spec_from_file_location("aiohttp_flashbag_0_0_3", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__version__ == "0.0.3", module.__version__
    return module


async def prime_session(request: web.Request) -> web.Response:
    session = await get_session(request)
    session["user"] = "ann"
    return web.Response(text="primed")


def make_app(
    mode: str, storage: AbstractStorage, seed: ModuleType | None = None
) -> web.Application:
    if mode not in MODES:
        raise SystemExit(f"unknown mode {mode!r}")
    app = web.Application()
    setup_session(app, storage)
    door, _, with_setup = mode.partition("+")
    if with_setup:
        aiohttp_flashbag.setup(app)
    page: Handler
    prime_flash: Handler
    flash: Handler
    if door == "floor":
        page, prime_flash, flash = floor_page, floor_prime_flash, floor_flash
    elif door == "decorator":
        handlers = flashbag_handlers(aiohttp_flashbag)
        page, prime_flash, flash = map(aiohttp_flashbag.with_flashbag, handlers)
    elif door == "middleware":
        page, prime_flash, flash = flashbag_handlers(aiohttp_flashbag)
        app.middlewares.append(aiohttp_flashbag.flashbag_middleware)
    else:
        if seed is None:
            raise SystemExit("mode seed needs --seed PATH")
        page, prime_flash, flash = flashbag_handlers(seed)
        app.middlewares.append(seed.flashbag_middleware)
    app.router.add_get("/unrelated", unrelated)
    app.router.add_get("/page", page)
    app.router.add_get("/flash/{length}", flash)
    app.router.add_get(PRIME["flash"], prime_flash)
    app.router.add_get("/prime/session", prime_session)
    app.router.add_get("/_collect", collect)
    return app


async def serve(modes: list[str], ports: list[int], seed: str | None) -> None:
    """Each mode its own app on its own port, all in this one process.

    Side by side in one process the modes share its start-up, memory layout
    and noise, so their ratios compare like with like; separate apps keep the
    routing of every mode the same.
    """
    storage = EncryptedCookieStorage(SECRET)
    seed_module = load_seed(seed) if seed else None
    for mode, port in zip(modes, ports, strict=True):
        app = make_app(mode, storage, seed_module)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
    # What start-up made stays put, as in a prefork server: full collections
    # then scan only what requests allocate.
    gc.collect()
    gc.freeze()
    await asyncio.Event().wait()  # until the process is stopped


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--modes", required=True, help="comma-separated")
    parser.add_argument("--ports", required=True, help="comma-separated, one a mode")
    parser.add_argument("--seed", help="aiohttp-flashbag 0.0.3's __init__.py")
    args = parser.parse_args()
    ports = [int(p) for p in args.ports.split(",")]
    asyncio.run(serve(args.modes.split(","), ports, args.seed))


if __name__ == "__main__":
    main()
