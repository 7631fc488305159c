"""In-process micro-figures, timed by pyperf; ``run.py`` runs this script.

    python benchmarks/micro.py [pyperf options, e.g. --fast -o micro.json]

pyperf lives in ``benchmarks/.work/pyperf`` (``run.py`` installs it there and
puts it on ``PYTHONPATH``). Everything runs on one real ``web.Request`` of a
real app, its session loaded as aiohttp-session's middleware leaves it and
holding a flash this library stored:

- ``handler``: a bare handler, the baseline for ``scope``;
- ``scope``: the same handler under ``@with_flashbag``: the scope opens, then
  commits, consuming the flash;
- ``flashbag_get``, ``flashbag_set``: one call inside an open scope.
"""

from __future__ import annotations

import asyncio
import importlib
import time
import warnings
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from aiohttp_session import SESSION_KEY, STORAGE_KEY, Session, SimpleCookieStorage
from bench_app import MESSAGE

import aiohttp_flashbag

# Not a plain import: pyperf is not in the project's environment, and ships no
# type information.
pyperf: Any = importlib.import_module("pyperf")
# aiohttp-session's keys are str, as it uses them itself.
warnings.filterwarnings("ignore", "It is recommended to use web.RequestKey")

STORAGE = SimpleCookieStorage()
REQUEST = make_mocked_request("GET", "/page", app=web.Application())
RESPONSE = web.Response(text="ok")


def request_with(data: dict[str, Any]) -> web.Request:
    """REQUEST as the session middleware hands it on, its session holding ``data``."""
    REQUEST.clear()
    REQUEST[STORAGE_KEY] = STORAGE
    REQUEST[SESSION_KEY] = Session(None, data={"session": data}, new=False)
    return REQUEST


async def handler(request: web.Request) -> web.Response:
    return RESPONSE


async def leave_a_flash(request: web.Request) -> web.Response:
    aiohttp_flashbag.flashbag_set(request, "error", MESSAGE)
    return RESPONSE


def flashed() -> dict[str, Any]:
    """The session after a request that set a flash, as this library stores it."""
    request = request_with({})
    asyncio.run(aiohttp_flashbag.with_flashbag(leave_a_flash)(request))
    return dict(request[SESSION_KEY])


def main() -> None:
    data = flashed()
    scoped = aiohttp_flashbag.with_flashbag(handler)

    async def bare() -> None:
        await handler(request_with(data))

    async def scope() -> None:
        await scoped(request_with(data))

    def in_scope(call: Callable[..., object], *args: object) -> Callable[[int], float]:
        """A pyperf time function: ``loops`` calls in one open scope."""

        def time_func(loops: int) -> float:
            elapsed = 0.0

            async def body(request: web.Request) -> web.Response:
                nonlocal elapsed
                start = time.perf_counter()
                for _ in range(loops):
                    call(request, *args)
                elapsed = time.perf_counter() - start
                return RESPONSE

            asyncio.run(aiohttp_flashbag.with_flashbag(body)(request_with(data)))
            return elapsed

        return time_func

    runner = pyperf.Runner()
    runner.bench_async_func("handler", bare)
    runner.bench_async_func("scope", scope)
    get, set_ = aiohttp_flashbag.flashbag_get, aiohttp_flashbag.flashbag_set
    runner.bench_time_func("flashbag_get", in_scope(get, "error"))
    runner.bench_time_func("flashbag_set", in_scope(set_, "error", MESSAGE))


if __name__ == "__main__":
    main()
