"""docs/testing.rst: ``aiohttp_flashbag.testing`` (``record_flashes()``,
``FlashRecord``, the ``flash_records`` fixture) and "Tests that run at once".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp_jinja2
import jinja2
import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage, get_session

import aiohttp_flashbag as fb
from aiohttp_flashbag import testing
from aiohttp_flashbag.testing import Flashes, FlashRecord, Message, record_flashes

from ..conftest import Client, FernetCookies, make_app
from ..support.backends import (
    Backend,
    EncryptedCookies,
    Memcached,
    Redis,
    SimpleCookies,
)
from ..support.edges import echo
from ..support.sessions import build_app

# == What a record holds ===============================================================
#
# aiohttp_flashbag.testing: record_flashes(), FlashRecord and ``flash_records``.


pytest_plugins = ["pytester"]

NOTHING = Flashes({}, [])
FORM = {"name": "", "tags": ["a", "b"]}


# -- the app -------------------------------------------------------------------


@fb.with_flashbag
async def set_flashes(request: web.Request) -> web.Response:
    fb.flashbag_set(request, "form", FORM)
    fb.flash(request, "Name is required", "error")
    raise web.HTTPSeeOther("/page")


def read(request: web.Request) -> None:
    fb.flashbag_get(request, "form")
    fb.flashbag_get(request, "missing")
    fb.get_flashed_messages(request)


@fb.with_flashbag
async def page(request: web.Request) -> web.Response:
    fb.flash(request, "own, shown", "info")
    fb.flash(request, "now, shown", "info", now=True)
    read(request)
    fb.flash(request, "own, unshown", "success")
    return web.Response(text="page")


@fb.with_flashbag
async def fail(request: web.Request) -> web.Response:
    read(request)
    return web.Response(status=500)


@fb.with_flashbag
async def crash(request: web.Request) -> web.Response:
    read(request)
    raise ZeroDivisionError("boom")


async def unscoped(request: web.Request) -> web.Response:
    return web.Response(text="asset")


def flash_app(storage: Any = None, **settings: Any) -> web.Application:
    return make_app(
        [
            ("POST", "/set", set_flashes),
            ("*", "/page", page),
            ("GET", "/fail", fail),
            ("GET", "/crash", crash),
            ("GET", "/asset", unscoped),
        ],
        storage=storage,
        **settings,
    )


# -- the storages --------------------------------------------------------------


@pytest.fixture(
    params=["SimpleCookieStorage", "EncryptedCookieStorage", "Redis", "Memcached"]
)
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "SimpleCookieStorage":
        return SimpleCookies()
    if request.param == "EncryptedCookieStorage":
        return EncryptedCookies()
    if request.param == "Redis":
        return Redis(request.getfixturevalue("redis_port"))
    return Memcached(request.getfixturevalue("memcached_port"))


@pytest.fixture
async def backend_state(backend: Backend) -> AsyncIterator[Any]:
    state = await backend.begin()
    yield state
    await backend.end(state)


def unstamped(flashes: Flashes) -> Any:
    """A record's ``stored`` in the shape tests.conftest.unstamped gives."""
    values, messages = flashes
    if not values and not messages:
        return None
    if not messages:
        return values
    return [1, values, [[m.category, m.message] for m in messages]]


SET = Flashes({"form": FORM}, [Message("error", "Name is required")])


async def test_records_on_every_storage(
    aiohttp_client: Any, backend: Backend, backend_state: Any
) -> None:
    client: Client = await aiohttp_client(flash_app(backend.storage(backend_state)))

    async def holds() -> Any:
        return await backend.stored(backend_state, client.session)

    with record_flashes() as records:
        resp = await client.post("/set", allow_redirects=False)
        assert resp.status == 303
        assert records == [FlashRecord("POST", "/set", 303, NOTHING, SET)]
        assert unstamped(records[-1].stored) == await holds()

        resp = await client.get("/asset")  # unscoped: no record
        resp = await client.head("/page")
        assert resp.status == 200
        resp = await client.get("/fail")
        assert resp.status == 500
        resp = await client.get("/crash")
        assert resp.status == 500
        shown = Flashes({"form": FORM}, [Message("error", "Name is required")])
        shown_by_page = Flashes(
            shown.values,
            [
                *shown.messages,
                Message("info", "own, shown"),
                Message("info", "now, shown"),
            ],
        )
        # HEAD consumes nothing: what it showed is stored as well.
        head_stored = Flashes(
            SET.values,
            [
                *SET.messages,
                Message("info", "own, shown"),
                Message("success", "own, unshown"),
            ],
        )
        assert records[1:] == [
            FlashRecord("HEAD", "/page", 200, shown_by_page, head_stored),
            # A 500 and a crash change nothing: they read what HEAD left.
            FlashRecord("GET", "/fail", 500, head_stored, head_stored),
            FlashRecord("GET", "/crash", None, head_stored, head_stored),
        ]
        assert unstamped(head_stored) == await holds()

        resp = await client.get("/page")
        assert resp.status == 200
        # HEAD passed the own messages on: this page shows them as incoming.
        assert records[-1] == FlashRecord(
            "GET",
            "/page",
            200,
            Flashes(
                {"form": FORM},
                [
                    *head_stored.messages,
                    Message("info", "own, shown"),
                    Message("info", "now, shown"),
                ],
            ),
            Flashes({}, [Message("success", "own, unshown")]),
        )
        assert unstamped(records[-1].stored) == await holds()
    assert len(records) == 5
    for record in records:
        assert all(type(m) is Message for m in (*record.shown[1], *record.stored[1]))


