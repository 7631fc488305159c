"""The request functions of the API (docs/api.rst), across real requests."""

from __future__ import annotations

import contextlib
import inspect
import json
import math
from typing import Any

import pytest
from aiohttp import ClientError, ClientResponse, web
from aiohttp_session import get_session

import aiohttp_flashbag as fb
from aiohttp_flashbag.stores import SessionStore

from ..conftest import COOKIE, Client, make_app
from ..support.edges import echo, set_and_redirect
from ..support.opsapp import ops_app, ops_headers
from ..support.pages import Status, redirect_to_show, routes_app, show_incoming, shown

# == Reading and writing flashes =======================================================
#
# The request functions of docs/api.rst, "Reading and writing flashes",
# across real requests.


@pytest.fixture
async def client(aiohttp_client: Any) -> Client:
    c: Client = await aiohttp_client(ops_app())
    return c


async def visit(
    client: Client, ops: list[list[Any]], end: str = "200", method: str = "GET"
) -> tuple[ClientResponse, list[Any]]:
    resp = await client.request(
        method, "/scoped", headers=ops_headers(ops, end), allow_redirects=False
    )
    return resp, json.loads(resp.headers.get("X-Results", "null"))


async def reads(client: Client, *ops: list[Any]) -> list[Any]:
    """A page (200) that only reads."""
    return (await visit(client, list(ops)))[1]


class TestValues:
    async def test_set_then_get_on_the_next_request(self, client: Client) -> None:
        _, results = await visit(client, [["set", "k", {"a": [1, 2]}], ["get", "k"]])
        assert results == [None, None]  # reads see incoming only
        assert await reads(client, ["get", "k"], ["get", "k"]) == [
            {"a": [1, 2]},
            {"a": [1, 2]},  # reading twice in one request gives the same value
        ]
        assert await reads(client, ["get", "k", "gone"]) == ["gone"]

    async def test_append_creates_and_extends_a_list(self, client: Client) -> None:
        await visit(client, [["append", "e", "one"], ["append", "e", "two"]])
        assert await reads(client, ["get", "e"]) == [["one", "two"]]

    async def test_append_after_set_of_a_list(self, client: Client) -> None:
        await visit(client, [["set", "e", ["a"]], ["append", "e", "b"]])
        assert await reads(client, ["get", "e"]) == [["a", "b"]]

    async def test_replace_all_replaces_values_not_messages(
        self, client: Client
    ) -> None:
        await visit(
            client,
            [
                ["set", "a", 1],
                ["flash", "hello", "info"],
                ["replace_all", {"b": 2, "c": 3}],
            ],
        )
        assert await reads(
            client, ["get", "a"], ["get", "b"], ["get", "c"], ["messages", False, []]
        ) == [None, 2, 3, ["hello"]]

    async def test_last_set_wins(self, client: Client) -> None:
        await visit(client, [["set", "a", 1], ["set", "a", 2]])
        assert await reads(client, ["get", "a"]) == [2]

    async def test_contains_sees_incoming_and_marks_nothing(
        self, client: Client
    ) -> None:
        await visit(client, [["set", "a", 1]])
        _, results = await visit(
            client, [["contains", "a"], ["contains", "b"]], end="302"
        )
        assert results == [True, False]
        assert await reads(client, ["get", "a"]) == [1]


class TestMessages:
    async def test_messages_keep_their_order_and_categories(
        self, client: Client
    ) -> None:
        await visit(
            client,
            [
                ["flash", "one", "message"],
                ["flash", "two", "error"],
                ["flash", "three", "info"],
            ],
        )
        assert await reads(
            client,
            ["messages", False, []],
            ["messages", True, []],
            ["messages", True, ["error", "info"]],
            ["messages", False, "error"],
        ) == [
            ["one", "two", "three"],
            [["message", "one"], ["error", "two"], ["info", "three"]],
            [["error", "two"], ["info", "three"]],
            ["two"],
        ]
        assert await reads(client, ["messages", False, []]) == [[]]

    async def test_filtering_never_deletes_other_categories(
        self, client: Client
    ) -> None:
        await visit(client, [["flash", "e", "error"], ["flash", "i", "info"]])
        _, results = await visit(client, [["messages", False, ["error"]]], end="303")
        assert results == [["e"]]
        # the redirect carried the unread "info" message only
        assert await reads(client, ["messages", True, []]) == [[["info", "i"]]]

    async def test_messages_and_values_are_independent(self, client: Client) -> None:
        await visit(client, [["flash", "x", "k"], ["set", "k", "value"]])
        assert await reads(client, ["get", "k"], ["messages", True, []]) == [
            "value",
            [["k", "x"]],
        ]


