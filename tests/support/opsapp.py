"""An app whose scoped handler runs the flash operations a request asks for.

The client sends ``X-Ops`` (a JSON list of operations) and ``X-End`` (how the
request ends); the handler answers the result of each operation in
``X-Results``, so a test sees every read even on a redirect or a HEAD.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp_session import AbstractStorage

import aiohttp_flashbag as fb

from ..conftest import make_app

ENDINGS = (
    "200",
    "302",
    "303",
    "400",
    "500",
    "500-raised",
    "crash",
    "stream",
    "hx-redirect",
)


def run_op(request: web.Request, name: str, args: list[Any]) -> Any:
    """One operation; writes answer None, reads answer what they read."""
    if name == "get":
        return fb.flashbag_get(request, *args)
    if name == "contains":
        return args[0] in fb.get_flashbag(request)
    if name == "messages":
        with_categories, category_filter = args
        got = fb.get_flashed_messages(
            request, with_categories=with_categories, category_filter=category_filter
        )
        return [list(m) for m in got] if with_categories else got
    if name == "messages_full":  # with Django's names (docs/coming-from.rst)
        got = fb.get_flashed_messages(
            request, with_categories=True, category_filter=args[0]
        )
        return [[m.category, m.message, m.level, m.tags] for m in got]
    if name == "get_level":
        return fb.get_level(request)
    writes: dict[str, Callable[..., None]] = {
        "set": fb.flashbag_set,
        "append": fb.flashbag_append,
        "replace_all": fb.flashbag_replace_all,
        "clear": fb.flashbag_clear,
        "keep": fb.flashbag_keep,
        "flash": fb.flash,
        "flash_now": lambda request, *args: fb.flash(request, *args, now=True),
        "flash_tagged": lambda request, message, category, tags: fb.flash(
            request, message, category, extra_tags=tags
        ),
        "flash_lazy": lambda request, category, message_id, parameters, tags: fb.flash(
            request, fb.lazy(message_id, **parameters), category, extra_tags=tags
        ),
        "set_level": fb.set_level,
    }
    writes[name](request, *args)
    return None


def run_ops(request: web.Request, ops: list[list[Any]]) -> list[Any]:
    results: list[Any] = []
    for name, *args in ops:
        try:
            results.append(run_op(request, name, args))
        except (TypeError, ValueError) as exc:
            kind = "TypeError" if isinstance(exc, TypeError) else "ValueError"
            results.append({"error": kind})
    return results


def finish(request: web.Request, results: list[Any]) -> web.StreamResponse:
    headers = {"X-Results": json.dumps(results)}
    end = request.headers.get("X-End", "200")
    if end == "200":
        return web.Response(text="page", headers=headers)
    if end == "stream":  # not sent yet: aiohttp-session would not save it
        return web.StreamResponse(headers=headers)
    if end == "hx-redirect":  # htmx's client-side redirect, in a 200
        return web.Response(text="", headers={**headers, "HX-Redirect": "/next"})
    if end == "400":
        return web.Response(status=400, text="bad", headers=headers)
    if end == "302":
        raise web.HTTPFound("/elsewhere", headers=headers)
    if end == "303":
        raise web.HTTPSeeOther("/elsewhere", headers=headers)
    if end == "500":
        return web.Response(status=500, text="fail", headers=headers)
    if end == "500-raised":
        raise web.HTTPInternalServerError(headers=headers)
    if end == "crash":
        raise ZeroDivisionError("the handler crashed")
    raise AssertionError(end)


@fb.with_flashbag
async def scoped(request: web.Request) -> web.StreamResponse:
    return finish(request, run_ops(request, json.loads(request.headers["X-Ops"])))


async def unscoped(request: web.Request) -> web.StreamResponse:
    return web.Response(text="asset")


def ops_app(storage: AbstractStorage | None = None, **settings: Any) -> web.Application:
    return make_app(
        [("*", "/scoped", scoped), ("GET", "/asset", unscoped)],
        storage=storage,
        **settings,
    )


def ops_headers(ops: list[list[Any]], end: str = "200") -> dict[str, str]:
    return {"X-Ops": json.dumps(ops), "X-End": end}