async def test_nothing_is_recorded_outside_the_block(aiohttp_client: Any) -> None:
    client: Client = await aiohttp_client(flash_app())
    await client.post("/set", allow_redirects=False)
    with record_flashes() as outer:
        with record_flashes() as inner:
            await client.get("/fail")
        await client.get("/page")
        with contextlib.suppress(KeyError), record_flashes() as raised:
            await client.get("/fail")
            raise KeyError("the block ends with an exception")
    await client.post("/set", allow_redirects=False)
    await client.get("/page")
    assert [r.path for r in outer] == ["/fail", "/page", "/fail"]
    assert [r.path for r in inner] == ["/fail"]
    assert [r.path for r in raised] == ["/fail"]


async def test_unscoped_requests_and_untouched_scopes(aiohttp_client: Any) -> None:
    client: Client = await aiohttp_client(flash_app())
    with record_flashes() as records:
        await client.get("/asset")
        await client.get("/page")  # a scope with nothing incoming
    assert [(r.path, r.status) for r in records] == [("/page", 200)]
    own = [Message("info", "own, shown"), Message("info", "now, shown")]
    assert records[0].shown == Flashes({}, own)


@pytest.mark.parametrize("nesting", ["middleware+decorator", "mixin+decorator"])
async def test_nested_scopes_give_one_record(aiohttp_client: Any, nesting: str) -> None:
    @fb.with_flashbag
    async def inner(request: web.Request) -> web.Response:
        fb.flash(request, "from the inner scope")
        return web.Response()

    class View(fb.FlashbagMixin, web.View):
        @fb.with_flashbag
        async def get(self) -> web.Response:
            fb.flash(self.request, "from the inner scope")
            return web.Response()

    if nesting == "middleware+decorator":
        app = make_app([("GET", "/", inner)], middleware=True)
    else:
        app = make_app([("*", "/", View)])
    client: Client = await aiohttp_client(app)
    with record_flashes() as records:
        await client.get("/")
    assert records == [
        FlashRecord(
            "GET",
            "/",
            200,
            NOTHING,
            Flashes({}, [Message("message", "from the inner scope")]),
        )
    ]


async def test_successive_scopes_give_a_record_each(aiohttp_client: Any) -> None:
    """An error middleware that calls a decorated error page after a scope ended."""

    @fb.with_flashbag
    async def missing(request: web.Request) -> web.Response:
        fb.flash(request, "Not found", "error")
        raise web.HTTPNotFound()

    @fb.with_flashbag
    async def error_page(request: web.Request) -> web.Response:
        messages = fb.get_flashed_messages(request)
        return web.Response(status=404, text=json.dumps(messages))

    @web.middleware
    async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPNotFound:
            return await error_page(request)
        return response

    app = make_app([("GET", "/gone", missing)])
    app.middlewares.append(errors)
    client: Client = await aiohttp_client(app)
    with record_flashes() as records:
        resp = await client.get("/gone")
    assert resp.status == 404
    assert json.loads(await resp.text()) == ["Not found"]
    not_found = [Message("error", "Not found")]
    assert records == [
        FlashRecord("GET", "/gone", 404, NOTHING, Flashes({}, not_found)),
        FlashRecord("GET", "/gone", 404, Flashes({}, not_found), NOTHING),
    ]