class TestKeepAndClear:
    async def test_keep_named_values_past_a_page(self, client: Client) -> None:
        await visit(client, [["set", "a", 1], ["set", "b", 2], ["flash", "m"]])
        assert await reads(client, ["get", "a"], ["keep", "a", "missing"]) == [1, None]
        assert await reads(
            client, ["get", "a"], ["get", "b"], ["messages", False, []]
        ) == [1, None, []]
        assert await reads(client, ["get", "a"]) == [None]

    async def test_keep_without_keys_keeps_everything(self, client: Client) -> None:
        await visit(client, [["set", "a", 1], ["flash", "m"]])
        await visit(client, [["keep"]])
        assert await reads(client, ["get", "a"], ["messages", False, []]) == [
            1,
            ["m"],
        ]

    async def test_clear_forgets_outgoing_and_the_carry_over(
        self, client: Client
    ) -> None:
        await visit(client, [["set", "a", 1], ["flash", "m"]])
        _, results = await visit(
            client,
            [["set", "b", 2], ["flash", "n"], ["keep", "a"], ["clear"], ["get", "a"]],
            end="302",
        )
        assert results[-1] == 1  # reads still see incoming
        assert await reads(
            client, ["get", "a"], ["get", "b"], ["messages", False, []]
        ) == [None, None, []]

    async def test_later_calls_after_clear_add_again(self, client: Client) -> None:
        await visit(client, [["set", "a", 1]])
        await visit(
            client,
            [["clear"], ["set", "c", 3], ["flash", "after"], ["keep", "a"]],
            end="302",
        )
        assert await reads(
            client, ["get", "a"], ["get", "c"], ["messages", False, []]
        ) == [1, 3, ["after"]]


class TestEndings:
    async def test_head_consumes_nothing(self, client: Client) -> None:
        await visit(client, [["set", "a", 1]])
        _, results = await visit(client, [["get", "a"], ["set", "h", 2]], method="HEAD")
        assert results == [1, None]
        assert await reads(client, ["get", "a"], ["get", "h"]) == [1, 2]

    @pytest.mark.parametrize("end", ["500", "500-raised", "crash"])
    async def test_failures_change_nothing(self, client: Client, end: str) -> None:
        await visit(client, [["set", "a", 1]])
        resp, _ = await visit(client, [["get", "a"], ["set", "b", 2]], end=end)
        assert resp.status == 500
        assert COOKIE not in resp.cookies
        assert await reads(client, ["get", "a"], ["get", "b"]) == [1, None]

    async def test_a_4xx_page_consumes(self, client: Client) -> None:
        await visit(client, [["set", "a", 1]])
        resp, _ = await visit(client, [], end="400")
        assert resp.status == 400
        assert await reads(client, ["get", "a"]) == [None]

    async def test_a_redirect_carries_unread_only(self, client: Client) -> None:
        await visit(client, [["set", "a", 1], ["set", "b", 2]])
        _, results = await visit(client, [["get", "a"]], end="302")
        assert results == [1]
        assert await reads(client, ["get", "a"], ["get", "b"]) == [None, 2]


