"""Mistakes the scope cannot repair are logged, once per handler.

docs/templates.rst, "The order of the decorators": ``@with_flashbag`` goes
above ``@aiohttp_jinja2.template``. Below it, the scope gets a template
context instead of a response and cannot see the page: a WARNING, once per
handler (not per request), says to move ``@with_flashbag`` up.

A streamed page's warnings are tested in tests/test_streamed.py.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp_jinja2
import jinja2
import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage

import aiohttp_flashbag as fb

from ..conftest import Client
from ..support.sessions import build_app, flash_warnings

# -- @aiohttp_jinja2.template above @with_flashbag ----------------------------------


@aiohttp_jinja2.template("page.html")
@fb.with_flashbag
async def late_one(request: web.Request) -> dict[str, Any]:
    fb.flash(request, "own")
    return {}


@aiohttp_jinja2.template("page.html")
@fb.with_flashbag
async def late_two(request: web.Request) -> dict[str, Any]:
    return {"name": "two"}


@fb.with_flashbag
@aiohttp_jinja2.template("page.html")
async def in_order(request: web.Request) -> dict[str, Any]:
    fb.flash(request, "own")
    return {}


def template_app() -> web.Application:
    app = build_app(SimpleCookieStorage(), {}, kind=None)
    for path, handler in (("/one", late_one), ("/two", late_two), ("/ok", in_order)):
        app.router.add_get(path, handler)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.DictLoader(
            {"page.html": "{{ get_flashed_messages()|join(', ') }}"}
        ),
        context_processors=[fb.context_processor],
    )
    return app


def order_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [w for w in flash_warnings(caplog) if "with_flashbag" in w]


async def test_a_scope_below_the_template_decorator_warns_once_per_handler(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client: Client = await aiohttp_client(template_app())
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        for _ in range(3):
            assert (await client.get("/one")).status == 200
        assert len(order_warnings(caplog)) == 1
        for _ in range(3):
            assert (await client.get("/two")).status == 200
        assert len(order_warnings(caplog)) == 2
        for _ in range(3):  # a new visitor, the same handlers
            other: Client = await aiohttp_client(client.server)
            await other.get("/one")
            await other.get("/two")
    assert len(order_warnings(caplog)) == 2, order_warnings(caplog)


async def test_the_right_order_gets_no_warning(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client: Client = await aiohttp_client(template_app())
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        for _ in range(3):
            resp = await client.get("/ok")
            assert await resp.text() == "own"
    assert flash_warnings(caplog) == []
