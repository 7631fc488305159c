"""docs/templates.rst over real HTTP: aiohttp-jinja2's context processor and
"The order of the decorators".
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

from ..conftest import COOKIE, Client, CountingStorage, make_app, simple_storage
from ..support.sessions import build_app, flash_warnings

# == Templates with aiohttp-jinja2 =====================================================
#
# aiohttp-jinja2: the context processor and the decorators in both orders.


PAGE = (
    "{% for category, message in get_flashed_messages(with_categories=true) %}"
    "[{{ category }}:{{ message }}]"
    "{% endfor %}"
    "|error={{ flashbag.get('error', 'none') }}"
    "|errors-only={{ get_flashed_messages(category_filter=['error']) }}"
)


def templated_app(
    routes: list[tuple[str, str, Any]], storage: Any = None
) -> web.Application:
    app = make_app(routes, storage=storage)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.DictLoader({"page.html": PAGE}),
        context_processors=[fb.context_processor],
    )
    return app


async def set_flashes(request: web.Request) -> web.Response:
    fb.flash(request, "<b>bad</b>", "error")
    fb.flash(request, "hello", "info")
    fb.flashbag_set(request, "error", "Name is required")
    raise web.HTTPSeeOther("/page")


@fb.with_flashbag
@aiohttp_jinja2.template("page.html")
async def outer_scope(request: web.Request) -> dict[str, Any]:
    return {}


@aiohttp_jinja2.template("page.html")
@fb.with_flashbag
async def inner_scope(request: web.Request) -> dict[str, Any]:
    return {}


class TemplatedView(fb.FlashbagMixin, web.View):
    @aiohttp_jinja2.template("page.html")
    async def get(self) -> dict[str, Any]:
        return {}


EXPECTED = (
    "[error:&lt;b&gt;bad&lt;/b&gt;][info:hello]"
    "|error=Name is required"
    "|errors-only=[&#39;&lt;b&gt;bad&lt;/b&gt;&#39;]"
)


@pytest.mark.parametrize(
    "page",
    [outer_scope, inner_scope, TemplatedView],
    ids=["with_flashbag-above-template", "template-above-with_flashbag", "mixin"],
)
async def test_templates_show_flashes_once(aiohttp_client: Any, page: Any) -> None:
    client: Client = await aiohttp_client(
        templated_app(
            [
                ("POST", "/set", fb.with_flashbag(set_flashes)),
                ("*" if page is TemplatedView else "GET", "/page", page),
            ]
        )
    )
    resp = await client.post("/set")
    assert resp.status == 200
    assert await resp.text() == EXPECTED
    resp = await client.get("/page")
    assert await resp.text() == "|error=none|errors-only=[]"


async def test_rendering_outside_a_scope_reads_and_writes_nothing(
    aiohttp_client: Any,
) -> None:
    @aiohttp_jinja2.template("page.html")
    async def unscoped(request: web.Request) -> dict[str, Any]:
        return {}

    counting = CountingStorage(simple_storage())
    client: Client = await aiohttp_client(
        templated_app(
            [
                ("POST", "/set", fb.with_flashbag(set_flashes)),
                ("GET", "/unscoped", unscoped),
                ("GET", "/page", outer_scope),
            ],
            storage=counting.storage,
        )
    )
    resp = await client.post("/set", allow_redirects=False)
    loads, saves = counting.loads, counting.saves
    for _ in range(2):
        resp = await client.get("/unscoped")
        assert await resp.text() == "|error=none|errors-only=[]"
        assert COOKIE not in resp.cookies
    assert (counting.loads, counting.saves) == (loads, saves)
    assert await (await client.get("/page")).text() == EXPECTED


async def test_the_processor_reads_nothing_before_the_handler(
    aiohttp_client: Any,
) -> None:
    """aiohttp-jinja2 runs processors for every request, redirects included."""

    @fb.with_flashbag
    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/page")

    client: Client = await aiohttp_client(
        templated_app(
            [
                ("POST", "/set", fb.with_flashbag(set_flashes)),
                ("GET", "/hop", hop),
                ("GET", "/page", outer_scope),
            ]
        )
    )
    await client.post("/set", allow_redirects=False)
    resp = await client.get("/hop")
    assert await resp.text() == EXPECTED


async def test_template_flashbag_contains(aiohttp_client: Any) -> None:
    app = make_app([("POST", "/set", fb.with_flashbag(set_flashes))])

    @fb.with_flashbag
    @aiohttp_jinja2.template("t.html")
    async def page(request: web.Request) -> dict[str, Any]:
        return {}

    app.router.add_get("/page", page)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.DictLoader(
            {"t.html": "{{ 'error' in flashbag }} {{ 'x' in flashbag }}"}
        ),
        context_processors=[fb.context_processor],
    )
    client: Client = await aiohttp_client(app)
    assert await (await client.post("/set")).text() == "True False"


# == The order of the decorators =======================================================
#
# Mistakes the scope cannot repair are logged, once per handler.
#
# docs/templates.rst, "The order of the decorators": ``@with_flashbag`` goes
# above ``@aiohttp_jinja2.template``. Below it, the scope gets a template
# context instead of a response and cannot see the page: a WARNING, once per
# handler (not per request), says to move ``@with_flashbag`` up.
#
# A streamed page's warnings are tested in tests/contract/test_streamed.py.


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