async def test_already_sent_response_changes_nothing(aiohttp_client: Any) -> None:
    @fb.with_flashbag
    async def stream(request: web.Request) -> web.StreamResponse:
        fb.flashbag_get(request, "a")
        fb.flashbag_set(request, "b", 2)
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(b"streamed")
        return resp

    @fb.with_flashbag
    async def ws(request: web.Request) -> web.StreamResponse:
        fb.flashbag_set(request, "c", 3)
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        await sock.send_str("hi")
        await sock.close()
        return sock

    @fb.with_flashbag
    async def sent(request: web.Request) -> web.StreamResponse:
        # A web.Response sent by the handler itself: aiohttp-session refuses
        # to save the session then, so the scope does not ask it `prepared`.
        fb.flashbag_get(request, "a")
        resp = web.Response(text="sent")
        await resp.prepare(request)
        await resp.write_eof()
        return resp

    app = ops_app()
    app.router.add_get("/stream", stream)
    app.router.add_get("/ws", ws)
    app.router.add_get("/sent", sent)
    client: Client = await aiohttp_client(app)
    await visit(client, [["set", "a", 1]])
    resp = await client.get("/stream")
    assert await resp.text() == "streamed"
    # aiohttp-session then fails the request, the connection drops
    with contextlib.suppress(ClientError):
        await (await client.get("/sent", headers={"Connection": "close"})).read()
    async with client.ws_connect("/ws") as sock:
        assert await sock.receive_str() == "hi"
    assert await reads(client, ["get", "a"], ["get", "b"], ["get", "c"]) == [
        1,
        None,
        None,
    ]


async def test_values_str_enum_keys_read_keep_and_append_as_their_text(
    aiohttp_client: Any,
) -> None:
    """docs/api.rst: a key is text; a ``str`` enumeration's member names the
    value its text names, for every call that takes a key (``key in bag``,
    ``flashbag_get``, ``flashbag_keep``, ``flashbag_append``).
    """

    @fb.with_flashbag
    async def save(request: web.Request) -> web.StreamResponse:
        fb.flashbag_append(request, Status.ERROR, 1)
        fb.flashbag_append(request, "error", 2)
        fb.flashbag_append(request, Status.ERROR, 3)
        fb.flashbag_set(request, "active", "set")
        return redirect_to_show()

    @fb.with_flashbag
    async def read(request: web.Request) -> web.StreamResponse:
        bag = fb.get_flashbag(request)
        fb.flashbag_keep(request, Status.ACTIVE)
        seen = [
            Status.ERROR in bag,
            fb.flashbag_get(request, Status.ERROR),
            bag.get(Status.ACTIVE),
        ]
        return web.json_response(seen)

    client = await aiohttp_client(
        routes_app({"/save": save, "/read": read, "/show": show_incoming})
    )
    await client.post("/save", allow_redirects=False)
    assert await (await client.get("/read")).json() == [True, [1, 2, 3], "set"]
    assert await shown(client) == {"values": {"active": "set"}, "messages": []}


# == Rules checked from the outside ====================================================
#
# Rules checked from the outside, the way a careless user (or an attacker with a
# cookie) meets them; each test is named after the rule it checks.


# -- public names -------------------------------------------------------------------


def test_api_session_key_is_importable_and_equals_default() -> None:
    assert fb.SESSION_KEY == "aiohttp_flashbag"


def test_api_setup_keyword_names_and_defaults() -> None:
    params = inspect.signature(fb.setup).parameters
    expected = {
        "session_key": "aiohttp_flashbag",
        "max_bytes": 2048,
        "max_age": 600,
        "cache_control": "no-store",
        "htmx_event": None,
        "unread": "drop",
        "store": None,
        "levels": None,
        "min_level": None,
        "translate": None,
    }
    for name, default in expected.items():
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert params[name].default == default, name


def test_api_replace_all_takes_value_keyword() -> None:
    assert "value" in inspect.signature(fb.flashbag_replace_all).parameters


def test_api_with_flashbag_refuses_sync_function_at_decoration() -> None:
    def handler(request: web.Request) -> web.Response:
        return web.Response()

    with pytest.raises(TypeError):
        fb.with_flashbag(handler)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["no-store\r\nX-Evil: 1", "no-store\n", "a\x00b"])
def test_api_setup_refuses_a_cache_control_that_is_no_header_value(value: str) -> None:
    """docs/api.rst, ``setup()``: settings are checked up front; a
    ``cache_control`` that no header can carry would make every page that
    shows a flash fail.
    """
    app = web.Application()
    with pytest.raises(ValueError, match="cache_control"):
        fb.setup(app, cache_control=value)
    fb.setup(app)  # nothing was kept of the refused call