async def test_records_from_two_apps_in_order(aiohttp_client: Any) -> None:
    first: Client = await aiohttp_client(flash_app())
    second: Client = await aiohttp_client(
        flash_app(EncryptedCookies().storage(None), session_key="other_key")
    )
    with record_flashes() as records:
        await first.post("/set", allow_redirects=False)
        await second.post("/set", allow_redirects=False)
        await second.get("/page")
        await first.get("/fail")
    assert [(r.method, r.path, r.status) for r in records] == [
        ("POST", "/set", 303),
        ("POST", "/set", 303),
        ("GET", "/page", 200),
        ("GET", "/fail", 500),
    ]
    assert records[0].stored == records[1].stored == SET
    assert records[2].stored == Flashes({}, [Message("success", "own, unshown")])
    assert records[3].stored == SET


async def test_records_are_copies(aiohttp_client: Any) -> None:
    client: Client = await aiohttp_client(flash_app())
    with record_flashes() as records:
        await client.post("/set", allow_redirects=False)
    records[0].stored.values["form"]["name"] = "changed"
    records[0].stored.messages.clear()
    with record_flashes() as records:
        await client.get("/page")
    assert records[0].shown.values == {"form": FORM}
    assert records[0].shown.messages[0] == Message("error", "Name is required")


async def test_delivered_htmx_messages_are_recorded_as_shown(
    aiohttp_client: Any,
) -> None:
    @fb.with_flashbag
    async def fragment(request: web.Request) -> web.Response:
        fb.flash(request, "own")
        return web.Response()

    app = make_app([("POST", "/set", set_flashes), ("GET", "/frag", fragment)])
    fb.setup(app, htmx_event="flash")
    client: Client = await aiohttp_client(app)
    await client.post("/set", allow_redirects=False)
    with record_flashes() as records:
        await client.get("/frag", headers={"HX-Request": "true"})
    assert records == [
        FlashRecord(
            "GET",
            "/frag",
            200,
            Flashes(
                {}, [Message("error", "Name is required"), Message("message", "own")]
            ),
            NOTHING,
        )
    ]


def test_the_public_names() -> None:
    assert set(testing.__all__) >= {
        "FlashRecord",
        "Flashes",
        "Message",
        "record_flashes",
    }
    assert testing.Message is fb.Message
    assert testing.Flashes is fb.Flashes


# -- the pytest plugin ---------------------------------------------------------


async def test_the_fixture_in_this_run(
    aiohttp_client: Any, flash_records: list[FlashRecord]
) -> None:
    client: Client = await aiohttp_client(flash_app())
    assert flash_records == []
    await client.post("/set", allow_redirects=False)
    assert flash_records == [FlashRecord("POST", "/set", 303, NOTHING, SET)]


USER_TESTS = """
from aiohttp import web
from aiohttp_session import get_session
from aiohttp_session import SimpleCookieStorage, setup
from aiohttp_flashbag import Message, flash, with_flashbag

SEEN = []


@with_flashbag
async def add(request):
    flash(request, "Added", "success")
    raise web.HTTPSeeOther("/")


def make_app():
    app = web.Application()
    setup(app, SimpleCookieStorage())
    app.router.add_post("/add", add)
    app.router.add_get("/", with_flashbag(lambda_page))
    return app


async def lambda_page(request):
    return web.Response(text="list")


async def test_first(aiohttp_client, flash_records):
    client = await aiohttp_client(make_app())
    resp = await client.post("/add", allow_redirects=False)
    assert resp.status == 303
    assert [(r.method, r.path, r.status) for r in flash_records] == [
        ("POST", "/add", 303)
    ]
    assert flash_records[0].stored.messages == [Message("success", "Added")]
    SEEN.append(flash_records)


async def test_second(aiohttp_client, flash_records):
    client = await aiohttp_client(make_app())
    await client.post("/add")
    assert [r.path for r in flash_records] == ["/add", "/"]
    # The first test's list stopped recording when that test ended.
    assert len(SEEN[0]) == 1
"""

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""


def test_the_fixture_comes_from_the_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(test_user_app=USER_TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2)

    # Without the plugin that the entry point names, there is no such fixture.
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:aiohttp_flashbag"
    )
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*fixture 'flash_records' not found*"])


async def test_stored_is_what_the_session_holds_after_the_cookie_guard(
    aiohttp_client: Any,
) -> None:
    """Flashes dropped to keep the cookie within 4096 bytes are not recorded."""

    @fb.with_flashbag
    async def login(request: web.Request) -> web.Response:
        session = await get_session(request)
        session["profile"] = "x" * 3000
        for n in range(8):
            fb.flash(request, f"{n} " + "y" * 150)
        raise web.HTTPSeeOther("/")

    backend = SimpleCookies()
    app = make_app([("POST", "/login", login)], max_bytes=None)
    client: Client = await aiohttp_client(app)
    with record_flashes() as records:
        await client.post("/login", allow_redirects=False)
    (record,) = records
    held = await backend.stored(None, client.session)
    assert 0 < len(record.stored.messages) < 8
    assert unstamped(record.stored) == held


