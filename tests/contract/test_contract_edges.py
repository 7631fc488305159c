"""Rules of docs/lifecycle.rst and docs/api.rst checked from the outside, the
way a careless user (or an attacker with a cookie) meets them.

Each test is named after the rule it checks.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import inspect
import json
import logging
import math
import time
import types
from collections.abc import Mapping
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage, get_session, new_session
from aiohttp_session import setup as setup_session

import aiohttp_flashbag as fb
from aiohttp_flashbag.testing import record_flashes

from ..conftest import COOKIE, FernetCookies, make_app, stored_bag

MARKER = "__aiohttp_flashbag__"


def cookie_of(client: Any) -> str | None:
    found = [m for m in client.session.cookie_jar if m.key == COOKIE]
    assert len(found) <= 1, found
    return str(found[0].value) if found else None


def bag_in_jar(client: Any) -> Any:
    raw = cookie_of(client)
    return None if raw is None else stored_bag(raw)


def raw_bag_in_jar(client: Any) -> Any:
    raw = cookie_of(client)
    if raw is None:
        return None
    return json.loads(raw).get("session", {}).get(fb.DEFAULT_SESSION_KEY)


def plant(client: Any, session: Mapping[str, Any]) -> None:
    """Put a SimpleCookieStorage session in the client's jar, as a browser
    (or an attacker) would send it.
    """
    value = json.dumps({"created": int(time.time()), "session": dict(session)})
    client.session.cookie_jar.update_cookies(
        {COOKIE: value}, response_url=client.make_url("/")
    )


async def echo(request: web.Request) -> web.Response:
    values = {k: fb.flashbag_get(request, k) for k in ("a", "b", "k")}
    return web.json_response(
        {"values": values, "messages": fb.get_flashed_messages(request)}
    )


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


# -- bad input: every refusal is the documented TypeError naming the key ------------


def deep(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


class Odd:
    pass


BAD_VALUES = {
    "set": {1},
    "bytes": b"x",
    "bytearray": bytearray(b"x"),
    "memoryview": memoryview(b"x"),
    "datetime": datetime.datetime(2020, 1, 1),
    "object": Odd(),
    "nan": math.nan,
    "inf": math.inf,
    "lone_surrogate": "\ud800",
    "surrogate_in_list": ["ok", "\udfff"],
    "surrogate_dict_key": {"\ud800": 1},
    "int_dict_key": {1: "x"},
    "nested_int_dict_key": {"a": [{2: "x"}]},
    "deep_33": deep(33),
    "huge_int": 10**5000,
    "huge_int_nested": [10**5000],
    "lazy_as_value": fb.lazy("hello"),
    "bytes_nested": {"a": [b"x"]},
}


def run_in_app(check: Any) -> Any:
    """A route whose handler runs ``check(request)`` in a scope and answers
    what it raised.
    """

    @fb.with_flashbag
    async def handler(request: web.Request) -> web.Response:
        try:
            check(request)
        except Exception as exc:
            return web.json_response(
                {
                    "type": type(exc).__name__,
                    "is_type_error": isinstance(exc, TypeError),
                    "text": str(exc),
                    "outgoing": fb.get_flashbag(request).outgoing.values,
                }
            )
        return web.json_response({"type": None})

    return make_app([("GET", "/", handler)])


@pytest.mark.parametrize("kind", sorted(BAD_VALUES))
async def test_bad_input_set_refuses_with_type_error_naming_key(
    aiohttp_client: Any, kind: str
) -> None:
    def check(request: web.Request) -> None:
        fb.flashbag_set(request, "keep_me", 1)
        fb.flashbag_set(request, "the_key", BAD_VALUES[kind])

    client = await aiohttp_client(run_in_app(check))
    body = await (await client.get("/")).json()
    assert body["is_type_error"], body
    assert "the_key" in body["text"], body
    assert body["outgoing"] == {"keep_me": 1}


@pytest.mark.parametrize("kind", sorted(BAD_VALUES))
async def test_bad_input_flash_refuses_with_type_error_naming_category(
    aiohttp_client: Any, kind: str
) -> None:
    if kind == "lazy_as_value":
        pytest.skip("a lazy message is a message")

    def check(request: web.Request) -> None:
        fb.flash(request, BAD_VALUES[kind], "the_category")

    client = await aiohttp_client(run_in_app(check))
    body = await (await client.get("/")).json()
    assert body["is_type_error"], body
    assert "the_category" in body["text"], body


@pytest.mark.parametrize("kind", sorted(BAD_VALUES))
async def test_bad_input_append_refuses_with_type_error_naming_key(
    aiohttp_client: Any, kind: str
) -> None:
    def check(request: web.Request) -> None:
        fb.flashbag_append(request, "the_key", "first")
        fb.flashbag_append(request, "the_key", BAD_VALUES[kind])

    client = await aiohttp_client(run_in_app(check))
    body = await (await client.get("/")).json()
    assert body["is_type_error"], body
    assert "the_key" in body["text"], body
    assert body["outgoing"] == {"the_key": ["first"]}


@pytest.mark.parametrize("kind", sorted(BAD_VALUES))
async def test_bad_input_replace_all_refuses_and_outgoing_unchanged(
    aiohttp_client: Any, kind: str
) -> None:
    def check(request: web.Request) -> None:
        fb.flashbag_set(request, "keep_me", 1)
        fb.flashbag_replace_all(request, value={"fine": 1, "the_key": BAD_VALUES[kind]})

    client = await aiohttp_client(run_in_app(check))
    body = await (await client.get("/")).json()
    assert body["is_type_error"], body
    assert "the_key" in body["text"], body
    assert body["outgoing"] == {"keep_me": 1}


@pytest.mark.parametrize(
    "key",
    [1, None, b"k", ("a",), "\ud800"],
    ids=["int", "none", "bytes", "tuple", "surrogate"],
)
async def test_bad_input_key_that_is_not_str_is_type_error(
    aiohttp_client: Any, key: Any
) -> None:
    def check(request: web.Request) -> None:
        fb.flashbag_set(request, key, 1)

    client = await aiohttp_client(run_in_app(check))
    body = await (await client.get("/")).json()
    assert body["is_type_error"], body


@pytest.mark.parametrize(
    "category", [1, None, b"c", "\ud800"], ids=["int", "none", "bytes", "surrogate"]
)
async def test_bad_input_category_not_str_or_surrogate_is_type_error(
    aiohttp_client: Any, category: Any
) -> None:
    def check(request: web.Request) -> None:
        fb.flash(request, "text", category)

    client = await aiohttp_client(run_in_app(check))
    body = await (await client.get("/")).json()
    assert body["is_type_error"], body


@pytest.mark.parametrize("bad", [5, "\ud800", b"x"], ids=["int", "surrogate", "bytes"])
async def test_bad_input_extra_tags_refused_with_type_error_naming_category(
    aiohttp_client: Any, bad: Any
) -> None:
    def check(request: web.Request) -> None:
        fb.flash(request, "text", "the_category", extra_tags=bad)

    client = await aiohttp_client(run_in_app(check))
    body = await (await client.get("/")).json()
    assert body["is_type_error"], body
    assert "the_category" in body["text"]


async def test_bad_input_replace_all_with_non_mapping_is_type_error(
    aiohttp_client: Any,
) -> None:
    def check(request: web.Request) -> None:
        fb.flashbag_replace_all(request, value=[("a", 1)])  # type: ignore[arg-type]

    client = await aiohttp_client(run_in_app(check))
    body = await (await client.get("/")).json()
    assert body["is_type_error"], body


async def test_bad_input_append_onto_non_list_is_type_error(
    aiohttp_client: Any,
) -> None:
    def check(request: web.Request) -> None:
        fb.flashbag_set(request, "k", "text")
        fb.flashbag_append(request, "k", 1)

    client = await aiohttp_client(run_in_app(check))
    body = await (await client.get("/")).json()
    assert body["is_type_error"], body
    assert body["outgoing"] == {"k": "text"}


def test_bad_input_lazy_refuses_non_json_parameter() -> None:
    with pytest.raises(TypeError):
        fb.lazy("Saved {n}", n=object())
    with pytest.raises(TypeError):
        fb.lazy("Saved {n}", n=b"x")
    with pytest.raises(TypeError):
        fb.lazy("Saved {n}", n=10**5000)


class Custom(Mapping[str, Any]):
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Any:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


async def test_bad_input_any_mapping_and_sequence_are_accepted_and_round_trip(
    aiohttp_client: Any,
) -> None:
    @fb.with_flashbag
    async def setter(request: web.Request) -> web.Response:
        fb.flashbag_set(
            request,
            "k",
            {
                "tuple": (1, 2),
                "range": range(3),
                "proxy": types.MappingProxyType({"x": 1}),
                "custom": Custom({"y": [1]}),
                "deque": collections.deque([1, 2]),
                "userlist": collections.UserList([3]),
                "ordered": collections.OrderedDict(z=1),
                "deep_32": deep(31),
            },
        )
        raise web.HTTPFound("/read")

    @fb.with_flashbag
    async def reader(request: web.Request) -> web.Response:
        return web.json_response({"k": fb.flashbag_get(request, "k")})

    app = make_app([("GET", "/", setter), ("GET", "/read", reader)])
    client = await aiohttp_client(app)
    resp = await client.get("/")
    assert resp.status == 200
    assert (await resp.json())["k"] == {
        "tuple": [1, 2],
        "range": [0, 1, 2],
        "proxy": {"x": 1},
        "custom": {"y": [1]},
        "deque": [1, 2],
        "userlist": [3],
        "ordered": {"z": 1},
        "deep_32": deep(31),
    }


async def test_bad_input_flash_of_32_deep_value_round_trips_without_500(
    aiohttp_client: Any,
) -> None:
    @fb.with_flashbag
    async def setter(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "k", deep(32))
        fb.flash(request, deep(32))
        raise web.HTTPFound("/read")

    @fb.with_flashbag
    async def reader(request: web.Request) -> web.Response:
        return web.json_response(
            {"k": fb.flashbag_get(request, "k"), "m": fb.get_flashed_messages(request)}
        )

    for storage in (SimpleCookieStorage(), FernetCookies().storage):
        app = make_app(
            [("GET", "/", setter), ("GET", "/read", reader)], storage=storage
        )
        client = await aiohttp_client(app)
        resp = await client.get("/")
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        assert body == {"k": deep(32), "m": [deep(32)]}


# -- garbage and old stored data ---------------------------------------------------


GARBAGE = {
    "null": None,
    "text": "junk",
    "list": [1, 2, 3],
    "marker_junk": {MARKER: "junk"},
    "marker_wrong_version": {MARKER: [99, {}, []]},
    "marker_bad_item": {MARKER: [2, {"k": "notalist"}, []]},
    "marker_negative_time": {MARKER: [2, {"k": [-5, "v"]}, []]},
    "marker_bool_time": {MARKER: [2, {"k": [True, "v"]}, []]},
    "options_not_mapping": {MARKER: [2, {}, [[1, "c", "m", {"lazy": 5}]]]},
    "options_lazy_list": {MARKER: [2, {}, [[1, "c", "m {0}", {"lazy": [1]}]]]},
    "bad_tags": {MARKER: [2, {}, [[1, "c", "m", {"tags": 5}]]]},
    "number": 5,
}


@pytest.mark.parametrize("kind", sorted(GARBAGE))
async def test_bad_input_garbage_stored_bag_is_never_a_500(
    aiohttp_client: Any, kind: str
) -> None:
    app = make_app([("GET", "/", echo)], middleware=True)
    client = await aiohttp_client(app)
    stored = GARBAGE[kind]
    if (kind.startswith("marker_") and "time" not in kind) or kind.startswith(
        ("options", "bad_tags")
    ):
        now = int(time.time())
        stored = json.loads(json.dumps(stored).replace("[1, ", f"[{now}, "))
    plant(client, {fb.SESSION_KEY: stored, "user": "alice"})
    resp = await client.get("/")
    assert resp.status == 200, await resp.text()
    await resp.json()
    # replaced (or removed) at the next commit; the rest of the session stays
    data = json.loads(cookie_of(client) or "{}")
    assert data["session"].get("user") == "alice"
    assert data["session"].get(fb.SESSION_KEY) is None


async def test_bad_input_garbage_is_logged_once_at_warning_even_unread(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    @fb.with_flashbag
    async def quiet(request: web.Request) -> web.Response:
        return web.Response(text="nothing read")

    client = await aiohttp_client(make_app([("GET", "/", quiet)]))
    plant(client, {fb.SESSION_KEY: "junk"})
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        resp = await client.get("/")
    assert resp.status == 200
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]


async def test_bad_input_stored_flash_with_surrogate_or_int_key_dropped_others_read(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = await aiohttp_client(make_app([("GET", "/", echo)], middleware=True))
    now = int(time.time())
    # JSON escapes decode to a lone surrogate
    cookie = (
        f'{{"created": {now}, "session": {{"aiohttp_flashbag": {{"{MARKER}": [2, '
        f'{{"a": [{now}, "\\ud800"], "b": [{now}, "fine"]}}, '
        f'[[{now}, "message", "ok"], [{now}, "message", {{"x": "\\udc00"}}]]]}}}}}}'
    )
    client.session.cookie_jar.update_cookies(
        {COOKIE: cookie}, response_url=client.make_url("/")
    )
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        resp = await client.get("/")
    assert resp.status == 200
    body = await resp.json()
    assert body["values"]["b"] == "fine"
    assert body["values"]["a"] is None
    assert body["messages"] == ["ok"]
    assert any(r.levelno == logging.WARNING for r in caplog.records)


async def test_bad_input_003_data_read_as_values_and_rewritten_with_time(
    aiohttp_client: Any,
) -> None:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/")

    app = make_app([("GET", "/", echo), ("GET", "/go", redirect)], middleware=True)
    client = await aiohttp_client(app)
    plant(client, {fb.SESSION_KEY: {"a": [1, {"x": 2}], "b": "two"}})
    resp = await client.get("/go", allow_redirects=False)
    assert resp.status == 302
    raw = raw_bag_in_jar(client)
    assert list(raw) == [MARKER], raw
    _version, values, _messages = raw[MARKER]
    assert values["a"][1] == [1, {"x": 2}]
    assert isinstance(values["a"][0], int)
    resp = await client.get("/")
    assert (await resp.json())["values"]["a"] == [1, {"x": 2}]


# -- the lifecycle --------------------------------------------------------------------


def lifecycle_app(**settings: Any) -> web.Application:
    async def set_it(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "a", "A")
        fb.flash(request, "hello")
        raise web.HTTPFound("/page")

    async def status(request: web.Request) -> web.StreamResponse:
        code = int(request.match_info["code"])
        headers = dict(request.query)
        if 300 <= code < 400:
            headers.setdefault("Location", "/page")
        return web.Response(status=code, headers=headers)

    return make_app(
        [
            ("GET", "/set", set_it),
            ("GET", "/page", echo),
            ("*", "/status/{code}", status),
        ],
        middleware=True,
        **settings,
    )


@pytest.mark.parametrize(
    ("method", "code", "query", "survives"),
    [
        ("HEAD", 200, {}, True),
        ("GET", 500, {}, True),
        ("GET", 503, {}, True),
        ("GET", 302, {}, True),
        ("GET", 304, {}, True),
        ("GET", 200, {"HX-Redirect": "/x"}, True),
        ("GET", 200, {"HX-Location": "/x"}, True),
        ("GET", 200, {"HX-Refresh": "true"}, True),
        ("GET", 200, {}, False),
        ("GET", 404, {}, False),
        ("POST", 422, {}, False),
    ],
)
async def test_lifecycle_table_each_ending(
    aiohttp_client: Any, method: str, code: int, query: dict[str, str], survives: bool
) -> None:
    client = await aiohttp_client(lifecycle_app())
    await client.get("/set", allow_redirects=False)
    resp = await client.request(
        method, f"/status/{code}", params=query, allow_redirects=False
    )
    assert resp.status == code
    body = await (await client.get("/page")).json()
    if survives:
        assert body == {
            "values": {"a": "A", "b": None, "k": None},
            "messages": ["hello"],
        }
    else:
        assert body == {"values": {"a": None, "b": None, "k": None}, "messages": []}


async def test_lifecycle_unread_keep_unscoped_like_pages_consume_nothing(
    aiohttp_client: Any,
) -> None:
    client = await aiohttp_client(lifecycle_app(unread="keep"))
    await client.get("/set", allow_redirects=False)
    await client.get("/status/200")
    await client.get("/status/404")
    body = await (await client.get("/page")).json()
    assert body == {"values": {"a": "A", "b": None, "k": None}, "messages": ["hello"]}
    body = await (await client.get("/page")).json()
    assert body["messages"] == []


async def test_lifecycle_own_message_shown_is_not_passed_on_even_on_redirect(
    aiohttp_client: Any,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        fb.flash(request, "mine")
        fb.flash(request, "now", now=True)
        assert fb.get_flashed_messages(request) == ["mine", "now"]
        raise web.HTTPFound("/page")

    app = make_app([("GET", "/", handler), ("GET", "/page", echo)], middleware=True)
    client = await aiohttp_client(app)
    body = await (await client.get("/")).json()
    assert body["messages"] == []


async def test_lifecycle_reads_after_scope_ended_return_incoming_only(
    aiohttp_client: Any,
) -> None:
    seen: dict[str, Any] = {}

    @web.middleware
    async def outer(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        if request.path == "/read":
            seen["messages"] = fb.get_flashed_messages(request)
            seen["a"] = fb.flashbag_get(request, "a")
        return cast(web.StreamResponse, response)

    @fb.with_flashbag
    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, "first")
        raise web.HTTPFound("/read")

    @fb.with_flashbag
    async def read(request: web.Request) -> web.Response:
        fb.flash(request, "second")
        return web.Response(text="page")

    app = web.Application()
    setup_session(app, SimpleCookieStorage())
    app.middlewares.append(outer)
    app.router.add_get("/", set_it)
    app.router.add_get("/read", read)
    client = await aiohttp_client(app)
    await client.get("/")
    assert seen["messages"] == ["first"]
    # the read after the scope ended consumed nothing more: "second" waits
    assert bag_in_jar(client) == [1, {}, [["message", "second"]]]


async def test_scopes_sequential_error_page_sees_and_commits(
    aiohttp_client: Any,
) -> None:
    @fb.with_flashbag
    async def error_page(request: web.Request) -> web.Response:
        return web.json_response(
            {"messages": fb.get_flashed_messages(request)}, status=404
        )

    @web.middleware
    async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return cast(web.StreamResponse, await handler(request))
        except RuntimeError:
            return await error_page(request)

    @fb.with_flashbag
    async def crash(request: web.Request) -> web.Response:
        fb.flash(request, "lost in the crash")
        raise RuntimeError("boom")

    @fb.with_flashbag
    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, "waiting")
        raise web.HTTPFound("/crash")

    app = web.Application()
    setup_session(app, SimpleCookieStorage())
    app.middlewares.append(errors)
    app.router.add_get("/", set_it)
    app.router.add_get("/crash", crash)
    client = await aiohttp_client(app)
    resp = await client.get("/")
    assert resp.status == 404
    assert (await resp.json())["messages"] == ["waiting"]
    # the error page consumed it
    assert bag_in_jar(client) is None


async def test_scopes_sub_app_own_setup_wins_under_parent_middleware(
    aiohttp_client: Any,
) -> None:
    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, "x")
        return web.Response(text="ok")

    parent = web.Application()
    setup_session(parent, SimpleCookieStorage())
    parent.middlewares.append(fb.flashbag_middleware)
    sub = web.Application()
    fb.setup(sub, session_key="sub_key")
    sub.router.add_get("/set", set_it)
    parent.add_subapp("/sub", sub)
    client = await aiohttp_client(parent)
    await client.get("/sub/set")
    data = json.loads(cookie_of(client) or "{}")
    assert "sub_key" in data["session"]
    assert fb.SESSION_KEY not in data["session"]


async def test_new_session_carries_own_flashes_not_incoming(
    aiohttp_client: Any,
) -> None:
    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, "old")
        raise web.HTTPFound("/login")

    async def login(request: web.Request) -> web.Response:
        fb.flash(request, "before switch")
        session = await new_session(request)
        session["user"] = "bob"
        fb.flash(request, "after switch")
        raise web.HTTPFound("/page")

    app = make_app(
        [("GET", "/", set_it), ("GET", "/login", login), ("GET", "/page", echo)],
        middleware=True,
    )
    client = await aiohttp_client(app)
    body = await (await client.get("/")).json()
    assert body["messages"] == ["before switch", "after switch"]


# -- time ---------------------------------------------------------------------------


async def test_clock_future_time_becomes_readers_now_when_carried(
    aiohttp_client: Any,
) -> None:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/page")

    app = make_app([("GET", "/go", redirect), ("GET", "/page", echo)], middleware=True)
    client = await aiohttp_client(app)
    future = int(time.time()) + 10_000
    plant(client, {fb.SESSION_KEY: {MARKER: [2, {"a": [future, "v"]}, []]}})
    before = time.time()
    await client.get("/go", allow_redirects=False)
    stamp = raw_bag_in_jar(client)[MARKER][1]["a"][0]
    assert before - 1 <= stamp <= time.time() + 1


async def test_clock_expired_flash_dropped_when_loaded(aiohttp_client: Any) -> None:
    app = make_app([("GET", "/", echo)], middleware=True, max_age=60)
    client = await aiohttp_client(app)
    old = int(time.time()) - 61 - 1
    plant(
        client,
        {fb.SESSION_KEY: {MARKER: [2, {"a": [old, "v"]}, [[old, "message", "m"]]]}},
    )
    body = await (await client.get("/")).json()
    assert body == {"values": {"a": None, "b": None, "k": None}, "messages": []}


# -- writes -------------------------------------------------------------------------


async def test_writes_scoped_request_with_nothing_sets_no_cookie(
    aiohttp_client: Any,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        fb.get_flashed_messages(request)
        fb.flashbag_get(request, "a")
        fb.flash(request, "shown at once")
        fb.get_flashed_messages(request)
        fb.flash(request, "now", now=True)
        return web.Response(text="ok")

    client = await aiohttp_client(make_app([("GET", "/", handler)], middleware=True))
    resp = await client.get("/")
    assert "Set-Cookie" not in resp.headers


async def test_writes_cache_control_replaced_and_cdn_headers_removed(
    aiohttp_client: Any,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        fb.flash(request, "x", now=True)
        fb.get_flashed_messages(request)
        return web.Response(
            text="ok",
            headers={
                "Cache-Control": "public, max-age=600",
                "CDN-Cache-Control": "max-age=600",
                "Surrogate-Control": "max-age=600",
            },
        )

    client = await aiohttp_client(make_app([("GET", "/", handler)], middleware=True))
    resp = await client.get("/")
    assert resp.headers["Cache-Control"] == "no-store"
    assert "CDN-Cache-Control" not in resp.headers
    assert "Surrogate-Control" not in resp.headers


async def test_writes_value_stored_exactly_true_over_1(aiohttp_client: Any) -> None:
    async def one(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "a", 1)
        raise web.HTTPFound("/two")

    async def two(request: web.Request) -> web.Response:
        assert fb.flashbag_get(request, "a") == 1
        fb.flashbag_set(request, "a", True)
        fb.flashbag_set(request, "b", 1.0)
        raise web.HTTPFound("/page")

    app = make_app(
        [("GET", "/", one), ("GET", "/two", two), ("GET", "/page", echo)],
        middleware=True,
    )
    client = await aiohttp_client(app)
    resp = await client.get("/")
    text = await resp.text()
    assert '"a": true' in text
    assert '"b": 1.0' in text


# -- a streamed response ------------------------------------------------------------


async def test_streamed_with_setup_commits_at_prepare(aiohttp_client: Any) -> None:
    async def stream(request: web.Request) -> web.StreamResponse:
        shown = fb.get_flashed_messages(request)
        fb.flash(request, "for next")
        response = web.StreamResponse()
        response.headers["Cache-Control"] = "public"
        await response.prepare(request)
        await response.write(json.dumps(shown).encode())
        return response

    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, "incoming")
        raise web.HTTPFound("/stream")

    app = make_app(
        [("GET", "/", set_it), ("GET", "/stream", stream), ("GET", "/page", echo)],
        middleware=True,
        max_age=600,
    )
    client = await aiohttp_client(app)
    with record_flashes(app) as records:
        resp = await client.get("/")
        assert json.loads(await resp.text()) == ["incoming"]
    assert resp.headers["Cache-Control"] == "no-store"
    assert records[-1].status == 200
    assert records[-1].stored.messages == [("message", "for next")]
    body = await (await client.get("/page")).json()
    assert body["messages"] == ["for next"]


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


# -- size -----------------------------------------------------------------------------


async def test_size_big_write_accepted_read_in_request_dropped_with_warning(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "huge", "x" * 5000)
        fb.flashbag_set(request, "small", "y")
        return web.json_response(
            {"huge": len(fb.get_flashbag(request).outgoing.values["huge"])}
        )

    app = make_app([("GET", "/", handler)], middleware=True)
    client = await aiohttp_client(app)
    with (
        caplog.at_level(logging.WARNING, "aiohttp_flashbag"),
        record_flashes(app) as records,
    ):
        resp = await client.get("/")
    assert resp.status == 200
    assert (await resp.json())["huge"] == 5000
    assert bag_in_jar(client) == {"small": "y"}
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "huge" in text
    assert "2048" in text
    assert list(records[-1].dropped.values) == ["huge"]


async def test_size_give_way_order_oldest_carried_first_then_own(
    aiohttp_client: Any,
) -> None:
    async def redirect(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "own", "o" * 300)
        raise web.HTTPFound("/page")

    app = make_app(
        [("GET", "/go", redirect), ("GET", "/page", echo)],
        middleware=True,
        max_bytes=900,
    )
    client = await aiohttp_client(app)
    now = int(time.time())
    plant(
        client,
        {
            fb.SESSION_KEY: {
                MARKER: [
                    2,
                    {"older": [now - 50, "a" * 300], "newer": [now - 10, "b" * 300]},
                    [],
                ]
            }
        },
    )
    await client.get("/go", allow_redirects=False)
    bag = bag_in_jar(client)
    assert set(bag) == {"newer", "own"}, bag
    # times kept
    raw = raw_bag_in_jar(client)[MARKER][1]
    assert raw["newer"][0] == now - 10


async def test_size_cookie_guard_keeps_cookie_under_4096_and_session(
    aiohttp_client: Any,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        session = await get_session(request)
        session["user"] = "u" * 2500
        for i in range(10):
            fb.flash(request, f"{i}" * 150)
        return web.Response(text="ok")

    app = make_app([("GET", "/", handler)], middleware=True, max_bytes=None)
    client = await aiohttp_client(app)
    resp = await client.get("/")
    assert resp.status == 200
    cookie = next(c for c in resp.headers.getall("Set-Cookie") if c.startswith(COOKIE))
    assert len(cookie.split(";", 1)[0]) <= 4096
    data = json.loads(cookie_of(client) or "{}")
    assert data["session"]["user"] == "u" * 2500


# -- htmx ----------------------------------------------------------------------------


async def test_htmx_trigger_merges_comma_list_and_bounded(aiohttp_client: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        for i in range(100):
            fb.flash(request, f"message {i} " + "z" * 60)
        return web.Response(text="ok", headers={"HX-Trigger": "one, two"})

    app = make_app([("GET", "/", handler)], middleware=True, htmx_event="flash")
    client = await aiohttp_client(app)
    resp = await client.get("/", headers={"HX-Request": "true"})
    header = resp.headers["HX-Trigger"]
    assert len(header.encode()) <= 4096
    triggers = json.loads(header)
    assert "one" in triggers
    assert "two" in triggers
    delivered = triggers["flash"]
    assert delivered[0]["category"] == "message"
    assert "level" in delivered[0]
    # the others stay unseen: the 200 page consumes them (unread="drop")


# -- Markup ---------------------------------------------------------------------------


async def test_markup_survives_redirect_unless_simple_cookie(
    aiohttp_client: Any,
) -> None:
    from markupsafe import Markup

    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, Markup('Saved. <a href="/undo">Undo</a>'))
        fb.flashbag_set(request, "a", Markup("<b>x</b>"))
        raise web.HTTPFound("/read")

    async def read(request: web.Request) -> web.Response:
        [message] = fb.get_flashed_messages(request)
        value = fb.flashbag_get(request, "a")
        return web.json_response(
            {"m": type(message).__name__, "v": type(value).__name__}
        )

    fernet = make_app(
        [("GET", "/", set_it), ("GET", "/read", read)],
        middleware=True,
        storage=FernetCookies().storage,
    )
    client = await aiohttp_client(fernet)
    assert await (await client.get("/")).json() == {"m": "Markup", "v": "Markup"}
    simple = make_app([("GET", "/", set_it), ("GET", "/read", read)], middleware=True)
    client = await aiohttp_client(simple)
    assert await (await client.get("/")).json() == {"m": "str", "v": "str"}


# -- levels, tags, translations ------------------------------------------------------


def test_levels_message_is_a_pair_with_django_names() -> None:
    message: Any = fb.Message("error", "Bad")
    assert message == ("error", "Bad")
    assert hash(message) == hash(("error", "Bad"))
    category, text = message
    assert (category, text) == ("error", "Bad")
    assert message.level == 40
    assert message.level_tag == "error"
    assert message.extra_tags == ""
    assert message.tags == "error"
    assert str(message) == "Bad"
    assert str(fb.Message("message", {"a": 1})) == str({"a": 1})


async def test_levels_min_level_by_name_and_set_level(aiohttp_client: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        fb.debug(request, "dbg")
        fb.info(request, "inf")
        fb.warning(request, "warn", extra_tags="big")
        before = fb.get_level(request)
        fb.set_level(request, fb.ERROR)
        fb.warning(request, "warn2")
        fb.error(request, "err")
        messages = fb.get_flashed_messages(request, with_categories=True)
        return web.json_response(
            {
                "before": before,
                "after": fb.get_level(request),
                "messages": [[m.category, m.message, m.tags] for m in messages],
            }
        )

    app = make_app([("GET", "/", handler)], middleware=True, min_level="warning")
    client = await aiohttp_client(app)
    body = await (await client.get("/")).json()
    assert body["before"] == 30
    assert body["after"] == 40
    assert body["messages"] == [
        ["warning", "warn", "big warning"],
        ["error", "err", "error"],
    ]


@pytest.mark.parametrize(
    "bad",
    ["raise", "format", "none"],
    ids=["translate_raises", "bad_format", "returns_none"],
)
async def test_translations_failures_never_an_error_page(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, bad: str
) -> None:
    def translate(request: Any, message_id: str, parameters: Any, context: Any) -> Any:
        if bad == "raise":
            raise LookupError("no catalog")
        if bad == "none":
            return None
        return message_id.format(**parameters)

    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, fb.lazy("Saved {count} items {missing}", count=3))
        raise web.HTTPFound("/read")

    app = make_app(
        [("GET", "/", set_it), ("GET", "/read", echo)],
        middleware=True,
        translate=translate,
        htmx_event="flash",
    )
    client = await aiohttp_client(app)
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        resp = await client.get("/")
    assert resp.status == 200
    assert (await resp.json())["messages"] == ["Saved {count} items {missing}"]
    assert any("Saved {count}" in r.getMessage() for r in caplog.records)


# -- speculative requests ---------------------------------------------------------


SPECULATIVE = [
    {"Sec-Purpose": "prefetch"},
    {"Sec-Purpose": "prefetch;prerender"},
    {"Purpose": "prefetch"},
    {"X-Sec-Purpose": "prefetch"},
    {"X-Moz": "prefetch"},
    {"X-Purpose": "preview"},
]


@pytest.mark.parametrize("headers", SPECULATIVE, ids=lambda h: next(iter(h.values())))
async def test_speculative_refused_without_running_handler_and_consumes_nothing(
    aiohttp_client: Any, headers: dict[str, str]
) -> None:
    runs: list[str] = []

    async def page(request: web.Request) -> web.Response:
        runs.append(request.path)
        return await echo(request)

    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, "wait for me")
        return web.Response(text="set")

    app = make_app([("GET", "/set", set_it), ("GET", "/page", page)], middleware=True)
    client = await aiohttp_client(app)
    # nothing waits: runs as usual
    resp = await client.get("/page", headers=headers)
    assert resp.status == 200
    assert runs == ["/page"]
    await client.get("/set")
    with record_flashes(app) as records:
        resp = await client.get("/page", headers=headers)
    assert 400 <= resp.status < 600
    assert resp.headers["Cache-Control"] == "no-store"
    assert runs == ["/page"]
    assert records[-1].status == resp.status
    assert records[-1].stored.messages == [("message", "wait for me")]
    body = await (await client.get("/page")).json()
    assert body["messages"] == ["wait for me"]


# -- faults -------------------------------------------------------------------------


async def test_faults_runtime_error_outside_scope_names_three_ways(
    aiohttp_client: Any,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        try:
            fb.flash(request, "x")
        except RuntimeError as exc:
            return web.Response(text=str(exc))
        return web.Response(text="no error")

    client = await aiohttp_client(make_app([("GET", "/", handler)]))
    text = await (await client.get("/")).text()
    assert "with_flashbag" in text
    assert "FlashbagMixin" in text
    assert "flashbag_middleware" in text


async def test_faults_session_middleware_inside_is_runtime_error_saying_how(
    aiohttp_client: Any,
) -> None:
    caught: list[str] = []

    @web.middleware
    async def catch(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return cast(web.StreamResponse, await handler(request))
        except RuntimeError as exc:
            caught.append(str(exc))
            return web.Response(status=500)

    app = web.Application(middlewares=[catch, fb.flashbag_middleware])
    setup_session(app, SimpleCookieStorage())  # appended after: inside
    app.router.add_get("/", echo)
    client = await aiohttp_client(app)
    await client.get("/")
    assert caught
    assert "aiohttp_session.setup" in caught[0]


async def test_faults_storage_subclass_overriding_load_session_errors_propagate(
    aiohttp_client: Any,
) -> None:
    class Broken(SimpleCookieStorage):
        async def load_session(self, request: web.Request) -> Any:
            raise ValueError("my own bug")

    client = await aiohttp_client(
        make_app([("GET", "/", echo)], middleware=True, storage=Broken())
    )
    resp = await client.get("/")
    assert resp.status == 500


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


# -- second round -----------------------------------------------------------------


async def set_and_redirect(request: web.Request) -> web.Response:
    fb.flashbag_set(request, "a", "A")
    fb.flash(request, "hello")
    raise web.HTTPFound("/page")


@pytest.mark.parametrize("with_setup", [False, True], ids=["no_setup", "setup"])
async def test_lifecycle_websocket_leaves_flashes_unchanged(
    aiohttp_client: Any, with_setup: bool
) -> None:
    async def ws(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_str("hi")
        await socket.close()
        return socket

    settings: dict[str, Any] = {"max_age": 600} if with_setup else {}
    app = make_app(
        [("GET", "/", set_and_redirect), ("GET", "/ws", ws), ("GET", "/page", echo)],
        middleware=True,
        **settings,
    )
    client = await aiohttp_client(app)
    await client.get("/", allow_redirects=False)
    with record_flashes(app) as records:
        socket = await client.ws_connect("/ws")
        assert await socket.receive_str() == "hi"
        handshake_cookies = socket._response.headers.getall("Set-Cookie", [])
        await socket.close()
        for _ in range(200):  # the handler returns once the close is done
            if records:
                break
            await asyncio.sleep(0.01)
    # a browser takes the Set-Cookie of the handshake
    assert all("hello" in c for c in handshake_cookies), handshake_cookies
    # the browser would take a Set-Cookie of the handshake: none may change flashes
    assert records[-1].stored.messages == [("message", "hello")], records
    assert records[-1].stored.values == {"a": "A"}
    body = await (await client.get("/page")).json()
    assert body["messages"] == ["hello"]
    assert body["values"]["a"] == "A"


async def test_streamed_without_setup_unchanged_and_warns_once(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def stream(request: web.Request) -> web.StreamResponse:
        fb.get_flashed_messages(request)
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"x")
        return response

    app = make_app(
        [
            ("GET", "/", set_and_redirect),
            ("GET", "/stream", stream),
            ("GET", "/page", echo),
        ],
        middleware=True,
    )
    client = await aiohttp_client(app)
    await client.get("/", allow_redirects=False)
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        await (await client.get("/stream")).read()
        await (await client.get("/stream")).read()
    warnings = [r.getMessage() for r in caplog.records if "setup" in r.getMessage()]
    assert len(warnings) == 1, warnings
    body = await (await client.get("/page")).json()
    assert body["messages"] == ["hello"]


async def test_streamed_with_setup_late_write_warns_and_is_not_stored(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        fb.flash(request, "too late")
        seen = fb.get_flashed_messages(request)
        await response.write(json.dumps(seen).encode())
        return response

    app = make_app(
        [
            ("GET", "/", set_and_redirect),
            ("GET", "/stream", stream),
            ("GET", "/page", echo),
        ],
        middleware=True,
        max_age=600,
    )
    client = await aiohttp_client(app)
    await client.get("/", allow_redirects=False)
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        resp = await client.get("/stream")
        seen = json.loads(await resp.text())
    assert seen == ["hello", "too late"]
    assert any("prepare" in r.getMessage() for r in caplog.records)
    body = await (await client.get("/page")).json()
    assert body["messages"] == []


async def test_streamed_file_response_without_setup_stores_flash(
    aiohttp_client: Any, tmp_path: Any
) -> None:
    path = tmp_path / "file.txt"
    path.write_text("content")

    async def download(request: web.Request) -> web.StreamResponse:
        fb.flash(request, "downloaded")
        return web.FileResponse(path)

    app = make_app(
        [
            ("GET", "/", set_and_redirect),
            ("GET", "/dl", download),
            ("GET", "/page", echo),
        ],
        middleware=True,
    )
    client = await aiohttp_client(app)
    await client.get("/", allow_redirects=False)
    resp = await client.get("/dl")
    assert await resp.text() == "content"
    body = await (await client.get("/page")).json()
    # "hello" was consumed by the download page; "downloaded" waits
    assert body["messages"] == ["downloaded"]


async def test_size_cookie_guard_counts_outer_writes_with_setup_and_keeps_times(
    aiohttp_client: Any,
) -> None:
    @web.middleware
    async def outer(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        session = await get_session(request)
        session["profile"] = "p" * 2500
        return cast(web.StreamResponse, response)

    async def redirect(request: web.Request) -> web.Response:
        fb.flash(request, "own " + "o" * 400)
        return web.Response(status=302, headers={"Location": "/page"})

    app = web.Application()
    setup_session(app, SimpleCookieStorage())
    app.middlewares.append(outer)
    app.middlewares.append(fb.flashbag_middleware)
    fb.setup(app, max_bytes=None)
    app.router.add_get("/go", redirect)
    app.router.add_get("/page", echo)
    client = await aiohttp_client(app)
    now = int(time.time())
    plant(
        client,
        {
            fb.SESSION_KEY: {
                MARKER: [
                    2,
                    {},
                    [
                        [now - 30, "message", "old " + "a" * 400],
                        [now - 20, "message", "mid " + "b" * 400],
                        [now - 10, "message", "new " + "c" * 400],
                    ],
                ]
            }
        },
    )
    with record_flashes(app) as records:
        resp = await client.get("/go", allow_redirects=False)
    cookie = next(c for c in resp.headers.getall("Set-Cookie") if c.startswith(COOKIE))
    assert len(cookie.split(";", 1)[0]) <= 4096
    data = json.loads(cookie_of(client) or "{}")
    assert data["session"]["profile"] == "p" * 2500
    messages = data["session"][fb.SESSION_KEY][MARKER][2]
    texts = [m[2][:3] for m in messages]
    assert texts[-1] == "own", texts
    assert "old" not in texts, texts
    stamps = {m[2][:3]: m[0] for m in messages}
    for name, stamp in (("mid", now - 20), ("new", now - 10)):
        if name in stamps:
            assert stamps[name] == stamp
    assert records[-1].dropped.messages, records[-1]


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


async def test_unread_keep_clear_forgets_unread_incoming(aiohttp_client: Any) -> None:
    async def clear(request: web.Request) -> web.Response:
        fb.flashbag_clear(request)
        return web.Response(text="ok")

    app = make_app(
        [
            ("GET", "/", set_and_redirect),
            ("GET", "/clear", clear),
            ("GET", "/page", echo),
        ],
        middleware=True,
        unread="keep",
    )
    client = await aiohttp_client(app)
    await client.get("/", allow_redirects=False)
    await client.get("/clear")
    body = await (await client.get("/page")).json()
    assert body["messages"] == []
    assert body["values"]["a"] is None


async def test_levels_custom_levels_override_message_and_min_level(
    aiohttp_client: Any,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        fb.flash(request, "plain")
        fb.flash(request, "notice", "notice")
        messages = fb.get_flashed_messages(request, with_categories=True)
        return web.json_response([[m.category, m.level] for m in messages])

    app = make_app(
        [("GET", "/", handler)],
        middleware=True,
        levels={"message": 5, "notice": 27},
        min_level=10,
    )
    client = await aiohttp_client(app)
    assert await (await client.get("/")).json() == [["notice", 27]]


def test_levels_message_renders_escaped_unless_markup() -> None:
    from markupsafe import Markup, escape

    assert str(escape(fb.Message("error", "<b>"))) == "&lt;b&gt;"
    assert str(escape(fb.Message("error", Markup("<b>")))) == "<b>"


async def test_translations_translate_gets_context_and_htmx_recorder_see_text(
    aiohttp_client: Any,
) -> None:
    calls: list[Any] = []

    def translate(request: Any, message_id: str, parameters: Any, context: Any) -> str:
        calls.append((message_id, parameters, context))
        return "Gespeichert: " + str(parameters["count"])

    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, fb.lazy("Saved {count}", context="items", count=3))
        raise web.HTTPFound("/htmx")

    async def htmx(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = make_app(
        [("GET", "/", set_it), ("GET", "/htmx", htmx)],
        middleware=True,
        translate=translate,
        htmx_event="flash",
    )
    client = await aiohttp_client(app)
    await client.get("/", allow_redirects=False)
    with record_flashes(app) as records:
        resp = await client.get("/htmx", headers={"HX-Request": "true"})
    detail = json.loads(resp.headers["HX-Trigger"])["flash"]
    assert detail[0]["message"] == "Gespeichert: 3"
    assert ("Saved {count}", {"count": 3}, "items") in calls
    assert records[-1].shown.messages == [("message", "Gespeichert: 3")]


async def test_size_warning_names_first_50_and_how_many_more(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(request: web.Request) -> web.Response:
        for i in range(80):
            fb.flash(request, f"message number {i} " + "x" * 100, "info")
        return web.Response(text="ok")

    app = make_app([("GET", "/", handler)], middleware=True, max_bytes=300)
    client = await aiohttp_client(app)
    with (
        caplog.at_level(logging.WARNING, "aiohttp_flashbag"),
        record_flashes(app) as records,
    ):
        resp = await client.get("/")
    assert resp.status == 200
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "300" in text
    assert "more" in text
    assert "message number 0" in text
    assert len(records[-1].dropped.messages) + len(records[-1].stored.messages) == 80


async def test_htmx_trigger_merges_json_form_and_same_event(
    aiohttp_client: Any,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        fb.flash(request, "mine")
        return web.Response(
            text="ok",
            headers={
                "HX-Trigger": json.dumps(
                    {"other": {"x": 1}, "flash": [{"message": "handler"}]}
                )
            },
        )

    app = make_app([("GET", "/", handler)], middleware=True, htmx_event="flash")
    client = await aiohttp_client(app)
    resp = await client.get("/", headers={"HX-Request": "true"})
    triggers = json.loads(resp.headers["HX-Trigger"])
    assert triggers["other"] == {"x": 1}
    assert [d["message"] for d in triggers["flash"]] == ["handler", "mine"]
    assert resp.headers["Cache-Control"] == "no-store"


async def test_scopes_decorated_view_method_inside_mixin_and_middleware(
    aiohttp_client: Any,
) -> None:
    class View(fb.FlashbagMixin, web.View):
        @fb.with_flashbag
        async def get(self) -> web.Response:
            return web.json_response(self.flashbag.get_flashed_messages())

    app = make_app(
        [("GET", "/", set_and_redirect), ("*", "/page", View)], middleware=True
    )
    client = await aiohttp_client(app)
    assert await (await client.get("/")).json() == ["hello"]
    assert bag_in_jar(client) is None


def test_bad_input_self_referencing_value_is_type_error() -> None:
    loop: list[Any] = []
    loop.append(loop)
    bag = fb.Flashbag()
    with pytest.raises(TypeError, match="k"):
        bag.set("k", loop)
    looped: dict[str, Any] = {}
    looped["self"] = looped
    with pytest.raises(TypeError, match="k"):
        bag.set("k", looped)
    assert bag.outgoing.values == {}


async def test_lifecycle_websocket_with_setup_on_server_storage_loses_nothing(
    aiohttp_client: Any,
) -> None:
    from ..support.sessions import MemoryStorage

    async def ws(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_str("hi")
        await socket.close()
        return socket

    storage = MemoryStorage()
    app = make_app(
        [("GET", "/", set_and_redirect), ("GET", "/ws", ws), ("GET", "/page", echo)],
        middleware=True,
        storage=storage,
        max_age=600,
    )
    client = await aiohttp_client(app)
    await client.get("/", allow_redirects=False)
    socket = await client.ws_connect("/ws")
    assert await socket.receive_str() == "hi"
    await socket.close()
    body = await (await client.get("/page")).json()
    assert body["messages"] == ["hello"]


@pytest.mark.parametrize(
    "cookie",
    [
        "not json",
        '{"created": 1, "session": [1, 2]}',
        '{"created": "x", "session": {}}',
        "[" * 1500 + "]" * 1500,  # past json's depth, within a header line
        '{"created": 1, "session": {"aiohttp_flashbag": '
        + "[" * 3000
        + "]" * 3000
        + "}}",
    ],
    ids=["not_json", "session_list", "created_str", "too_deep", "flashes_too_deep"],
)
async def test_faults_tampered_cookie_is_fresh_session_never_500(
    aiohttp_client: Any, cookie: str
) -> None:
    app = make_app([("GET", "/", echo)], middleware=True, max_age=600)
    client = await aiohttp_client(app)
    client.session.cookie_jar.update_cookies(
        {COOKIE: cookie}, response_url=client.make_url("/")
    )
    resp = await client.get("/")
    assert resp.status == 200, await resp.text()


async def test_translations_forged_format_spec_does_not_blow_up_the_page(
    aiohttp_client: Any,
) -> None:
    # Under SimpleCookieStorage the visitor writes the stored bag: a lazy
    # message's id is a format string the server runs.
    app = make_app([("GET", "/", echo)], middleware=True)
    client = await aiohttp_client(app)
    now = int(time.time())
    plant(
        client,
        {
            fb.SESSION_KEY: {
                MARKER: [2, {}, [[now, "message", "{x:>20000000}", {"lazy": {"x": 1}}]]]
            }
        },
    )
    resp = await client.get("/")
    assert resp.status == 200
    assert len(await resp.read()) < 1_000_000


async def test_size_own_flashes_give_way_oldest_first_in_flash_order(
    aiohttp_client: Any,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        fb.flash(request, "m" * 600)  # flashed first: the oldest
        fb.flashbag_set(request, "later", "v" * 600)
        return web.Response(text="ok")

    app = make_app([("GET", "/", handler)], middleware=True, max_bytes=900)
    client = await aiohttp_client(app)
    with record_flashes(app) as records:
        await client.get("/")
    assert records[-1].stored.values == {"later": "v" * 600}
    assert records[-1].dropped.messages == [("message", "m" * 600)]


@pytest.mark.parametrize(
    ("path", "settings"),
    [("/redirect", {}), ("/head", {}), ("/page", {"unread": "keep"})],
    ids=["redirect_carrying", "head", "keep_page_showing_nothing"],
)
async def test_writes_no_write_when_stored_bag_does_not_change(
    aiohttp_client: Any, path: str, settings: dict[str, Any]
) -> None:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/elsewhere")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="nothing read")

    app = make_app(
        [
            ("GET", "/", set_and_redirect),
            ("GET", "/redirect", redirect),
            ("GET", "/head", page),
            ("GET", "/page", page),
        ],
        middleware=True,
        **settings,
    )
    client = await aiohttp_client(app)
    await client.get("/", allow_redirects=False)
    method = "HEAD" if path == "/head" else "GET"
    resp = await client.request(method, path, allow_redirects=False)
    assert "Set-Cookie" not in resp.headers, resp.headers.getall("Set-Cookie")


@pytest.mark.parametrize("kind", ["middleware_setup", "mixin", "decorator_setup"])
async def test_speculative_refused_for_every_scope_and_with_setup(
    aiohttp_client: Any, kind: str
) -> None:
    runs: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        runs.append("ran")
        return web.Response(text=json.dumps(fb.get_flashed_messages(request)))

    class View(fb.FlashbagMixin, web.View):
        async def get(self) -> web.Response:
            return await handler(self.request)

    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, "wait")
        return web.Response(text="set")

    if kind == "mixin":
        routes = [("GET", "/set", fb.with_flashbag(set_it)), ("*", "/page", View)]
        app = make_app(routes)
    elif kind == "decorator_setup":
        routes = [
            ("GET", "/set", fb.with_flashbag(set_it)),
            ("GET", "/page", fb.with_flashbag(handler)),
        ]
        app = make_app(routes, max_age=600)
    else:
        app = make_app(
            [("GET", "/set", set_it), ("GET", "/page", handler)],
            middleware=True,
            max_age=600,
        )
    client = await aiohttp_client(app)
    await client.get("/set")
    with record_flashes(app) as records:
        resp = await client.get("/page", headers={"Sec-Purpose": "prefetch"})
    assert 400 <= resp.status < 600
    assert resp.headers["Cache-Control"] == "no-store"
    assert runs == []
    assert len(records) == 1
    assert records[0].status == resp.status
    assert records[0].shown.messages == []
    assert records[0].stored.messages == [("message", "wait")]
    resp = await client.get("/page")
    assert json.loads(await resp.text()) == ["wait"]


def test_levels_message_compares_hashes_and_serialises_as_pair() -> None:
    import copy
    import pickle

    tagged: Any = fb.Message("info", "x", extra_tags="big")
    assert tagged == ("info", "x")
    assert hash(tagged) == hash(("info", "x"))
    assert tagged.tags == "big info"
    assert json.loads(json.dumps([tagged])) == [["info", "x"]]
    assert copy.deepcopy(tagged).tags == "big info"
    assert pickle.loads(pickle.dumps(tagged)) == ("info", "x")


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


async def test_streamed_warning_for_partial_handler_is_not_a_crash(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import functools

    async def stream(request: web.Request, *, body: bytes) -> web.StreamResponse:
        fb.flash(request, "set before a stream, without setup()")
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(body)
        return response

    app = make_app(
        [("GET", "/", functools.partial(stream, body=b"streamed"))], middleware=True
    )
    client = await aiohttp_client(app)
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        resp = await client.get("/")
        assert await resp.read() == b"streamed"
    assert any("setup" in r.getMessage() for r in caplog.records), caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


@pytest.mark.parametrize("with_setup", [False, True], ids=["no_setup", "setup"])
async def test_size_cookie_guard_encrypted_session_too_large_removes_flashes(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, with_setup: bool
) -> None:
    fernet = FernetCookies()

    async def handler(request: web.Request) -> web.Response:
        session = await get_session(request)
        session["user"] = "u" * int(request.query["size"])
        fb.flash(request, "f" * 300)
        fb.flash(request, "g" * 300)
        return web.Response(text="ok")

    settings: dict[str, Any] = {"max_age": 600} if with_setup else {}
    app = make_app(
        [("GET", "/", handler)], middleware=True, storage=fernet.storage, **settings
    )
    client = await aiohttp_client(app)
    with (
        caplog.at_level(logging.WARNING, "aiohttp_flashbag"),
        record_flashes(app) as records,
    ):
        resp = await client.get("/", params={"size": "2400"})
    cookie = next(c for c in resp.headers.getall("Set-Cookie") if c.startswith(COOKIE))
    assert len(cookie.split(";", 1)[0]) <= 4096
    data = fernet.read(cookie_of(client) or "")
    assert data["session"]["user"] == "u" * 2400
    assert records[-1].dropped.messages, records[-1]
    stored = records[-1].stored.messages
    assert len(stored) + len(records[-1].dropped.messages) == 2
    caplog.clear()
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        resp = await client.get("/", params={"size": "5000"})
    assert resp.status == 200
    assert "too large" in caplog.text, caplog.text


class SlotHandler:
    """A handler object, as some routing helpers make them."""

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        fb.flash(request, "set before a stream, without setup()")
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(self.body)
        return response


async def test_streamed_warning_for_handler_object_is_not_a_crash(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        app = make_app([("GET", "/", SlotHandler(b"streamed"))], middleware=True)
    client = await aiohttp_client(app)
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        resp = await client.get("/")
        assert await resp.read() == b"streamed"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_streamed_late_write_warning_for_partial_handler_is_not_a_crash(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import functools

    async def stream(request: web.Request, *, body: bytes) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        fb.flash(request, "too late")
        await response.write(body)
        return response

    app = make_app(
        [("GET", "/", functools.partial(stream, body=b"streamed"))],
        middleware=True,
        max_age=600,
    )
    client = await aiohttp_client(app)
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        resp = await client.get("/")
        assert await resp.read() == b"streamed"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