@pytest.mark.parametrize(
    "given",
    [None, web.Application, web.UrlDispatcher(), "app"],
    ids=["None", "the class", "the router", "a str"],
)
def test_api_setup_takes_the_application_and_nothing_else(given: Any) -> None:
    """docs/api.rst, "Settings": ``setup(app, ...)`` takes the
    :class:`aiohttp.web.Application`; anything else (the class itself, the
    router, ``None``) is a :exc:`TypeError` that says what it takes, as for
    the functions that take the request, not an ``AttributeError`` from
    inside.
    """
    with pytest.raises(TypeError, match=r"aiohttp\.web\.Application"):
        fb.setup(given)


def test_api_setup_refuses_other_unread_values() -> None:
    with pytest.raises(ValueError, match="unread"):
        fb.setup(web.Application(), unread="sometimes")  # type: ignore[arg-type]


@pytest.mark.parametrize("max_age", [0, -1, math.nan, math.inf])
def test_settings_setup_refuses_bad_max_age(max_age: float) -> None:
    with pytest.raises(ValueError, match="max_age"):
        fb.setup(web.Application(), max_age=max_age)


def test_types_package_ships_py_typed() -> None:
    import pathlib

    assert (pathlib.Path(fb.__file__).parent / "py.typed").exists()


async def test_api_nothing_returned_is_shared(aiohttp_client: Any) -> None:
    async def set_it(request: web.Request) -> web.Response:
        value: list[Any] = [1, {"x": [2]}]
        fb.flashbag_set(request, "a", value)
        value[1]["x"].append(3)
        fb.get_flashbag(request).outgoing.values["a"].append(9)
        fb.flash(request, {"m": [1]})
        raise web.HTTPFound("/mutate")

    async def mutate(request: web.Request) -> web.Response:
        got: Any = fb.flashbag_get(request, "a")
        got.append(4)
        fb.get_flashbag(request).incoming.values["a"].append(5)
        fb.get_flashed_messages(request)[0]["m"].append(6)
        fb.get_flashed_messages(request, with_categories=True)[0].message["m"].append(7)
        fb.flashbag_keep(request)
        raise web.HTTPFound("/page")

    app = make_app(
        [("GET", "/", set_it), ("GET", "/mutate", mutate), ("GET", "/page", echo)],
        middleware=True,
    )
    client = await aiohttp_client(app)
    body = await (await client.get("/")).json()
    assert body["values"]["a"] == [1, {"x": [2]}]
    assert body["messages"] == [{"m": [1]}]


async def test_api_keep_and_clear_semantics(aiohttp_client: Any) -> None:
    async def page(request: web.Request) -> web.Response:
        step = request.query["step"]
        if step == "keepall":
            fb.get_flashed_messages(request)
            fb.flashbag_keep(request)
        elif step == "clear_then_add":
            fb.flashbag_clear(request)
            fb.flash(request, "fresh")
            assert fb.get_flashed_messages(request) == ["hello", "fresh"]
            assert fb.flashbag_get(request, "a") == "A"
            fb.flash(request, "fresh2")
            raise web.HTTPFound("/page")
        return web.Response(text="ok")

    app = make_app(
        [("GET", "/", set_and_redirect), ("GET", "/p", page), ("GET", "/page", echo)],
        middleware=True,
    )
    client = await aiohttp_client(app)
    await client.get("/", allow_redirects=False)
    await client.get("/p", params={"step": "keepall"})
    body = await (await client.get("/p", params={"step": "clear_then_add"})).json()
    # "fresh" was shown in that request: only "fresh2" goes on
    assert body == {"values": {"a": None, "b": None, "k": None}, "messages": ["fresh2"]}


async def test_api_request_keys_add_no_not_app_key_warning(aiohttp_client: Any) -> None:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = make_app(
            [("GET", "/", set_and_redirect), ("GET", "/page", echo)],
            middleware=True,
            max_age=600,
        )
        client = await aiohttp_client(app)
        await client.get("/")
    names = [type(w.message).__name__ + str(w.message) for w in caught]
    assert not [n for n in names if "Key" in n], names