async def test_a_template_rendered_after_the_scope_is_a_200(
    aiohttp_client: Any,
) -> None:
    @aiohttp_jinja2.template("page.html")
    @fb.with_flashbag
    async def late(request: web.Request) -> dict[str, Any]:
        fb.flash(request, "own")
        return {}

    app = make_app([("GET", "/late", late)])
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.DictLoader({"page.html": "{{ get_flashed_messages() }}"}),
        context_processors=[fb.context_processor],
    )
    client: Client = await aiohttp_client(app)
    with record_flashes() as records:
        resp = await client.get("/late")
    assert await resp.text() == "[]"
    assert records == [
        FlashRecord(
            "GET", "/late", 200, NOTHING, Flashes({}, [Message("message", "own")])
        )
    ]


# == Tests that run at once ============================================================
#
# ``record_flashes(app)`` records the requests of one application only.
#
# docs/lifecycle.rst, "Testing": ``record_flashes(app)`` records only the
# requests routed by ``app`` (or its sub-applications), so tests that run at
# once in one process do not see each other's flashes; ``record_flashes()``
# without an app still records the scopes of every app, in the order they end.


async def flash_and_redirect(request: web.Request) -> web.Response:
    """Flashes the app's name, with a little wait to interleave the requests."""
    await asyncio.sleep(0.001)
    fb.flash(request, request.app.get(NAME, "sub"))
    raise web.HTTPSeeOther("/elsewhere")


async def reading_page(request: web.Request) -> web.Response:
    await asyncio.sleep(0.001)
    fb.get_flashed_messages(request)
    return web.Response(text="page")


NAME = web.AppKey("name", str)


def named_app(
    name: str, *, kind: str = "decorator", storage: Any = None
) -> web.Application:
    app = build_app(
        storage if storage is not None else SimpleCookieStorage(),
        {"/flash": flash_and_redirect, "/page": reading_page},
        kind=kind,
    )
    app[NAME] = name
    return app


def with_sub(app: web.Application, kind: str = "decorator") -> web.Application:
    sub = web.Application()
    if kind == "middleware":
        sub.middlewares.append(fb.flashbag_middleware)
        sub.router.add_route("*", "/flash", flash_and_redirect)
    else:
        sub.router.add_route("*", "/flash", fb.with_flashbag(flash_and_redirect))
    app.add_subapp("/sub", sub)
    return app


async def visit(client: Client, rounds: int) -> None:
    for _ in range(rounds):
        await client.post("/flash", allow_redirects=False)
        await client.get("/page")


async def test_two_apps_at_once_each_see_their_own(aiohttp_client: Any) -> None:
    first_app = named_app("first")
    second_app = named_app("second", storage=FernetCookies().storage)
    first: Client = await aiohttp_client(first_app)
    second: Client = await aiohttp_client(second_app)
    with (
        record_flashes(first_app) as first_records,
        record_flashes(second_app) as second_records,
        record_flashes() as every,
    ):
        await asyncio.gather(visit(first, 5), visit(second, 5))
    for records, name in ((first_records, "first"), (second_records, "second")):
        assert [(r.method, r.path) for r in records] == [
            ("POST", "/flash"),
            ("GET", "/page"),
        ] * 5
        for record in records:
            for message in (*record.shown.messages, *record.stored.messages):
                assert message == Message("message", name)
        assert records[0].stored == Flashes({}, [Message("message", name)])
        assert records[1].shown == Flashes({}, [Message("message", name)])
        assert records[1].stored == NOTHING
    # without an app: every scope of the process, in the order they ended
    assert len(every) == 20
    assert [r for r in every if r in first_records] == first_records
    assert [r for r in every if r in second_records] == second_records


async def test_sub_applications_are_recorded_with_their_parent(
    aiohttp_client: Any,
) -> None:
    parent_app = with_sub(named_app("parent", kind="middleware"), "decorator")
    other_app = named_app("other")
    parent: Client = await aiohttp_client(parent_app)
    other: Client = await aiohttp_client(other_app)
    with record_flashes(parent_app) as records:
        await asyncio.gather(
            parent.post("/sub/flash", allow_redirects=False),
            other.post("/flash", allow_redirects=False),
            parent.get("/page"),
            other.get("/page"),
        )
    assert sorted(r.path for r in records) == ["/page", "/sub/flash"]


async def test_a_sub_application_alone(aiohttp_client: Any) -> None:
    parent_app = named_app("parent")
    sub = web.Application()
    sub.router.add_route("*", "/flash", fb.with_flashbag(flash_and_redirect))
    parent_app.add_subapp("/sub", sub)
    client: Client = await aiohttp_client(parent_app)
    with record_flashes(sub) as records:
        await client.post("/sub/flash", allow_redirects=False)
        await client.post("/flash", allow_redirects=False)
        await client.get("/page")
    assert [r.path for r in records] == ["/sub/flash"]
    assert records[0].stored == Flashes({}, [Message("message", "sub")])


async def test_nothing_of_another_app_while_it_runs_alone(aiohttp_client: Any) -> None:
    mine_app, theirs_app = named_app("mine"), named_app("theirs")
    mine: Client = await aiohttp_client(mine_app)
    theirs: Client = await aiohttp_client(theirs_app)
    with record_flashes(mine_app) as records:
        await visit(theirs, 3)
    assert records == []
    with record_flashes(mine_app) as records:
        await visit(mine, 1)
    assert [r.path for r in records] == ["/flash", "/page"]


# == Testing, checked from the outside =================================================
#
# Rules checked from the outside, the way a careless user (or an attacker with a
# cookie) meets them; each test is named after the rule it checks.


async def test_testing_status_of_streamed_response_without_setup_is_not_none(
    aiohttp_client: Any,
) -> None:
    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"x")
        return response

    app = make_app([("GET", "/", stream)], middleware=True)
    client = await aiohttp_client(app)
    with record_flashes(app) as records:
        await (await client.get("/")).read()
    # only an exception has no status
    assert records[-1].status == 200


# -- testing ------------------------------------------------------------------------


async def test_testing_record_flashes_app_filters_and_fields(
    aiohttp_client: Any,
) -> None:
    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, "hello", "info")
        fb.flashbag_set(request, "a", 1)
        raise web.HTTPFound("/page")

    app = make_app([("GET", "/", set_it), ("GET", "/page", echo)], middleware=True)
    other = make_app([("GET", "/", echo)], middleware=True)
    client = await aiohttp_client(app)
    other_client = await aiohttp_client(other)
    with record_flashes(app) as records:
        await client.get("/")
        await other_client.get("/")
    assert [(r.method, r.path, r.status) for r in records] == [
        ("GET", "/", 302),
        ("GET", "/page", 200),
    ]
    assert records[0].stored.values == {"a": 1}
    assert records[0].stored.messages == [("info", "hello")]
    assert records[1].shown.messages == [("info", "hello")]
    assert records[1].shown.values == {"a": 1}
    assert records[1].dropped.values == {}
    assert records[1].dropped.messages == []


async def test_testing_flash_records_fixture_is_registered(
    aiohttp_client: Any, flash_records: list[Any]
) -> None:
    client = await aiohttp_client(make_app([("GET", "/", echo)], middleware=True))
    await client.get("/")
    assert len(flash_records) == 1


# == Records come in the order the scopes end ==


@pytest.mark.parametrize("with_setup", [False, True])
async def test_an_error_page_that_fails_is_recorded_after_the_page_before_it(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, with_setup: bool
) -> None:
    """docs/testing.rst, "What a record holds": one record for every
    outermost scope that ends, in the order they end. A decorated page ends
    with a 404; the error middleware's decorated error page, a second
    scope, then fails itself. The 404's record comes first, with or without
    ``setup()`` (which completes records when the response is prepared).
    """

    @fb.with_flashbag
    async def missing(request: web.Request) -> web.Response:
        fb.flash(request, "not found")
        raise web.HTTPNotFound()

    @fb.with_flashbag
    async def error_page(request: web.Request) -> web.Response:
        fb.get_flashed_messages(request)
        raise RuntimeError("the error page fails too")

    @web.middleware
    async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPNotFound:
            return await error_page(request)
        return response

    settings: dict[str, Any] = {"max_age": 600} if with_setup else {}
    app = make_app([("GET", "/missing", missing)], **settings)
    app.middlewares.append(errors)
    client: Client = await aiohttp_client(app)
    with record_flashes(app) as records, caplog.at_level("CRITICAL"):
        assert (await client.get("/missing")).status == 500
    assert [r.status for r in records] == [404, None]
    assert records[0].stored.messages == [Message("message", "not found")]
    assert records[1].shown.messages == [Message("message", "not found")]