# == Settings: a sub-application already added ==


@pytest.mark.parametrize("attach", ["add_subapp", "add_domain"])
async def test_setup_of_a_sub_app_already_added_says_to_call_it_before(
    aiohttp_client: Any, attach: str
) -> None:
    """docs/api.rst, "Settings": call ``setup()`` where the application is
    built. aiohttp freezes a sub-application's signals when it is added
    (``add_subapp``, ``add_domain``): ``setup()`` of one added already is a
    ``RuntimeError`` saying to call it before adding it, and it changes
    nothing (the sub-application keeps its parent's settings).
    """
    sub = web.Application()
    sub.router.add_get("/", set_and_redirect)
    sub.router.add_get("/page", echo)
    app = make_app([], middleware=True)
    headers = {}
    if attach == "add_subapp":
        app.add_subapp("/sub", sub)
        base = "/sub"
    else:
        app.add_domain("example.com", sub)
        base, headers = "", {"Host": "example.com"}
    with pytest.raises(RuntimeError, match=rf"before .*{attach}\(\)"):
        fb.setup(sub, session_key="elsewhere")
    client: Client = await aiohttp_client(app)
    await client.get(f"{base}/", allow_redirects=False, headers=headers)
    jar = {m.key: m.value for m in client.session.cookie_jar}
    assert fb.SESSION_KEY in json.loads(jar[COOKIE])["session"]
    body = await (await client.get(f"{base}/page", headers=headers)).json()
    assert body["messages"] == ["hello"]


# == Functions that take the request ==


class SavedView(fb.FlashbagMixin, web.View):
    """Passes the view where the request goes, an easy slip in a view."""

    async def post(self) -> web.Response:
        try:
            fb.flash(self, "Saved")  # type: ignore[arg-type]
        except TypeError as exc:
            return web.Response(text=str(exc))
        return web.Response(text="accepted")


async def test_a_function_given_something_else_than_the_request_says_so(
    aiohttp_client: Any,
) -> None:
    """docs/api.rst: the functions take the request. Given a class-based
    view (``flash(self, ...)`` where ``flash(self.request, ...)`` was meant)
    or anything else, they raise :exc:`TypeError` naming what they got and
    what to pass, not an error from deep inside.
    """
    client: Client = await aiohttp_client(make_app([("*", "/", SavedView)]))
    text = await (await client.post("/")).text()
    assert "SavedView" in text, text
    assert "self.request" in text, text
    others: list[Any] = [None, {}, "request"]
    for other in others:
        with pytest.raises(TypeError, match="request"):
            fb.flashbag_get(other, "k")


# == Stores: a store of your own ==


class CountingStore(SessionStore):
    """The session store with a ``load()`` of its own (here, counting)."""

    def __init__(self) -> None:
        self.loads: list[bool] = []

    async def load(self, request: web.Request, session: Any, settings: Any) -> Any:
        self.loads.append(session is None)
        return await super().load(request, session, settings)


@pytest.mark.parametrize("cookie", [False, True], ids=["no cookie", "a session"])
async def test_a_store_s_own_load_is_called_for_every_scope(
    aiohttp_client: Any, cookie: bool
) -> None:
    """docs/api.rst, ``FlashStore``: the scope asks the store's ``load()``
    when it opens; a store may answer sooner (``known()``), but the session
    store's answer never skips a subclass's own ``load()``.
    """
    store = CountingStore()

    @fb.with_flashbag
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=repr(fb.get_flashed_messages(request)))

    async def login(request: web.Request) -> web.Response:
        (await get_session(request))["user"] = "ann"
        return web.Response(text="in")

    app = make_app([("GET", "/", page), ("GET", "/login", login)])
    fb.setup(app, store=store)
    client: Client = await aiohttp_client(app)
    if cookie:
        await client.get("/login")
    assert await (await client.get("/")).text() == "[]"
    assert store.loads == [not cookie]
