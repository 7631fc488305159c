"""docs/lifecycle.rst, "Bad input and faults", over real HTTP: the table row by
row, loading the session, stored data, dict keys that are not ``str``, a
server-side storage without ``max_age``, tampered cookies, and the same rules
tried as an attacker and checked from the outside.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import datetime
import functools
import json
import logging
import math
import re
import string
import sys
import time
import types
import uuid
from collections import OrderedDict, UserDict, UserList, UserString
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any, cast

import aiohttp
import aiomcache
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp_session import (
    AbstractStorage,
    Session,
    SimpleCookieStorage,
    get_session,
    session_middleware,
)
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from aiohttp_session.memcached_storage import MemcachedStorage
from aiohttp_session.redis_storage import RedisStorage
from cryptography.fernet import Fernet
from hypothesis import example, given, settings
from hypothesis import strategies as st
from markupsafe import Markup
from redis import asyncio as aioredis

import aiohttp_flashbag as fb
from aiohttp_flashbag import Flashbag, Flashes
from aiohttp_flashbag._rule import Ending, size
from aiohttp_flashbag._sessions import default_json
from aiohttp_flashbag._stored import decode, encode

from ..conftest import (
    COOKIE,
    Client,
    CountingStorage,
    FernetCookies,
    make_app,
    stored_bag,
)
from ..support.edges import MARKER, cookie_of, echo, plant, raw_bag_in_jar
from ..support.opsapp import ops_app, ops_headers
from ..support.pages import (
    NOTHING_SHOWN,
    nacl_storage,
    redirect_to_show,
    routes_app,
    show_incoming,
    shown,
)
from ..support.sessions import (
    SCOPES,
    Clock,
    MemoryStorage,
    Site,
    build_app,
    flash_warnings,
    jar_value,
    put_cookie,
    put_simple_session,
    sent_cookies,
    sent_value,
    show,
)
from ..support.simple_jar import NOTHING, put_session, session_in, set_cookie_session
from ..support.simple_jar import flash_warnings as library_warnings
from ..support.simple_jar import show as show_session

# == Bad input and faults: the table, row by row =======================================
#
# docs/lifecycle.rst, "Bad input and faults": the table, row by row.


def stamp() -> int:
    """The time a flash set now carries."""
    return math.ceil(time.time())


def new_bag(raw: Any = None) -> Flashbag:
    """A request's bag, with ``raw`` (the stored form) coming in."""
    loaded = decode(raw, stamp(), None)
    return Flashbag(loaded.flashes if loaded else [])


def stored_size(values: dict[str, Any]) -> int:
    """Bytes of the stored form of ``values`` set now."""
    return len(json.dumps(encode(new_bag_with(values))))


def new_bag_with(values: dict[str, Any]) -> list[Any]:
    bag = new_bag()
    for key, value in values.items():
        bag.set(key, value)
    stored, _ = bag.close(Ending.HEAD, None)
    assert stored is not None
    return stored


class Unencodable:
    pass


UNENCODABLE = [
    {1, 2},
    b"bytes",
    datetime.datetime(2026, 1, 1),
    Unencodable(),
    float("nan"),
    {"nested": [{1, 2}]},
]


class TestValuesJsonCannotEncode:
    @pytest.mark.parametrize("value", UNENCODABLE)
    def test_set_is_refused_naming_key_and_type(self, value: Any) -> None:
        bag = new_bag()
        bag.set("k", "before")
        with pytest.raises(
            TypeError,
            match=r"'k'.* of type (set|bytes|datetime|Unencodable|float|dict) ",
        ):
            bag.set("k", value)
        assert bag.outgoing == Flashes({"k": "before"}, [])

    @pytest.mark.parametrize("value", UNENCODABLE)
    def test_append_flash_and_replace_all_are_refused(self, value: Any) -> None:
        bag = new_bag()
        bag.append("k", 1)
        bag.flash("m")
        with pytest.raises(TypeError, match="'k'"):
            bag.append("k", value)
        with pytest.raises(TypeError, match="flash"):
            bag.flash(value)
        with pytest.raises(TypeError, match="'x'"):
            bag.replace_all({"ok": 1, "x": value})
        assert bag.outgoing == Flashes({"k": [1]}, [fb.Message("message", "m")])

    async def test_over_http_the_error_comes_at_the_call(
        self, aiohttp_client: Any
    ) -> None:
        @fb.with_flashbag
        async def handler(request: web.Request) -> web.Response:
            fb.flashbag_set(request, "ok", 1)
            when: Any = datetime.date(2026, 1, 1)
            try:
                fb.flashbag_set(request, "when", when)
            except TypeError as exc:
                return web.Response(text=str(exc))
            return web.Response(text="accepted")

        client: Client = await aiohttp_client(make_app([("GET", "/", handler)]))
        resp = await client.get("/")
        text = await resp.text()
        assert "'when'" in text
        assert "date" in text
        assert stored_bag(resp.cookies[COOKIE].value) == {"ok": 1}


class Count(int):
    """An int subclass, as an IntEnum's members are."""


class TestWhatTheHintsAccept:
    """docs/lifecycle.rst, "Bad input and faults": whatever a value's type
    hint accepts, the call accepts; a refusal is always the documented
    TypeError naming the key (for ``flash()``, the category).
    """

    @pytest.mark.parametrize(
        ("value", "stored"),
        [
            (types.MappingProxyType({"a": 1}), {"a": 1}),
            (UserDict({"a": [1]}), {"a": [1]}),
            (OrderedDict(a=1), {"a": 1}),
            (range(3), [0, 1, 2]),
            (collections.deque([1, "x"]), [1, "x"]),
            (UserList([None, 2.5]), [None, 2.5]),
            (("t", ("u",)), ["t", ["u"]]),
            ([types.MappingProxyType({"in": range(2)})], [{"in": [0, 1]}]),
            (UserString("text"), "text"),
        ],
        ids=lambda v: type(v).__name__,
    )
    def test_any_mapping_and_sequence_is_json_data(
        self, value: Any, stored: Any
    ) -> None:
        bag = new_bag()
        bag.set("k", value)
        bag.append("list", value)
        bag.flash(value, "info")
        bag.replace_all({"k": value, "list": [value]})
        assert bag.outgoing == Flashes(
            {"k": stored, "list": [stored]}, [fb.Message("info", stored)]
        )
        closed, _ = bag.close(Ending.HEAD, None)
        assert closed is not None
        loaded = decode(json.loads(json.dumps(encode(closed))), stamp(), None)
        assert loaded is not None
        assert [f.value for f in loaded.flashes] == [stored, [stored], stored]

    @pytest.mark.parametrize(
        "value", [b"x", bytearray(b"x"), memoryview(b"x"), [b"x"], {"a": bytearray()}]
    )
    def test_bytes_are_refused(self, value: Any) -> None:
        bag = new_bag()
        with pytest.raises(
            fb.FlashbagTypeError, match=r"'k'.*(bytes|bytearray|memoryview) is not"
        ):
            bag.set("k", value)
        with pytest.raises(
            fb.FlashbagTypeError, match=r"'error'.*(bytes|bytearray|memoryview) is not"
        ):
            bag.flash(value, "error")
        assert bag.outgoing == Flashes({}, [])

    def test_a_mapping_with_a_key_that_is_not_str_is_refused(self) -> None:
        bag = new_bag()
        not_text: Any = types.MappingProxyType({1: "one"})
        with pytest.raises(fb.FlashbagTypeError, match=r"'k'.*key of type int"):
            bag.set("k", not_text)

    def test_an_int_json_cannot_read_back_is_refused(self) -> None:
        """Over ``sys.get_int_max_str_digits()`` digits: a TypeError at the
        call, never json's ValueError (at the call or at the commit).
        """
        limit = getattr(sys, "get_int_max_str_digits", lambda: 0)()
        if not limit:  # Python 3.10 before 3.10.7 converts any int
            pytest.skip("this interpreter does not limit int conversion")
        largest = 10**limit - 1
        bag = new_bag()
        bag.set("largest", largest)
        for huge in (10**limit, -(10**limit), Count(10**limit)):
            for write, value in (
                (bag.set, huge),
                (bag.set, {"n": [huge]}),
                (bag.append, huge),
            ):
                with pytest.raises(fb.FlashbagTypeError, match=r"'k'.*digits"):
                    write("k", value)
            with pytest.raises(fb.FlashbagTypeError, match=r"'k'.*digits"):
                bag.replace_all({"k": huge})
            with pytest.raises(fb.FlashbagTypeError, match=r"'error'.*digits"):
                bag.flash(huge, "error")
        assert bag.outgoing == Flashes({"largest": largest}, [])
        stored, _ = bag.close(Ending.PAGE, None)
        assert stored is not None
        assert json.loads(json.dumps(encode(stored)))  # it round-trips

    @pytest.mark.parametrize(
        "value",
        [object(), b"", 1j, {1}, Unencodable(), datetime.date(2026, 1, 1)],
        ids=lambda v: type(v).__name__,
    )
    def test_errors_name_types_in_proper_english(self, value: Any) -> None:
        """No "a object", "a int", "a bytes" in what a developer reads."""
        bag = new_bag()
        messages = []
        writes: list[Callable[[], None]] = [
            lambda: bag.set("k", value),
            lambda: bag.set("k", {"inner": value}),
            lambda: bag.set("k", {1: value}),  # type: ignore[dict-item]
            lambda: bag.replace_all(value),
        ]
        for write in writes:
            with pytest.raises(fb.FlashbagTypeError) as info:
                write()
            messages.append(str(info.value))
        bag.set("n", 1)
        with pytest.raises(fb.FlashbagTypeError) as info:
            bag.append("n", 2)
        messages.append(str(info.value))
        for message in messages:
            assert not re.search(r"\ba [aeiouAEIOU]", message), message
            assert not re.search(
                r"\ban? (bytes|object|int|float|set|complex)\b", message
            ), message


class TestKeys:
    @pytest.mark.parametrize("key", [1, None, b"k", ("t",)])
    def test_a_key_that_is_not_str_is_refused(self, key: Any) -> None:
        bag = new_bag({"1": "one"})
        with pytest.raises(TypeError, match="keys must be str"):
            bag.get(key)
        with pytest.raises(TypeError, match="keys must be str"):
            bag.set(key, 1)
        with pytest.raises(TypeError, match="keys must be str"):
            bag.append(key, 1)
        with pytest.raises(TypeError, match="keys must be str"):
            bag.keep("ok", key)
        with pytest.raises(TypeError, match="keys must be str"):
            bag.replace_all({"ok": 1, key: 1})
        assert bag.outgoing == Flashes({}, [])
        assert key not in bag

    def test_a_category_that_is_not_str_is_refused(self) -> None:
        with pytest.raises(TypeError, match="categories must be str"):
            new_bag().flash("m", 3)  # type: ignore[arg-type]


class TestShapes:
    @pytest.mark.parametrize("value", [[("a", 1)], "ab", 3, None])
    def test_replace_all_with_a_non_mapping(self, value: Any) -> None:
        bag = new_bag()
        bag.set("a", 1)
        with pytest.raises(TypeError, match="mapping"):
            bag.replace_all(value)
        assert bag.outgoing.values == {"a": 1}

    def test_replace_all_takes_any_mapping(self) -> None:
        bag = new_bag()
        bag.replace_all(OrderedDict(b=2))
        assert bag.outgoing.values == {"b": 2}

    @pytest.mark.parametrize("value", ["text", {"a": 1}, 3, None])
    def test_append_onto_a_value_that_is_not_a_list(self, value: Any) -> None:
        bag = new_bag()
        bag.set("k", value)
        with pytest.raises(TypeError, match="not a list"):
            bag.append("k", "more")
        assert bag.outgoing.values == {"k": value}

    def test_errors_0_0_3_raised_as_value_error_are_still_value_errors(self) -> None:
        bag = new_bag()
        bag.set("k", "text")
        with pytest.raises(ValueError, match="not a list"):
            bag.append("k", "more")
        with pytest.raises(ValueError, match="mapping"):
            bag.replace_all([])  # type: ignore[arg-type]

    def test_values_are_stored_as_the_next_request_will_read_them(self) -> None:
        bag = new_bag()
        form: dict[str, tuple[str, ...]] = {"tags": ("a", "b")}
        bag.set("form", form)
        form["tags"] = ("changed",)
        assert bag.outgoing.values == {"form": {"tags": ["a", "b"]}}


class TestBudget:
    def test_a_write_over_max_bytes_is_accepted_and_gives_way_at_the_commit(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """docs/lifecycle.rst, "Size": every write is accepted and this
        request's reads see it; at the commit, what cannot fit gives way with
        a WARNING that names it, its size and ``max_bytes``.
        """
        bag = new_bag()
        bag.set("a", "x" * 10)
        bag.set("b", "y" * 100)
        bag.flash("z" * 100, "error")
        assert bag.outgoing.values == {"a": "x" * 10, "b": "y" * 100}
        assert bag.outgoing.messages == [("error", "z" * 100)]
        with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
            stored, dropped = bag.close(Ending.REDIRECT, 80)
        assert stored is not None
        assert [f.key for f in stored] == ["a"]
        assert {f.key for f in dropped} == {"b", "error"}
        assert "max_bytes=80" in caplog.text
        assert "value 'b'" in caplog.text
        assert "message 'error'" in caplog.text

    def test_overwriting_a_key_frees_its_old_bytes(self) -> None:
        bag = new_bag()
        bag.set("a", "x" * 25)
        bag.set("a", "y" * 25)
        stored, dropped = bag.close(Ending.HEAD, 106)
        assert [f.value for f in stored or []] == ["y" * 25]
        assert dropped == []

    def test_none_turns_the_budget_off(self) -> None:
        bag = new_bag()
        bag.set("a", "x" * 100_000)
        stored, dropped = bag.close(Ending.PAGE, None)
        assert stored is not None
        assert stored_size({"a": "x" * 100_000}) == len(json.dumps(encode(stored)))
        assert dropped == []

    @given(
        st.lists(
            st.one_of(
                st.tuples(st.just("set"), st.sampled_from("abc"), st.text(max_size=8)),
                st.tuples(st.just("append"), st.sampled_from("xyz"), st.integers()),
                st.tuples(st.just("flash"), st.text(max_size=8), st.text(max_size=4)),
                st.tuples(
                    st.just("replace_all"),
                    st.dictionaries(st.text(max_size=3), st.booleans(), max_size=3),
                    st.none(),
                ),
                st.tuples(st.just("clear"), st.none(), st.none()),
            ),
            max_size=12,
        )
    )
    @example([("replace_all", {"x": False}, None), ("append", "x", 0)])
    def test_the_size_is_the_length_of_the_encoded_bag(
        self, ops: list[tuple[str, Any, Any]]
    ) -> None:
        """docs/lifecycle.rst, "Size": the running size of outgoing flashes
        is what ``json.dumps`` gives for them, after any writes (and any
        refusals: appending onto a value that is not a list changes nothing).
        """
        bag = new_bag()
        for name, a, b in ops:
            if name == "set":
                bag.set(a, b)
            elif name == "append":
                if isinstance(bag.outgoing.values.get(a, []), list):
                    bag.append(a, b)
                else:
                    with pytest.raises(fb.FlashbagTypeError, match="not a list"):
                        bag.append(a, b)
            elif name == "flash":
                bag.flash(a, b)
            elif name == "replace_all":
                bag.replace_all(a)
            else:
                bag.clear()
        stored, _ = bag.close(Ending.HEAD, None)  # nothing came in: outgoing
        assert stored is not None
        data = encode(stored)
        assert size(stored).total() == (0 if data is None else len(json.dumps(data)))

    async def test_setup_after_the_app_started_says_to_call_it_before(
        self, aiohttp_client: Any
    ) -> None:
        app = web.Application()
        sub = web.Application()
        app.add_subapp("/sub", sub)
        await aiohttp_client(app)  # started: the app and its sub-apps are frozen
        for started in (app, sub):
            with pytest.raises(RuntimeError, match=r"setup\(\) must be called before"):
                fb.setup(started)

    async def test_setup_validates_its_arguments(self) -> None:
        app = web.Application()
        with pytest.raises(TypeError, match="session_key"):
            fb.setup(app, session_key="")
        with pytest.raises(ValueError, match="max_bytes"):
            fb.setup(app, max_bytes=0)
        with pytest.raises(ValueError, match="max_bytes"):
            fb.setup(app, max_bytes=True)
        with pytest.raises(ValueError, match="unread"):
            fb.setup(app, unread="forget")  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "max_age", [float("inf"), float("nan"), -1, 0, "600", True, -float("inf")]
    )
    async def test_setup_refuses_a_max_age_that_is_not_finite_and_positive(
        self, max_age: Any
    ) -> None:
        """docs/api.rst: ``max_age`` is a finite positive number of seconds,
        or ``None`` (never); anything else is refused up front, for every
        store.
        """
        app = web.Application()
        fb.setup(app, max_age=30)
        with pytest.raises(ValueError, match="max_age"):
            fb.setup(app, max_age=max_age)
        fb.setup(app, max_age=None)  # never: accepted
        fb.setup(app, max_age=0.5)


class TestStoredData:
    async def send(self, client: Client, flashbag_entry: Any) -> None:
        session = {"created": 1, "session": {"aiohttp_flashbag": flashbag_entry}}
        client.session.cookie_jar.update_cookies({COOKIE: json.dumps(session)})

    @pytest.mark.parametrize(
        "garbage",
        ["text", 7, [1, 2, 3], [1, {}, [["error"]]], [99, {"a": 1}, []], None],
    )
    async def test_garbage_is_empty_logged_and_replaced(
        self, aiohttp_client: Any, caplog: pytest.LogCaptureFixture, garbage: Any
    ) -> None:
        client: Client = await aiohttp_client(ops_app())
        await self.send(client, garbage)
        with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
            resp = await client.get(
                "/scoped",
                headers=ops_headers(
                    [
                        ["get", "a"],
                        ["get", "a"],
                        ["messages", False, []],
                        ["set", "n", 1],
                    ]
                ),
            )
        assert resp.status == 200
        assert json.loads(resp.headers["X-Results"]) == [None, None, [], None]
        warnings = [r for r in caplog.records if r.name == "aiohttp_flashbag"]
        assert len(warnings) == 1  # null included: this library never stores it
        assert "unrecognised" in warnings[0].getMessage()
        assert stored_bag(resp.cookies[COOKIE].value) == {"n": 1}

    @pytest.mark.parametrize("garbage", [5, None, "text"])
    async def test_garbage_is_logged_and_removed_by_a_page_that_reads_nothing(
        self, aiohttp_client: Any, caplog: pytest.LogCaptureFixture, garbage: Any
    ) -> None:
        client: Client = await aiohttp_client(ops_app())
        await self.send(client, garbage)
        with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
            resp = await client.get("/scoped", headers=ops_headers([]))
        assert [r.name for r in caplog.records] == ["aiohttp_flashbag"]
        session = json.loads(resp.cookies[COOKIE].value).get("session", {})
        assert "aiohttp_flashbag" not in session

    async def test_data_written_by_0_0_3_is_read(self, aiohttp_client: Any) -> None:
        client: Client = await aiohttp_client(ops_app())
        await self.send(client, {"error": "Name is required", "form": {"name": ""}})
        resp = await client.get(
            "/scoped",
            headers=ops_headers([["get", "error"], ["get", "form"], ["contains", "x"]]),
        )
        assert json.loads(resp.headers["X-Results"]) == [
            "Name is required",
            {"name": ""},
            False,
        ]
        assert stored_bag(resp.cookies[COOKIE].value) is None  # consumed

    @pytest.mark.parametrize(
        "older",
        [
            {"error": "Name is required"},
            [1, {"error": "Name is required"}, []],
            [2, {"error": ["SET_AT", "Name is required"]}, []],
        ],
        ids=["0.0.3", "format 1", "bare format 2"],
    )
    async def test_older_forms_survive_a_redirect(
        self, aiohttp_client: Any, older: Any
    ) -> None:
        """Rewritten in the current form; the bare list of earlier builds
        keeps its time (here, set 60 seconds ago), the others are set now.
        """
        client: Client = await aiohttp_client(ops_app())
        set_at = stamp() - 60
        bare = isinstance(older, list) and older[0] == 2
        if bare:
            older = [2, {"error": [set_at, "Name is required"]}, []]
        await self.send(client, older)
        resp = await client.get(
            "/scoped", headers=ops_headers([], "302"), allow_redirects=False
        )
        stored = json.loads(resp.cookies[COOKIE].value)["session"]["aiohttp_flashbag"]
        assert list(stored) == ["__aiohttp_flashbag__"]
        entry = stored["__aiohttp_flashbag__"]
        assert entry[0] == 2
        if bare:
            assert entry[1]["error"][0] == set_at
        else:
            assert abs(entry[1]["error"][0] - stamp()) <= 2
        resp = await client.get("/scoped", headers=ops_headers([["get", "error"]]))
        assert json.loads(resp.headers["X-Results"]) == ["Name is required"]

    async def test_the_stored_form(self, aiohttp_client: Any) -> None:
        client: Client = await aiohttp_client(ops_app())
        resp = await client.get("/scoped", headers=ops_headers([["set", "e", "x"]]))
        stored = json.loads(resp.cookies[COOKIE].value)["session"]["aiohttp_flashbag"]
        entry = stored["__aiohttp_flashbag__"]
        assert stored == {
            "__aiohttp_flashbag__": [2, {"e": [entry[1]["e"][0], "x"]}, []]
        }
        assert stored_bag(resp.cookies[COOKIE].value) == {"e": "x"}
        resp = await client.get(
            "/scoped",
            headers=ops_headers([["flash", "m"]], "302"),
            allow_redirects=False,
        )
        assert stored_bag(resp.cookies[COOKIE].value) == [
            1,
            {"e": "x"},
            [["message", "m"]],
        ]


@web.middleware
async def show_runtime_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except RuntimeError as exc:
        return web.Response(status=500, text=str(exc))
    return response


class TestSetupFaults:
    @staticmethod
    async def handler(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "a", 1)
        return web.Response(text="ok")

    @pytest.mark.parametrize(
        "middlewares",
        [
            [fb.flashbag_middleware],  # no session middleware at all
            [fb.flashbag_middleware, session_middleware(SimpleCookieStorage())],
        ],
        ids=["missing", "inside"],
    )
    async def test_session_middleware_missing_or_misplaced(
        self, aiohttp_client: Any, middlewares: list[Any]
    ) -> None:
        app = web.Application(middlewares=[show_runtime_errors, *middlewares])
        app.router.add_get("/", self.handler)
        await self.expect_setup_error(aiohttp_client, app)

    async def test_decorator_without_session_middleware(
        self, aiohttp_client: Any
    ) -> None:
        app = web.Application(middlewares=[show_runtime_errors])
        app.router.add_get("/", fb.with_flashbag(self.handler))
        await self.expect_setup_error(aiohttp_client, app)

    async def expect_setup_error(
        self, aiohttp_client: Any, app: web.Application
    ) -> None:
        client: Client = await aiohttp_client(app)
        resp = await client.get("/")
        assert resp.status == 500
        text = await resp.text()
        assert "aiohttp_session.setup(app, storage)" in text
        assert "flashbag_middleware" in text

    async def test_outside_every_scope(self, aiohttp_client: Any) -> None:
        async def unscoped(request: web.Request) -> web.Response:
            try:
                fb.flashbag_get(request, "a")
            except RuntimeError as exc:
                return web.Response(text=str(exc))
            return web.Response(text="no error")

        client: Client = await aiohttp_client(make_app([("GET", "/", unscoped)]))
        text = await (await client.get("/")).text()
        assert "with_flashbag" in text
        assert "FlashbagMixin" in text
        assert "flashbag_middleware" in text

    async def test_a_decorator_above_a_route_decorator_is_named(
        self, aiohttp_client: Any
    ) -> None:
        """``@with_flashbag`` above ``@routes.get(...)`` of a
        ``web.RouteTableDef`` wraps a function the route table has already
        registered undecorated: its requests open no scope. The error says
        where the decorator goes, so that the visitor of the page is not
        told to do what they did.
        """
        routes = web.RouteTableDef()

        @fb.with_flashbag
        @routes.get("/")
        async def page(request: web.Request) -> web.Response:
            try:
                fb.flash(request, "saved")
            except RuntimeError as exc:
                return web.Response(text=str(exc))
            return web.Response(text="no error")

        app = make_app([])
        app.add_routes(routes)
        client: Client = await aiohttp_client(app)
        text = await (await client.get("/")).text()
        assert "below the route decorator" in text, text

    @pytest.mark.parametrize(
        "call",
        [
            lambda r: fb.flashbag_set(r, "a", 1),
            lambda r: fb.flashbag_append(r, "a", 1),
            lambda r: fb.flashbag_replace_all(r, {}),
            lambda r: fb.flashbag_clear(r),
            lambda r: fb.flashbag_keep(r),
            lambda r: fb.flash(r, "m"),
            lambda r: fb.get_flashed_messages(r),
            lambda r: fb.get_flashbag(r),
        ],
    )
    def test_every_function_names_the_scopes(self, call: Any) -> None:
        from aiohttp.test_utils import make_mocked_request

        with pytest.raises(RuntimeError, match="No flash scope"):
            call(make_mocked_request("GET", "/"))


async def test_default_json_reads_where_aiohttp_session_keeps_the_codec() -> None:
    """docs/lifecycle.rst, "Bad input and faults": only aiohttp-session's
    own storages with their default JSON decoder take decode errors for bad
    data. aiohttp-session keeps the codec in private attributes, which
    ``default_json`` alone reads: this pins that they are where it keeps it.
    """
    import aiomcache
    from aiohttp.test_utils import make_mocked_request
    from aiohttp_session.cookie_storage import EncryptedCookieStorage
    from aiohttp_session.memcached_storage import MemcachedStorage
    from aiohttp_session.redis_storage import RedisStorage
    from redis import asyncio as aioredis

    redis = aioredis.Redis()  # never connected
    memcached = aiomcache.Client("127.0.0.1")  # never connected
    builds: list[Callable[..., AbstractStorage]] = [
        SimpleCookieStorage,
        functools.partial(EncryptedCookieStorage, b"k" * 32),
        functools.partial(RedisStorage, redis),
        functools.partial(MemcachedStorage, memcached),
    ]
    for build in builds:
        assert default_json(build())
        assert not default_json(build(decoder=lambda text: json.loads(text)))
        assert not default_json(build(encoder=functools.partial(json.dumps)))
    await redis.aclose()
    await memcached.close()

    used: list[str] = []

    def encoder(data: object) -> str:
        used.append("encoder")
        return json.dumps(data)

    def decoder(text: str) -> Any:
        used.append("decoder")
        return json.loads(text)

    storage = SimpleCookieStorage(encoder=encoder, decoder=decoder)
    assert not default_json(storage)
    session = Session(None, data=None, new=True)
    session["a"] = 1
    response = web.Response()
    await storage.save_session(make_mocked_request("GET", "/"), response, session)
    morsel = response.cookies[storage.cookie_name]
    request = make_mocked_request(
        "GET", "/", headers={"Cookie": f"{morsel.key}={morsel.coded_value}"}
    )
    loaded = await storage.load_session(request)
    assert loaded["a"] == 1
    assert used == ["encoder", "decoder"]


async def test_no_warning_from_this_package_while_handling_requests(
    aiohttp_client: Any,
) -> None:
    """Typed request keys where aiohttp has them: no NotAppKeyWarning."""
    import warnings

    class View(fb.FlashbagMixin, web.View):
        async def get(self) -> web.Response:
            return web.json_response(fb.get_flashed_messages(self.request))

    @fb.with_flashbag
    async def page(request: web.Request) -> web.Response:
        fb.flash(request, "m")
        return web.json_response(fb.flashbag_get(request, "a"))

    app = make_app([("GET", "/page", page), ("*", "/view", View)], middleware=True)
    client: Client = await aiohttp_client(app)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for path in ("/page", "/view", "/page"):
            assert (await client.get(path)).status == 200
    ours = [w for w in caught if "aiohttp_flashbag" in w.filename]
    assert ours == []


@pytest.mark.parametrize(
    "cookie",
    [
        "{not json",
        "[1, 2]",
        '{"session": "text"}',
        '{"created": "yesterday", "session": {}}',
        '"just a string"',
    ],
)
async def test_a_session_the_storage_cannot_load_starts_fresh(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, cookie: str
) -> None:
    client: Client = await aiohttp_client(ops_app())
    client.session.cookie_jar.update_cookies({COOKIE: cookie})
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get(
            "/scoped", headers=ops_headers([["get", "a"], ["flash", "new"]])
        )
    assert resp.status == 200
    assert json.loads(resp.headers["X-Results"]) == [None, None]
    assert any("fresh" in r.getMessage() for r in caplog.records)
    assert stored_bag(resp.cookies[COOKIE].value) == [1, {}, [["message", "new"]]]


class BuggyStorage(SimpleCookieStorage):
    """A custom storage whose load_session has a bug."""

    async def load_session(self, request: web.Request) -> Session:
        raise ValueError("a bug in a custom storage")


def failing_decoder(text: str) -> Any:
    raise ValueError("a bug in a custom decoder")


@pytest.mark.parametrize(
    "storage",
    [BuggyStorage(), SimpleCookieStorage(decoder=failing_decoder)],
    ids=["custom-storage", "custom-decoder"],
)
async def test_anything_else_raised_while_loading_propagates(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, storage: AbstractStorage
) -> None:
    """docs/lifecycle.rst, "Bad input and faults": a custom storage's or
    decoder's error is a 500, as without this library, never a fresh session
    (a ValueError included: only aiohttp-session's own storages with the
    default JSON decoder fail so on bad data).
    """
    client: Client = await aiohttp_client(ops_app(storage))
    session = {"created": 1, "session": {"login": "ann"}}
    client.session.cookie_jar.update_cookies({COOKIE: json.dumps(session)})
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get("/scoped", headers=ops_headers([["flash", "m"]]))
    assert resp.status == 500
    assert COOKIE not in resp.cookies  # the visitor stays logged in
    assert not [r for r in caplog.records if r.name == "aiohttp_flashbag"]


# == Bad input and faults: stored data =================================================
#
# Stored data never breaks a page.
#
# docs/lifecycle.rst, "Bad input and faults": a stored flash, in any stored
# format (the current ``{"__aiohttp_flashbag__": [2, {key: [set_at, value]},
# [[set_at, category, message]]]}``, the same list stored bare by earlier
# builds, the older ``[1, {values}, [[category, message]]]`` and 0.0.3's plain
# ``{key: value}``), holding what a write would refuse (a lone surrogate,
# nesting deeper than 32 levels, a dict key that is not a ``str``) is dropped
# when loaded, with a WARNING; the other flashes are read; never a 500.
#
# docs/lifecycle.rst, "Bounded life": data of 0.0.3 or of an older format
# carries no time. It is read as set now, and the next commit that writes
# stores it in the current format with that time, so it too expires after
# ``max_age``.


KEY = fb.DEFAULT_SESSION_KEY
FORMATS = ["current", "bare format 2", "format 1", "0.0.3"]


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def stored(form: str, values: dict[Any, Any], messages: list[tuple[Any, Any]]) -> Any:
    """``values`` and ``messages`` in a stored format, as set now."""
    now = int(time.time())
    if form in ("current", "bare format 2"):
        bare = [
            2,
            {key: [now, value] for key, value in values.items()},
            [[now, category, message] for category, message in messages],
        ]
        return {"__aiohttp_flashbag__": bare} if form == "current" else bare
    if form == "format 1":
        return [
            1,
            dict(values),
            [[category, message] for category, message in messages],
        ]
    assert form == "0.0.3"
    return dict(values)  # 0.0.3 had no messages


# -- the app -------------------------------------------------------------------


async def page(request: web.Request) -> web.StreamResponse:
    """Shows every incoming flash as text, as a template would; or, with
    ``X-End: 303``, redirects and so carries them all on.
    """
    if request.headers.get("X-End") == "303":
        raise web.HTTPSeeOther("/")
    bag = fb.get_flashbag(request)
    values = {key: fb.flashbag_get(request, key) for key in bag.incoming.values}
    messages = fb.get_flashed_messages(request, with_categories=True)
    body = json.dumps(
        {"values": values, "messages": [list(m) for m in messages]},
        ensure_ascii=False,
    )
    return web.Response(text=body)  # UTF-8, as every page is sent


def flash_app(storage: Any = None, **settings: Any) -> web.Application:
    return build_app(
        storage if storage is not None else SimpleCookieStorage(),
        {"/page": page},
        settings=settings or None,
    )


async def load(
    client: Client, caplog: pytest.LogCaptureFixture, **headers: str
) -> tuple[aiohttp.ClientResponse, list[str]]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get("/page", headers=headers, allow_redirects=False)
        await resp.read()
    return resp, flash_warnings(caplog)


GOOD_VALUES = {"good": "kept", "form": {"name": "Ann", "tags": [1, 2.5, None]}}
GOOD_MESSAGES = [("info", "kept message"), ("error", {"field": "name"})]


def expected(form: str) -> dict[str, Any]:
    return {
        "values": GOOD_VALUES,
        "messages": [] if form == "0.0.3" else [list(m) for m in GOOD_MESSAGES],
    }


# -- what a write refuses, stored by hand in a cookie --------------------------------

LONE = "\ud800"
REFUSED = {
    "lone surrogate": "a" + LONE,
    "surrogate inside": {"text": ["ok", "b\udfff"]},
    "surrogate in a key inside": {"c" + LONE: 1},
    "33 levels": nested(33),
    "deep dict": {"a": {"b": nested(40)}},
    "600 levels": nested(600),
}


def with_bad_value(form: str, bad: Any) -> Any:
    values = {**GOOD_VALUES, "bad": bad}
    return stored(form, values, [] if form == "0.0.3" else GOOD_MESSAGES)


@pytest.mark.parametrize("bad", list(REFUSED))
@pytest.mark.parametrize("form", FORMATS)
async def test_a_value_a_write_would_refuse_is_dropped(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, form: str, bad: str
) -> None:
    client: Client = await aiohttp_client(flash_app())
    put_simple_session(client, {"user": "ann", KEY: with_bad_value(form, REFUSED[bad])})
    resp, warnings = await load(client, caplog)
    assert resp.status == 200, await resp.text()
    assert json.loads(await resp.text()) == expected(form)
    assert warnings, "the dropped flash is logged at WARNING"


@pytest.mark.parametrize("bad", list(REFUSED))
@pytest.mark.parametrize("storage", ["encrypted cookie", "server-side"])
async def test_a_value_a_write_would_refuse_is_dropped_from_a_sealed_storage(
    aiohttp_client: Any,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
    bad: str,
    storage: str,
) -> None:
    """The current form, written into the session by the app itself (an
    unscoped handler) where the client cannot write: dropped all the same,
    "in any format" (docs/lifecycle.rst, "Bad input and faults").
    """

    async def write(request: web.Request) -> web.Response:
        session = await get_session(request)
        session[KEY] = with_bad_value("current", REFUSED[bad])
        return web.Response(text="written")

    sessions: AbstractStorage = FernetCookies().storage
    redis = None
    if storage == "server-side":
        port = request.getfixturevalue("redis_port")
        redis = aioredis.Redis(host="127.0.0.1", port=port, db=13)
        sessions = RedisStorage(redis)
    try:
        app = build_app(sessions, {"/page": page}, unscoped={"/write": write})
        client: Client = await aiohttp_client(app)
        assert (await client.get("/write")).status == 200
        resp, warnings = await load(client, caplog)
        assert resp.status == 200, await resp.text()
        assert json.loads(await resp.text()) == expected("current")
        assert warnings
    finally:
        if redis is not None:  # its connections, closed (not left to the GC)
            await redis.aclose()


@pytest.mark.parametrize("bad", list(REFUSED))
@pytest.mark.parametrize("form", ["current", "format 1"])
async def test_a_message_a_write_would_refuse_is_dropped(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, form: str, bad: str
) -> None:
    messages = [GOOD_MESSAGES[0], ("warning", REFUSED[bad]), GOOD_MESSAGES[1]]
    client: Client = await aiohttp_client(flash_app())
    put_simple_session(client, {KEY: stored(form, GOOD_VALUES, messages)})
    resp, warnings = await load(client, caplog)
    assert resp.status == 200, await resp.text()
    assert json.loads(await resp.text()) == expected(form)
    assert warnings


@pytest.mark.parametrize("form", FORMATS)
async def test_a_key_that_is_not_valid_text_is_dropped(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, form: str
) -> None:
    values = {**GOOD_VALUES, "bad" + LONE: "value"}
    messages = [] if form == "0.0.3" else GOOD_MESSAGES
    client: Client = await aiohttp_client(flash_app())
    put_simple_session(client, {KEY: stored(form, values, messages)})
    resp, warnings = await load(client, caplog)
    assert resp.status == 200, await resp.text()
    assert json.loads(await resp.text()) == expected(form)
    assert warnings


@pytest.mark.parametrize("form", ["current", "format 1"])
async def test_a_category_that_is_not_valid_text_is_dropped(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, form: str
) -> None:
    messages = [GOOD_MESSAGES[0], ("warn" + LONE, "text"), GOOD_MESSAGES[1]]
    client: Client = await aiohttp_client(flash_app())
    put_simple_session(client, {KEY: stored(form, GOOD_VALUES, messages)})
    resp, warnings = await load(client, caplog)
    assert resp.status == 200, await resp.text()
    assert json.loads(await resp.text()) == expected(form)
    assert warnings


@pytest.mark.parametrize("form", FORMATS)
async def test_a_redirect_stores_the_others_and_the_next_page_is_clean(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, form: str
) -> None:
    client: Client = await aiohttp_client(flash_app())
    put_simple_session(client, {"user": "ann", KEY: with_bad_value(form, "x" + LONE)})
    resp, warnings = await load(client, caplog, **{"X-End": "303"})
    assert resp.status == 303
    assert warnings
    value = sent_value(resp)
    assert value is not None
    assert "\\ud800" not in value  # not carried on
    assert json.loads(value)["session"]["user"] == "ann"
    resp, warnings = await load(client, caplog)
    assert resp.status == 200
    assert json.loads(await resp.text()) == expected(form)
    assert warnings == []  # nothing left to drop


def forged(client: Any, entry: str) -> None:
    """Put the session entry ``entry`` (raw JSON text, as an attacker writes
    it: Python's JSON reader takes ``NaN`` and ``Infinity``) in the jar.
    """
    created = json.dumps({"created": int(time.time()), "session": {}})
    raw = created.replace("{}", '{"aiohttp_flashbag": ' + entry + "}")
    client.session.cookie_jar.update_cookies(
        {COOKIE: raw}, response_url=client.make_url("/")
    )


@pytest.mark.parametrize(
    "value", ["NaN", "Infinity", "-Infinity", "[1, NaN]", '{"a": [Infinity]}']
)
async def test_bad_input_forged_non_finite_numbers_are_dropped_others_read(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    """docs/lifecycle.rst, "Bad input and faults": a stored flash holding what
    a write refuses (``nan`` and infinities, which JSON cannot hold) is
    dropped with a WARNING; the others are read; never a 500. In this
    library's form, in 0.0.3's, and in a lazy message's parameters.
    """
    now = int(time.time())
    client = await aiohttp_client(routes_app({"/show": show_incoming}))
    forged(
        client,
        (
            '{"MARKER": [2, {"bad": [NOW, BAD], "ok": [NOW, 1]}, [[NOW, "error", '
            'BAD], [NOW, "error", "n {x}", {"lazy": {"x": BAD}}], [NOW, "info", '
            '"fine"]]]}'
        )
        .replace("MARKER", MARKER)
        .replace("NOW", str(now))
        .replace("BAD", value),
    )
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        assert await shown(client) == {
            "values": {"ok": 1},
            "messages": [["info", "fine"]],
        }
    assert "Dropped 3 stored flash(es)" in caplog.text
    forged(client, '{"bad": BAD, "ok": 1}'.replace("BAD", value))  # 0.0.3's form
    assert await shown(client) == {"values": {"ok": 1}, "messages": []}


MISSHAPEN = {
    "a float as a time": "[NOW.5, X]",
    "true as a time": "[true, X]",
    "a negative time": "[-5, X]",
    "text as a time": '["NOW", X]',
    "true as the Markup mark": "[NOW, X, true]",
    "an extra field": "[NOW, X, 1, 2]",
    "no time": "[X]",
    "not a list": "X",
}


@pytest.mark.parametrize("shape", list(MISSHAPEN))
async def test_bad_input_forged_entry_shapes_are_dropped_others_read_times_kept(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, shape: str
) -> None:
    """docs/lifecycle.rst, "Bad input and faults": in a bag of this library's
    form, a flash whose entry has a shape this library never writes (a time
    that is not a whole number of seconds, a Markup mark that is not ``1``,
    a field more) is dropped with a WARNING; the others are read, and keep
    their times when they are carried; never a 500.
    """
    now = int(time.time())
    client = await aiohttp_client(
        routes_app({"/show": show_incoming, "/carry": carry}, middleware=True)
    )
    bad_value = MISSHAPEN[shape].replace("X", '"bad"')
    entry = '"error", "bad"' if MISSHAPEN[shape].startswith("[") else '"bad"'
    bad_message = MISSHAPEN[shape].replace("X", entry)
    forged(
        client,
        (
            '{"MARKER": [2, {"bad": BADV, "ok": [SET, 1]}, [BADM, '
            '[SET, "info", "fine"]]]}'
        )
        .replace("MARKER", MARKER)
        .replace("BADV", bad_value)
        .replace("BADM", bad_message)
        .replace("SET", str(now - 30))
        .replace("NOW", str(now)),
    )
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        resp = await client.get("/carry", allow_redirects=False)
        assert resp.status == 303
    assert "Dropped 2 stored flash(es)" in caplog.text
    assert raw_bag_in_jar(client) == {
        MARKER: [2, {"ok": [now - 30, 1]}, [[now - 30, "info", "fine"]]]
    }
    assert await shown(client) == {"values": {"ok": 1}, "messages": [["info", "fine"]]}


# -- what JSON cannot hold, kept by a custom storage ----------------------------------

NOT_FROM_JSON = {
    "int key": {1: "a"},
    "int key inside": [{"a": {2: "b"}}],
    "int and str key": {1: "x", "1": "y"},
    "None key": {None: "n"},
}


@pytest.mark.parametrize("bad", list(NOT_FROM_JSON))
@pytest.mark.parametrize("form", FORMATS)
async def test_a_dict_key_that_is_not_str_is_dropped(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, form: str, bad: str
) -> None:
    storage = MemoryStorage()
    client: Client = await aiohttp_client(flash_app(storage))
    storage.put(client, {KEY: with_bad_value(form, NOT_FROM_JSON[bad])})
    resp, warnings = await load(client, caplog)
    assert resp.status == 200, await resp.text()
    assert json.loads(await resp.text()) == expected(form)
    assert warnings


@pytest.mark.parametrize("form", ["current", "0.0.3"])
async def test_a_stored_key_that_is_not_str_is_dropped(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, form: str
) -> None:
    storage = MemoryStorage()
    client: Client = await aiohttp_client(flash_app(storage))
    values: dict[Any, Any] = {**GOOD_VALUES, 7: "seven"}
    storage.put(
        client, {KEY: stored(form, values, [] if form == "0.0.3" else GOOD_MESSAGES)}
    )
    resp, warnings = await load(client, caplog)
    assert resp.status == 200, await resp.text()
    assert json.loads(await resp.text()) == expected(form)
    assert warnings


# -- any JSON under the session key: never a 500 ---------------------------------------

NOW = int(time.time())
# Text of any code point, lone surrogates (which JSON carries as escapes) often.
TEXT = st.lists(
    st.one_of(st.sampled_from([LONE, "\udfff", "é", "\x00"]), st.characters()),
    max_size=6,
).map("".join)
LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),  # NaN and Infinity too: json.dumps writes them by default
    TEXT,
)
JSON = st.recursive(
    LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3)
    ),
    max_leaves=10,
)
VALUE = st.one_of(JSON, st.integers(25, 700).map(nested))
STAMP = st.one_of(st.just(NOW), st.integers(-5, 2**40), LEAF)
CURRENT_FORM = st.builds(
    lambda values, messages: [2, values, messages],
    st.dictionaries(
        TEXT,
        st.one_of(
            st.tuples(STAMP, VALUE).map(list),
            st.tuples(STAMP, VALUE, st.sampled_from([1, 0, True, "1"])).map(list),
            VALUE,
        ),
        max_size=3,
    ),
    st.lists(
        st.one_of(
            st.tuples(STAMP, TEXT, VALUE).map(list),
            st.tuples(STAMP, TEXT, VALUE, st.sampled_from([1, 0, True])).map(list),
            VALUE,
        ),
        max_size=3,
    ),
)
FORMAT_1 = st.builds(
    lambda values, messages: [1, values, messages],
    st.dictionaries(TEXT, VALUE, max_size=3),
    st.lists(st.one_of(st.tuples(TEXT, VALUE).map(list), VALUE), max_size=3),
)
STORED = st.one_of(
    CURRENT_FORM,
    FORMAT_1,
    st.dictionaries(TEXT, VALUE, max_size=4),  # 0.0.3's
    VALUE,
)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    # the cookie is sent by hand, however long: the server takes long headers
    served = Site(
        build_app(SimpleCookieStorage(), {"/page": page}, max_field_size=1 << 20)
    )
    yield served
    served.close()


def cookie_header(value: str) -> str:
    morsel: SimpleCookie = SimpleCookie()
    morsel[COOKIE] = value
    return f"{COOKIE}={morsel[COOKIE].coded_value}"


@settings(max_examples=150)
@given(data=STORED, end=st.sampled_from(["200", "303", "HEAD"]))
def test_any_json_under_the_session_key_is_never_a_500(
    site: Site, data: Any, end: str
) -> None:
    cookie = json.dumps({"created": NOW, "session": {"user": "ann", KEY: data}})

    async def visit() -> None:
        async with aiohttp.ClientSession() as client:
            method = "HEAD" if end == "HEAD" else "GET"
            async with client.request(
                method,
                site.url("/page"),
                headers={"Cookie": cookie_header(cookie), "X-End": end},
                allow_redirects=False,
            ) as resp:
                body = await resp.read()
                assert resp.status < 500, body[:300]
                after = sent_value(resp) or cookie
            async with client.get(
                site.url("/page"), headers={"Cookie": cookie_header(after)}
            ) as resp:
                body = await resp.read()
                assert resp.status < 500, body[:300]

    site.run(visit())


@pytest.mark.parametrize(
    "stamp", ["NaN", "Infinity", "-Infinity", "1e308", "1" + "0" * 400, "-5", "true"]
)
async def test_bad_input_forged_times_are_never_a_500(
    aiohttp_client: Any, stamp: str
) -> None:
    """docs/lifecycle.rst, "Bad input and faults": a stored bag that is not
    what this library writes (times that are not times) is never a 500; a
    time in the future counts as now.
    """
    client = await aiohttp_client(routes_app({"/show": show_incoming}))
    forged(
        client,
        '{"MARKER": [2, {"k": [T, "v"]}, [[T, "error", "m"]]]}'.replace(
            "MARKER", MARKER
        ).replace("T", stamp),
    )
    for _ in range(2):
        resp = await client.get("/show")
        assert resp.status == 200, await resp.text()
    assert (await shown(client)) == NOTHING_SHOWN


# -- data without a time expires all the same ------------------------------------------


async def carry(request: web.Request) -> web.Response:
    """Carries what came in, as the request says, showing nothing."""
    if request.headers.get("X-Keep"):
        fb.flashbag_keep(request)
        return web.Response(text="kept")
    raise web.HTTPSeeOther("/page")


LEGACY = {
    "0.0.3": {"notice": "old"},
    "format 1": [1, {"notice": "old"}, [["info", "old message"]]],
}


@pytest.mark.parametrize("later", [50, 70])
@pytest.mark.parametrize("how", ["redirect", "keep", "HEAD"])
@pytest.mark.parametrize("form", list(LEGACY))
async def test_data_without_a_time_expires_after_max_age(
    aiohttp_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    form: str,
    how: str,
    later: int,
) -> None:
    clock = Clock(monkeypatch)
    app = build_app(
        SimpleCookieStorage(),
        {"/page": page, "/carry": carry},
        settings={"max_age": 60},
    )
    client: Client = await aiohttp_client(app)
    put_simple_session(client, {KEY: LEGACY[form]})
    clock.offset = 5  # read as set now, and stored with that time
    if how == "HEAD":
        resp = await client.head("/carry", headers={"X-Keep": "1"})
    else:
        resp = await client.get(
            "/carry",
            headers={"X-Keep": "1"} if how == "keep" else {},
            allow_redirects=False,
        )
    assert resp.status in (200, 303)
    clock.offset = 5 + later
    shown = json.loads(await (await client.get("/page")).text())
    if later < 60:
        assert shown["values"] == {"notice": "old"}
    else:
        assert shown == {"values": {}, "messages": []}


# == Bad input and faults: a server-side storage without max_age =======================
#
# A server-side storage without ``max_age`` is warned about, once.
#
# docs/lifecycle.rst, "Bad input and faults": aiohttp-session's ``RedisStorage``
# and ``MemcachedStorage`` without a ``max_age`` keep an emptied session's
# record forever, and flashes create sessions for anonymous visitors (a form
# error). The first scope that sees such a storage logs a WARNING, once per
# storage instance, not once per request; with a ``max_age``, none.


async def form_error(request: web.Request) -> web.Response:
    """An anonymous visitor's form error: it makes a session."""
    fb.flash(request, "Name is required", "error")
    raise web.HTTPSeeOther("/show")


async def asset(request: web.Request) -> web.Response:
    return web.Response(text="asset")


def app_of(storage: AbstractStorage, kind: str) -> web.Application:
    return build_app(
        storage,
        {"/form": form_error, "/show": show},
        kind=kind,
        unscoped={"/asset": asset},
    )


def max_age_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [w for w in flash_warnings(caplog) if "max_age" in w]


@pytest.fixture
async def redis_client(redis_port: int) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis(host="127.0.0.1", port=redis_port)
    yield client
    await client.aclose()


@pytest.fixture
async def memcached_client(memcached_port: int) -> AsyncIterator[aiomcache.Client]:
    client = aiomcache.Client("127.0.0.1", memcached_port)
    yield client
    await client.close()


Make = Callable[..., AbstractStorage]


@pytest.fixture(params=["RedisStorage", "MemcachedStorage"])
def make_storage(request: pytest.FixtureRequest) -> Make:
    """A server-side storage of aiohttp-session, with the test's own records."""
    if request.param == "RedisStorage":
        client = request.getfixturevalue("redis_client")

        def redis(**kwargs: Any) -> AbstractStorage:
            return RedisStorage(client, cookie_name=f"S_{uuid.uuid4().hex}", **kwargs)

        return redis
    client = request.getfixturevalue("memcached_client")

    def memcached(**kwargs: Any) -> AbstractStorage:
        return MemcachedStorage(client, cookie_name=f"S_{uuid.uuid4().hex}", **kwargs)

    return memcached


@pytest.mark.parametrize("kind", SCOPES)
async def test_without_max_age_the_first_scope_warns_once(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, make_storage: Make, kind: str
) -> None:
    storage = make_storage()
    client: Client = await aiohttp_client(app_of(storage, kind))
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        assert (await client.get("/asset")).status == 200
        if kind != "middleware":  # an unscoped request sees no storage
            assert max_age_warnings(caplog) == []
        resp = await client.get("/form")
        assert (await resp.json())["messages"] == [["error", "Name is required"]]
        warnings = max_age_warnings(caplog)
        assert len(warnings) == 1, warnings
        for _ in range(3):  # more requests, more visitors: no more warnings
            await client.get("/form")
            other: Client = await aiohttp_client(client.server)
            await other.get("/form")
        assert len(max_age_warnings(caplog)) == 1


async def test_once_per_storage_instance(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, make_storage: Make
) -> None:
    first, second = make_storage(), make_storage()
    one: Client = await aiohttp_client(app_of(first, "decorator"))
    shared: Client = await aiohttp_client(app_of(first, "middleware"))
    two: Client = await aiohttp_client(app_of(second, "decorator"))
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        for client in (one, shared, one, shared):
            await client.get("/form")
        assert len(max_age_warnings(caplog)) == 1  # the same instance, twice
        for _ in range(2):
            await two.get("/form")
        assert len(max_age_warnings(caplog)) == 2


@pytest.mark.parametrize("kind", SCOPES)
async def test_with_max_age_no_warning(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, make_storage: Make, kind: str
) -> None:
    client: Client = await aiohttp_client(app_of(make_storage(max_age=3600), kind))
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        for _ in range(3):
            resp = await client.get("/form")
            assert resp.status == 200
    assert flash_warnings(caplog) == []


@pytest.mark.parametrize(
    "make",
    [SimpleCookieStorage, lambda: FernetCookies().storage],
    ids=["simple", "encrypted"],
)
async def test_cookie_storages_keep_no_record_and_get_no_warning(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, make: Make
) -> None:
    client: Client = await aiohttp_client(app_of(make(), "decorator"))
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        for _ in range(3):
            await client.get("/form")
    assert flash_warnings(caplog) == []


# == Bad input and faults: loading the session =========================================
#
# Loading the session: bad data is a fresh session, a bug is a 500.
#
# docs/lifecycle.rst, "Bad input and faults": a session the storage cannot load
# because its data is bad (a tampered cookie, JSON nested too deep to decode)
# gives a fresh session and a WARNING, never a 500. Only aiohttp-session's own
# storages with their default JSON decoder are known to fail so on bad data.
# Anything else raised while loading (a custom storage's or custom decoder's
# bug, a Redis client with ``decode_responses=True``) propagates unchanged, a
# 500 as without this library: never a silent fresh session that logs the
# visitor out. So the visitor's cookie is not replaced, even by a request that
# flashes.


# -- the app -------------------------------------------------------------------


def catching(errors: list[BaseException]) -> Any:
    """The outermost middleware: notes what the app raised, and re-raises it."""

    @web.middleware
    async def catch(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPException:
            raise
        except Exception as exc:
            errors.append(exc)
            raise
        return response

    return catch


async def flash_page(request: web.Request) -> web.Response:
    """A page that flashes: it would store a flash in a fresh session."""
    fb.flash(request, "Saved", "success")
    return web.Response(text="page")


async def log_in(request: web.Request) -> web.Response:
    session = await get_session(request)
    session["user"] = "ann"
    return web.Response(text="logged in")


async def plain(request: web.Request) -> web.Response:
    """A handler without this library: it loads the session itself."""
    session = await get_session(request)
    return web.Response(text=str(session.get("user")))


class Loads:
    """An app of ``storage`` whose scoped page flashes, and a plain one.

    ``flashing`` is the scoped app; ``without`` serves ``/plain`` without
    this library, for what the same storage raises there.
    """

    def __init__(self, storage: AbstractStorage, kind: str) -> None:
        self.errors: list[BaseException] = []
        self.baseline: list[BaseException] = []
        self.flashing = build_app(
            storage,
            {"/page": flash_page, "/show": show},
            kind=kind,
            first=[catching(self.errors)],
        )
        self.without = build_app(
            storage, {"/plain": plain}, kind=None, first=[catching(self.baseline)]
        )

    async def expect_the_storages_own_error(
        self, aiohttp_client: Any, cookie: str
    ) -> None:
        """The scoped page fails as the plain one does, and sends no cookie."""
        plain_client: Client = await aiohttp_client(self.without)
        put_cookie(plain_client, cookie)
        resp = await plain_client.get("/plain")
        assert resp.status == 500
        (expected,) = self.baseline

        client: Client = await aiohttp_client(self.flashing)
        put_cookie(client, cookie)
        for path in ("/page", "/show", "/page"):
            resp = await client.get(path)
            assert resp.status == 500, (path, await resp.text())
            assert sent_cookies(resp) == [], path  # the visitor's cookie stays
            assert jar_value(client) == cookie
        assert len(self.errors) == 3
        for error in self.errors:
            assert type(error) is type(expected)
            assert str(error) == str(expected)


# -- anything else raised while loading propagates ---------------------------------


@pytest.fixture
async def redis_clients(
    redis_port: int,
) -> AsyncIterator[tuple[aioredis.Redis, aioredis.Redis]]:
    """A correct client, and one with ``decode_responses=True``."""
    good = aioredis.Redis(host="127.0.0.1", port=redis_port)
    bad = aioredis.Redis(host="127.0.0.1", port=redis_port, decode_responses=True)
    yield good, bad
    await good.aclose()
    await bad.aclose()


@pytest.mark.parametrize("kind", SCOPES)
async def test_a_redis_client_that_decodes_responses_is_a_500(
    aiohttp_client: Any,
    redis_clients: tuple[aioredis.Redis, aioredis.Redis],
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    """The session was written by a correct client; then the app is deployed
    with a misconfigured one. Its load fails on every session: taking that
    for bad data would log every visitor out.
    """
    good, bad = redis_clients
    cookie_name = f"S_{uuid.uuid4().hex}"  # the test's own records
    writer: Client = await aiohttp_client(
        build_app(
            RedisStorage(good, cookie_name=cookie_name),
            {"/login": log_in},
            kind=kind,
        )
    )
    assert (await writer.get("/login")).status == 200
    identity = next(m.value for m in writer.session.cookie_jar if m.key == cookie_name)
    record = await good.get(f"{cookie_name}_{identity}")
    assert record is not None
    assert json.loads(record)["session"] == {"user": "ann"}

    loads = Loads(RedisStorage(bad, cookie_name=cookie_name), kind)
    client: Client = await aiohttp_client(loads.flashing)
    client.session.cookie_jar.update_cookies(
        {cookie_name: identity}, response_url=client.make_url("/")
    )
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get("/page")
    assert resp.status == 500, await resp.text()
    assert not any(
        header.startswith(cookie_name + "=")
        for header in resp.headers.getall("Set-Cookie", [])
    )
    assert len(loads.errors) == 1
    assert not any("fresh" in w for w in flash_warnings(caplog))
    # the visitor's session is as the correct client wrote it
    assert await good.get(f"{cookie_name}_{identity}") == record
    # and the page fails as a handler without this library does
    plain_client: Client = await aiohttp_client(loads.without)
    plain_client.session.cookie_jar.update_cookies(
        {cookie_name: identity}, response_url=plain_client.make_url("/")
    )
    assert (await plain_client.get("/plain")).status == 500
    assert type(loads.errors[0]) is type(loads.baseline[0])


class DecoderBug(Exception):
    """What a custom decoder of the app raises."""


@pytest.mark.parametrize(
    "error",
    [ValueError("not my format"), KeyError("version"), TypeError("x"), DecoderBug()],
    ids=["ValueError", "KeyError", "TypeError", "own-exception"],
)
@pytest.mark.parametrize("kind", SCOPES)
async def test_a_custom_decoder_that_raises_is_a_500(
    aiohttp_client: Any, kind: str, error: Exception
) -> None:
    """An EncryptedCookieStorage given the app's own ``decoder=``."""

    def decoder(text: str) -> Any:
        data = json.loads(text)
        if data["session"].get("user") == "ann":
            raise error
        return data

    key = Fernet.generate_key()
    storage = EncryptedCookieStorage(base64.urlsafe_b64decode(key), decoder=decoder)
    token = Fernet(key).encrypt(
        json.dumps({"created": 1, "session": {"user": "ann"}}).encode()
    )
    await Loads(storage, kind).expect_the_storages_own_error(
        aiohttp_client, token.decode()
    )


class RaisingStorage(AbstractStorage):
    """A custom storage whose load_session raises."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error
        self.saved: list[Session] = []

    async def load_session(self, request: web.Request) -> Session:
        if self.load_cookie(request) is None:
            return Session(None, data=None, new=True)
        raise self.error

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        self.saved.append(session)
        self.save_cookie(response, "new-session")


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad"),
        json.JSONDecodeError("bad", "{", 0),
        RecursionError("deep"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    ],
    ids=["ValueError", "JSONDecodeError", "RecursionError", "UnicodeDecodeError"],
)
@pytest.mark.parametrize("kind", SCOPES)
async def test_a_custom_storage_whose_load_raises_is_a_500(
    aiohttp_client: Any, kind: str, error: Exception
) -> None:
    """Even an error that looks like bad data: the custom code decides."""
    storage = RaisingStorage(error)
    await Loads(storage, kind).expect_the_storages_own_error(
        aiohttp_client, "visitor-session"
    )
    assert storage.saved == []


class StrictSimpleCookieStorage(SimpleCookieStorage):
    """A subclass of aiohttp-session's storage with a load_session of its own."""

    async def load_session(self, request: web.Request) -> Session:
        session = await super().load_session(request)
        if "user" in session and not isinstance(session["user"], dict):
            raise ValueError("an old session layout")
        return session


@pytest.mark.parametrize("kind", SCOPES)
async def test_a_subclass_with_its_own_load_that_raises_is_a_500(
    aiohttp_client: Any, kind: str
) -> None:
    cookie = json.dumps({"created": 1, "session": {"user": "ann"}})
    await Loads(StrictSimpleCookieStorage(), kind).expect_the_storages_own_error(
        aiohttp_client, cookie
    )


class CookieReadingBug(SimpleCookieStorage):
    """A subclass that changes only how the cookie is read, with a bug."""

    def load_cookie(self, request: web.Request) -> Any:
        cookie = super().load_cookie(request)
        if cookie is None:
            return None
        return cookie + 1  # type: ignore[operator]  # the bug: TypeError


@pytest.mark.parametrize("kind", SCOPES)
async def test_a_subclass_with_its_own_load_cookie_that_raises_is_a_500(
    aiohttp_client: Any, kind: str
) -> None:
    """Only a storage's own, unchanged loading code is trusted to fail on bad
    data: a TypeError of the subclass's code is a bug, not a bad cookie.
    """
    cookie = json.dumps({"created": 1, "session": {"user": "ann"}})
    await Loads(CookieReadingBug(), kind).expect_the_storages_own_error(
        aiohttp_client, cookie
    )


# -- bad data of aiohttp-session's own storages is a fresh session -----------------


def nested_json(depth: int) -> str:
    """A session whose JSON is nested too deep for ``json.loads``."""
    return '{"created": 1, "session": {"user": "eve", "x": ' + (
        "[" * depth + "]" * depth + "}}"
    )


async def expect_a_fresh_session(
    client: Client,
    caplog: pytest.LogCaptureFixture,
    *,
    logger: str | None,
    cookie: str | None = None,
) -> None:
    """The scoped page is a 200 with a fresh session, logged at WARNING.

    ``cookie``: the session cookie, sent by hand (the client's jar would not
    take one over 4096 bytes).
    """
    headers = {} if cookie is None else {"Cookie": f"{COOKIE}={cookie}"}
    with caplog.at_level(logging.WARNING):
        resp = await client.get("/page", headers=headers)
    assert resp.status == 200, await resp.text()
    warnings = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and (logger is None or r.name == logger)
    ]
    assert warnings, "a fresh session is logged at WARNING"
    # the flash went into the fresh session, and the next page shows it
    shown = await (await client.get("/show")).json()
    assert shown["messages"] == [["success", "Saved"]]


@pytest.mark.parametrize("kind", SCOPES)
async def test_a_tampered_encrypted_cookie_is_a_fresh_session(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    storage = EncryptedCookieStorage(base64.urlsafe_b64decode(Fernet.generate_key()))
    app = build_app(storage, {"/page": flash_page, "/show": show}, kind=kind)
    client: Client = await aiohttp_client(app)
    other_key = Fernet(Fernet.generate_key())
    put_cookie(client, other_key.encrypt(b'{"session": {"user": "eve"}}').decode())
    await expect_a_fresh_session(client, caplog, logger=None)


@pytest.mark.parametrize("kind", SCOPES)
async def test_json_too_deep_in_an_encrypted_cookie_is_a_fresh_session(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    key = Fernet.generate_key()
    storage = EncryptedCookieStorage(base64.urlsafe_b64decode(key))
    token = Fernet(key).encrypt(nested_json(20_000).encode()).decode()
    app = build_app(
        storage,
        {"/page": flash_page, "/show": show},
        kind=kind,
        max_field_size=2 * len(token),
    )
    client: Client = await aiohttp_client(app)
    await expect_a_fresh_session(
        client, caplog, logger="aiohttp_flashbag", cookie=token
    )


@pytest.mark.parametrize("kind", SCOPES)
async def test_json_too_deep_in_redis_is_a_fresh_session(
    aiohttp_client: Any,
    redis_clients: tuple[aioredis.Redis, aioredis.Redis],
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    good, _ = redis_clients
    cookie_name = f"S_{uuid.uuid4().hex}"
    storage = RedisStorage(good, cookie_name=cookie_name, max_age=60)
    app = build_app(storage, {"/page": flash_page, "/show": show}, kind=kind)
    client: Client = await aiohttp_client(app)
    await good.set(f"{cookie_name}_visitor", nested_json(100_000))
    client.session.cookie_jar.update_cookies(
        {cookie_name: "visitor"}, response_url=client.make_url("/")
    )
    await expect_a_fresh_session(client, caplog, logger="aiohttp_flashbag")


async def flash_and_download(request: web.Request) -> web.FileResponse:
    fb.flash(request, "Exported", "success")
    return web.FileResponse(__file__)


async def flash_and_stream(request: web.Request) -> web.StreamResponse:
    fb.flash(request, "Exported", "success")
    resp = web.StreamResponse()
    await resp.prepare(request)
    await resp.write(b"streamed")
    return resp


@pytest.mark.parametrize("with_setup", [False, True], ids=["", "setup"])
@pytest.mark.parametrize("kind", SCOPES)
@pytest.mark.parametrize("page", [flash_page, flash_and_download, flash_and_stream])
async def test_json_nested_just_shallow_enough_to_load_is_never_a_500(
    aiohttp_client: Any, page: Any, kind: str, with_setup: bool
) -> None:
    """A tampered plain cookie nested just shallow enough for ``json.loads``
    when the session loads may be too deep for ``json.dumps`` a few calls
    deeper, where the cookie guard measures the cookie or the scope saves
    the session into a download or a stream: the cookie is left as it is,
    with a WARNING, and the page goes on, never a 500. Every depth from well
    below the interpreter's limit to past it is tried, so that the few
    depths in between are met whatever the interpreter and the scope.
    """
    app = build_app(
        SimpleCookieStorage(),
        {"/page": page},
        kind=kind,
        settings={} if with_setup else None,
    )
    client: Client = await aiohttp_client(app)
    limit = sys.getrecursionlimit()
    failed = []
    for depth in range(limit - 120, limit + 5):
        client.session.cookie_jar.clear()  # the visitor's own cookie only
        cookie: SimpleCookie = SimpleCookie()
        cookie[COOKIE] = nested_json(depth)
        try:
            async with client.get(
                "/page", headers={"Cookie": cookie.output(attrs=[], header="")[1:]}
            ) as resp:
                await resp.read()
                ok = resp.status < 500
        except aiohttp.ClientError:  # the response broke off while it was sent
            ok = False
        if not ok:
            failed.append(depth)
    assert failed == []


@pytest.mark.parametrize("kind", SCOPES)
async def test_a_misshapen_entry_nested_deep_is_never_a_500(
    aiohttp_client: Any, kind: str
) -> None:
    """docs/lifecycle.rst, "Bad input and faults": a flash whose entry has a
    shape this library never writes is dropped with a WARNING that names it
    without writing it out, so an entry nested as deep as ``json.loads``
    takes is never a 500. Every depth up to past the interpreter's limit is
    tried.
    """
    app = build_app(SimpleCookieStorage(), {"/page": flash_page}, kind=kind)
    client: Client = await aiohttp_client(app)
    limit = sys.getrecursionlimit()
    failed = []
    for depth in range(limit - 120, limit + 5):
        client.session.cookie_jar.clear()
        cookie: SimpleCookie = SimpleCookie()
        deep = "[" * depth + "]" * depth
        bag = '{"MARKER": [2, {}, [DEEP]]}'.replace("MARKER", MARKER)
        session = '{"created": 1, "session": {"aiohttp_flashbag": BAG}}'
        cookie[COOKIE] = session.replace("BAG", bag).replace("DEEP", deep)
        async with client.get(
            "/page", headers={"Cookie": cookie.output(attrs=[], header="")[1:]}
        ) as resp:
            await resp.read()
            if resp.status >= 500:
                failed.append(depth)
    assert failed == []


@pytest.mark.parametrize("kind", SCOPES)
async def test_a_simple_cookie_that_is_not_a_session_is_a_fresh_session(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    app = build_app(
        SimpleCookieStorage(), {"/page": flash_page, "/show": show}, kind=kind
    )
    client: Client = await aiohttp_client(app)
    put_cookie(client, '{"session": "text"}')
    await expect_a_fresh_session(client, caplog, logger="aiohttp_flashbag")


@pytest.mark.parametrize(
    "cookie",
    [
        "k" * 300,  # a sealed cookie of a storage used before, say
        "with\u00a0space",
    ],
)
async def test_faults_memcached_cookie_no_record_key_can_be_is_a_fresh_session(
    aiohttp_client: Any,
    memcached_port: int,
    caplog: pytest.LogCaptureFixture,
    cookie: str,
) -> None:
    """docs/lifecycle.rst, "Bad input and faults": a session the storage
    cannot load because its data is bad (a tampered cookie) is a fresh
    session, logged at WARNING, never a 500. MemcachedStorage makes the
    record's key of the cookie, and memcached takes no key over 250 bytes
    or with white space: such a cookie is bad data.
    """
    import aiomcache
    from aiohttp_session.memcached_storage import MemcachedStorage

    memcached = aiomcache.Client("127.0.0.1", memcached_port)

    @fb.with_flashbag
    async def save(request: web.Request) -> web.StreamResponse:
        fb.flash(request, "saved")
        return redirect_to_show()

    storage = MemcachedStorage(memcached, max_age=60)
    client = await aiohttp_client(
        routes_app({"/save": save, "/show": show_incoming}, storage=storage)
    )
    client.session.cookie_jar.update_cookies(
        {COOKIE: cookie}, response_url=client.make_url("/")
    )
    try:
        with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
            resp = await client.post("/save", allow_redirects=False)
            assert resp.status == 303, await resp.text()
        assert "Cannot load the session" in caplog.text
        assert (await shown(client))["messages"] == [["message", "saved"]]
    finally:
        await memcached.close()


# == Bad input and faults: dict keys that are not str ==================================
#
# A dict key that is not a ``str``, anywhere in a value, is refused at the call.
#
# docs/lifecycle.rst, "Bad input and faults": JSON would turn the key ``1``
# into ``"1"``, or merge ``1`` and ``"1"`` into one key, so the next request
# would read something else than what was set. ``flashbag_set``,
# ``flashbag_append``, ``flashbag_replace_all`` and ``flash`` raise
# ``TypeError`` at the call, and outgoing is unchanged.


BAD: dict[str, Any] = {
    "int key": {1: "a"},
    "inside a list": [{"a": {2: "b"}}],
    "int and str key": {1: "x", "1": "y"},
    "None key": {None: "n"},
    "bool key": {True: "t"},
    "float key": {1.5: "f"},
    "deep inside": {"a": [{"b": [{"c": {3: "d"}}]}]},
}

CALLS: dict[str, Callable[[web.Request, Any], None]] = {
    "flashbag_set": lambda r, v: fb.flashbag_set(r, "k", v),
    "flashbag_append": lambda r, v: fb.flashbag_append(r, "list", v),
    "flashbag_replace_all": lambda r, v: fb.flashbag_replace_all(r, {"ok": 1, "k": v}),
    "flash": lambda r, v: fb.flash(r, v, "info"),
    "flash now": lambda r, v: fb.flash(r, v, "info", now=True),
    "Flashbag.set": lambda r, v: fb.get_flashbag(r).set("k", v),
}


def attempt(request: web.Request, call: str, value: Any) -> str:
    """The call with ``value``: ``"TypeError"`` if refused, outgoing unchanged."""
    before = fb.get_flashbag(request).outgoing
    try:
        CALLS[call](request, value)
    except TypeError:
        assert fb.get_flashbag(request).outgoing == before
        return "TypeError"
    return "accepted"


@pytest.mark.parametrize("bad", list(BAD))
@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("kind", SCOPES)
async def test_a_key_that_is_not_str_is_refused_at_the_call(
    aiohttp_client: Any, kind: str, call: str, bad: str
) -> None:
    async def handler(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "ok", 1)
        fb.flashbag_append(request, "list", "first")
        fb.flash(request, "fine")
        result = attempt(request, call, BAD[bad])
        raise web.HTTPSeeOther("/show", text=result)

    client: Client = await aiohttp_client(
        build_app(SimpleCookieStorage(), {"/": handler, "/show": show}, kind=kind)
    )
    resp = await client.get("/", allow_redirects=False)
    assert resp.status == 303
    assert await resp.text() == "TypeError"
    assert await (await client.get("/show")).json() == {
        "values": {"ok": 1, "list": ["first"]},
        "messages": [["message", "fine"]],
    }


# -- generated ---------------------------------------------------------------------

KEYS = st.one_of(
    st.text(max_size=3),
    st.integers(-3, 3),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
)
VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3)),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3)
    ),
    max_leaves=8,
)


def has_other_keys(value: Any) -> bool:
    """Is there a dict key that is not a ``str`` anywhere in ``value``?"""
    if isinstance(value, dict):
        return any(not isinstance(key, str) for key in value) or any(
            has_other_keys(item) for item in value.values()
        )
    if isinstance(value, list):
        return any(has_other_keys(item) for item in value)
    return False


#: Values handed to the handler by the test (they cannot travel as JSON).
PENDING: dict[str, Any] = {}


async def try_set(request: web.Request) -> web.Response:
    value = PENDING.pop(request.headers["X-Id"])
    result = attempt(request, request.headers["X-Call"], value)
    raise web.HTTPSeeOther("/show", text=result)


@pytest.fixture(scope="module")
def keys_site() -> Iterator[Site]:
    served = Site(build_app(SimpleCookieStorage(), {"/": try_set, "/show": show}))
    yield served
    served.close()


@settings(max_examples=100)
@given(value=VALUES, call=st.sampled_from(["flashbag_set", "flash"]))
def test_refused_exactly_when_some_key_is_not_str(
    keys_site: Site, value: Any, call: str
) -> None:
    ident = uuid.uuid4().hex
    PENDING[ident] = value

    async def visit() -> tuple[str, Any]:
        jar = aiohttp.CookieJar(unsafe=True)  # cookies of 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as client:
            async with client.get(
                keys_site.url("/"),
                headers={"X-Id": ident, "X-Call": call},
                allow_redirects=False,
            ) as resp:
                result = await resp.text()
            async with client.get(keys_site.url("/show")) as resp:
                return result, await resp.json()

    result, shown = keys_site.run(visit())
    if has_other_keys(value):
        assert result == "TypeError"
        assert shown == {"values": {}, "messages": []}
    else:
        assert result == "accepted"
        if call == "flash":
            assert shown["messages"] == [["info", value]]
        else:
            assert shown["values"] == {"k": value}


# == Bad input and faults: tampered cookies ============================================
#
# Tampered and garbage cookies on the cookie storages, generated by Hypothesis.
#
# Whatever the cookie, the page answers (never a 500); the session is either
# intact (same user, same flashes) or fresh (nothing), never half of each.


@fb.with_flashbag
async def start(request: web.Request) -> web.Response:
    (await get_session(request))["user"] = "ann"
    fb.flashbag_set(request, "form", {"name": "Ann", "tags": [1, 2]})
    fb.flash(request, "Saved", "success")
    fb.flash(request, "Check your mail", "info")
    raise web.HTTPSeeOther("/show")


@fb.with_flashbag
async def show_visitor(request: web.Request) -> web.Response:
    session = await get_session(request)
    return web.json_response(
        {
            "user": session.get("user"),
            "form": fb.flashbag_get(request, "form"),
            "messages": fb.get_flashed_messages(request, with_categories=True),
        }
    )


INTACT = {
    "user": "ann",
    "form": {"name": "Ann", "tags": [1, 2]},
    "messages": [["success", "Saved"], ["info", "Check your mail"]],
}
FRESH: dict[str, Any] = {"user": None, "form": None, "messages": []}


@dataclass
class TamperedSite:
    loop: asyncio.AbstractEventLoop
    server: TestServer
    client: aiohttp.ClientSession
    cookie: str  # the valid cookie value, decoded

    def show(self, cookie_value: str) -> tuple[int, Any]:
        morsel: SimpleCookie = SimpleCookie()
        morsel[COOKIE] = cookie_value
        header = f"{COOKIE}={morsel[COOKIE].coded_value}"

        async def go() -> tuple[int, Any]:
            async with self.client.get(
                self.server.make_url("/show"), headers={"Cookie": header}
            ) as resp:
                body = await resp.text()
                return resp.status, json.loads(body) if resp.status == 200 else body

        return self.loop.run_until_complete(go())


def open_site(storage: AbstractStorage) -> TamperedSite:
    loop = asyncio.new_event_loop()
    app = make_app(
        [("POST", "/start", start), ("GET", "/show", show_visitor)], storage=storage
    )
    server = TestServer(app, host="127.0.0.1")
    loop.run_until_complete(server.start_server())

    async def first_visit() -> tuple[aiohttp.ClientSession, str]:
        client = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        async with client.post(server.make_url("/start"), allow_redirects=False) as r:
            assert r.status == 303
            return client, r.cookies[COOKIE].value

    client, cookie = loop.run_until_complete(first_visit())
    return TamperedSite(loop, server, client, cookie)


def close_site(site: TamperedSite) -> None:
    site.loop.run_until_complete(site.client.close())
    site.loop.run_until_complete(site.server.close())
    site.loop.close()


@pytest.fixture(scope="module")
def simple_site() -> Iterator[TamperedSite]:
    site = open_site(SimpleCookieStorage())
    yield site
    close_site(site)


@pytest.fixture(scope="module")
def encrypted_site() -> Iterator[TamperedSite]:
    site = open_site(FernetCookies().storage)
    yield site
    close_site(site)


PRINTABLE = st.sampled_from(string.printable.strip() + " ")
PLAIN = st.sampled_from(string.ascii_letters + string.digits)


@st.composite
def tampered(draw: st.DrawFn, original: str) -> str:
    kind = draw(st.sampled_from(["flip", "truncate", "random", "oversized", "splice"]))
    if kind == "flip":
        at = draw(st.integers(0, len(original) - 1))
        return original[:at] + draw(PRINTABLE) + original[at + 1 :]
    if kind == "truncate":
        return original[: draw(st.integers(0, len(original) - 1))]
    if kind == "random":
        return draw(st.text(PRINTABLE, max_size=300))
    if kind == "oversized":  # past what browsers keep (4096), within aiohttp's 8190
        return original + draw(PLAIN) * draw(st.integers(4096, 6000))
    at = draw(st.integers(0, len(original)))
    return (
        original[:at]
        + draw(st.text(PRINTABLE, min_size=1, max_size=20))
        + original[at:]
    )


def test_the_untouched_cookies_are_intact(
    simple_site: TamperedSite, encrypted_site: TamperedSite
) -> None:
    assert simple_site.show(simple_site.cookie) == (200, INTACT)
    assert encrypted_site.show(encrypted_site.cookie) == (200, INTACT)


@given(data=st.data())
def test_tampered_encrypted_cookie_is_fresh_or_intact(
    encrypted_site: TamperedSite, data: st.DataObject
) -> None:
    cookie = data.draw(tampered(encrypted_site.cookie))
    status, body = encrypted_site.show(cookie)
    assert status == 200, body
    if cookie == encrypted_site.cookie:
        assert body == INTACT
    else:  # a changed token almost never decrypts; if it does it is the same
        assert body in (FRESH, INTACT)


@given(data=st.data())
def test_tampered_simple_cookie_never_breaks_the_page(
    simple_site: TamperedSite, data: st.DataObject
) -> None:
    cookie = data.draw(tampered(simple_site.cookie))
    status, body = simple_site.show(cookie)
    assert status == 200, body
    try:
        parsed = json.loads(cookie)
    except ValueError:
        parsed = None
    if parsed == json.loads(simple_site.cookie):
        assert body == INTACT  # e.g. a change in white space only
    elif parsed is None:
        assert body == FRESH


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


@given(entry=JSON_VALUES)
def test_a_flashbag_of_the_wrong_shape_is_ignored(
    simple_site: TamperedSite, entry: Any
) -> None:
    data = json.loads(simple_site.cookie)
    data["session"]["aiohttp_flashbag"] = entry
    status, body = simple_site.show(json.dumps(data))
    assert status == 200, body
    assert body["user"] == "ann"  # the rest of the session is intact
    if isinstance(entry, dict):  # aiohttp-flashbag 0.0.3's format: values
        assert body["form"] == entry.get("form")
        assert body["messages"] == []
    elif entry is None:
        assert body == {**FRESH, "user": "ann"}
    elif not (isinstance(entry, list) and entry[:1] == [1] and entry[0] is not True):
        assert body == {**FRESH, "user": "ann"}  # not our format: ignored


async def test_faults_tampered_nacl_cookie_is_a_fresh_session_and_markup_trusted(
    aiohttp_client: Any,
) -> None:
    """docs/lifecycle.rst, "Bad input and faults": a tampered sealed cookie
    is a fresh session, never a 500; docs/safe-html.rst: a sealed cookie
    cannot be forged, so ``Markup`` comes back as ``Markup``.
    """

    @fb.with_flashbag
    async def save(request: web.Request) -> web.StreamResponse:
        fb.flash(request, Markup("<b>Saved</b>"))
        return redirect_to_show()

    @fb.with_flashbag
    async def read(request: web.Request) -> web.Response:
        return web.json_response(
            [[type(m).__name__, m] for m in fb.get_flashed_messages(request)]
        )

    app = routes_app({"/save": save, "/read": read}, storage=nacl_storage())
    client = await aiohttp_client(app)
    for tampered in ["garbage", "AAAA", "!!!!", "a" * 100]:
        client.session.cookie_jar.update_cookies(
            {COOKIE: tampered}, response_url=client.make_url("/")
        )
        resp = await client.get("/read")
        assert resp.status == 200, (tampered, await resp.text())
    await client.post("/save", allow_redirects=False)
    assert await (await client.get("/read")).json() == [["Markup", "<b>Saved</b>"]]


# == Bad input and faults, tried as an attacker would ==================================
#
# Nothing lost, nothing leaked, never a broken session: tried over real HTTP as an
# attacker and a careless user would.


# -- bad input ---------------------------------------------------------------------


BAD_CALLS: dict[str, Callable[[web.Request], None]] = {
    "value": lambda r: fb.flashbag_set(r, "k", "a" + LONE),
    "nested value": lambda r: fb.flashbag_set(r, "k", {"x": [1, {"y": LONE}]}),
    "nested key": lambda r: fb.flashbag_set(r, "k", {"x" + LONE: 1}),
    "key": lambda r: fb.flashbag_set(r, LONE, 1),
    "appended": lambda r: fb.flashbag_append(r, "k", [LONE]),
    "append key": lambda r: fb.flashbag_append(r, "k" + LONE, 1),
    "replace_all key": lambda r: fb.flashbag_replace_all(r, {"ok": 1, LONE: 1}),
    "replace_all value": lambda r: fb.flashbag_replace_all(r, {"ok": [LONE]}),
    "message": lambda r: fb.flash(r, "Hello " + LONE),
    "now message": lambda r: fb.flash(r, "Hello " + LONE, now=True),
    "nested message": lambda r: fb.flash(r, {"text": [LONE]}),
    "category": lambda r: fb.flash(r, "Hello", "info" + LONE),
    "keep": lambda r: fb.flashbag_keep(r, "k" + LONE),
    "33 levels": lambda r: fb.flashbag_set(r, "k", nested(33)),
    "1000 levels": lambda r: fb.flashbag_set(r, "k", nested(1000)),
    "100000 levels": lambda r: fb.flashbag_set(r, "k", nested(100_000)),
    "deep dict": lambda r: fb.flashbag_set(r, "k", {"a": {"b": nested(40)}}),
    "deep message": lambda r: fb.flash(r, nested(50)),
    "deep append": lambda r: fb.flashbag_append(r, "k", nested(32)),
    "deep replace_all": lambda r: fb.flashbag_replace_all(r, {"k": nested(33)}),
}


def cycle() -> Any:
    value: list[Any] = [1]
    value.append(value)
    return value


BAD_CALLS["cycle"] = lambda r: fb.flashbag_set(r, "k", cycle())


@pytest.mark.parametrize("name", list(BAD_CALLS))
async def test_bad_input_is_refused_at_the_call(aiohttp_client: Any, name: str) -> None:
    @fb.with_flashbag
    async def handler(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "ok", 1)
        fb.flash(request, "fine")
        before = fb.get_flashbag(request).outgoing
        try:
            BAD_CALLS[name](request)
        except TypeError as exc:
            assert fb.get_flashbag(request).outgoing == before
            return web.Response(text=f"TypeError: {exc}")
        return web.Response(text="accepted")

    client: Client = await aiohttp_client(
        make_app([("GET", "/", handler), ("GET", "/show", show_session)])
    )
    resp = await client.get("/")
    assert resp.status == 200
    text = await resp.text()
    assert text.startswith("TypeError: ")
    assert "flash" in text  # names the call
    assert "Recursion" not in text
    assert await (await client.get("/show")).json() == {
        **NOTHING,
        "values": {"ok": 1},
        "messages": [["message", "fine"]],
    }
    assert (await client.get("/show")).status == 200  # and the page after it


async def test_32_levels_of_nesting_are_accepted(aiohttp_client: Any) -> None:
    @fb.with_flashbag
    async def handler(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "k", nested(32))
        fb.flashbag_append(request, "l", nested(31))
        raise web.HTTPSeeOther("/show")

    client: Client = await aiohttp_client(
        make_app([("GET", "/", handler), ("GET", "/show", show_session)])
    )
    shown = await (await client.get("/")).json()
    assert shown["values"] == {"k": nested(32), "l": [nested(31)]}


def test_the_error_names_the_call_and_the_key() -> None:
    bag = fb.Flashbag()
    with pytest.raises(TypeError, match=r"flashbag_set\('draft'\)"):
        bag.set("draft", {"text": LONE})
    with pytest.raises(TypeError, match=r"flashbag_set\('draft'\).*32"):
        bag.set("draft", nested(33))
    with pytest.raises(TypeError, match=r"flash\('warning'\)"):
        bag.flash(LONE, "warning")
    assert bag.outgoing == ({}, [])


# -- faults ------------------------------------------------------------------------


HUGE = 100_000


@pytest.mark.parametrize(
    "stored",
    [
        [2, {"k" * HUGE + LONE: [1_700_000_000, 1]}, []],
        [2, {"k": [1_700_000_000, "v" * HUGE + LONE]}, []],
        [2, {}, [[1_700_000_000, "c" * HUGE + LONE, "text"]]],
        [2, {}, [[1_700_000_000, "info", ["t" * HUGE + LONE]]]],
    ],
    ids=["key", "value", "category", "message"],
)
def test_a_warning_names_a_huge_stored_flash_briefly(
    caplog: pytest.LogCaptureFixture, stored: Any
) -> None:
    """docs/lifecycle.rst, "Bad input and faults": a dropped flash is named in
    a WARNING, by the start of its key or text: a key or a text made of form
    input never floods the log.
    """
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        loaded = decode({"__aiohttp_flashbag__": stored}, 1_700_000_000, None)
    assert loaded is not None
    assert loaded.flashes == []
    [warning] = caplog.records
    assert "Dropped 1" in warning.getMessage()
    assert len(warning.getMessage()) < 500


@pytest.mark.parametrize("call", ["key", "category"])
async def test_a_warning_names_a_huge_flash_that_gave_way_briefly(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, call: str
) -> None:
    """docs/sizes.rst: a flash over ``max_bytes`` gives way with a WARNING
    that names it by the start of its key or category.
    """

    @fb.with_flashbag
    async def handler(request: web.Request) -> web.Response:
        if call == "key":
            fb.flashbag_set(request, "k" * HUGE, 1)
        else:
            fb.flash(request, "text", "c" * HUGE)
        raise web.HTTPSeeOther("/show")

    client: Client = await aiohttp_client(
        make_app([("GET", "/", handler), ("GET", "/show", show_session)])
    )
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        assert (await client.get("/")).status == 200
    [warning] = [r for r in caplog.records if "Dropped" in r.getMessage()]
    assert len(warning.getMessage()) < 500


def login_app(storage: AbstractStorage | None = None, **kwargs: Any) -> web.Application:
    @fb.with_flashbag
    async def page(request: web.Request) -> web.Response:
        if "flash" in request.query:
            fb.flash(request, "new")
        return web.Response(text="page")

    return make_app(
        [("GET", "/", page), ("GET", "/show", show_session)], storage=storage, **kwargs
    )


# Too deep for json.loads on every supported Python (3.13 decodes 3,000).
@pytest.mark.parametrize("depth", [20_000, 100_000])
async def test_json_nested_too_deep_in_a_simple_cookie_is_a_fresh_session(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, depth: int
) -> None:
    @fb.with_flashbag
    async def page(request: web.Request) -> web.Response:
        assert len(request.cookies[COOKIE]) > 2 * depth  # it did arrive
        fb.flash(request, "new")
        return web.Response(text="page")

    # aiohttp refuses header lines over 8190 bytes unless told otherwise
    app = web.Application(handler_args={"max_field_size": 4 * depth})
    setup_session(app, SimpleCookieStorage())
    app.router.add_get("/", page)
    app.router.add_get("/show", show_session)
    client: Client = await aiohttp_client(app)
    tampered: SimpleCookie = SimpleCookie()
    tampered[COOKIE] = '{"created": 1, "session": {"user": "eve", "x": ' + (
        "[" * depth + "]" * depth + "}}"
    )
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get(
            "/", headers={"Cookie": f"{COOKIE}={tampered[COOKIE].coded_value}"}
        )
    assert resp.status == 200, await resp.text()
    assert any("fresh" in message for message in library_warnings(caplog))
    session = set_cookie_session(resp)
    assert session is not None
    assert "user" not in session
    assert await (await client.get("/show")).json() == {
        **NOTHING,
        "messages": [["message", "new"]],
    }


@pytest.mark.parametrize(
    "garbage",
    [None, "garbage", 42, [3, {}, []], [2, {"k": "not an entry"}, []], {"1": 1}],
    ids=["null", "str", "int", "version-3", "bad-entry", "dict-ok"],
)
@pytest.mark.parametrize("end", ["page", "redirect", "reads"])
async def test_garbage_under_the_session_key_is_warned_once_and_removed(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, garbage: Any, end: str
) -> None:
    ours = isinstance(garbage, dict)  # 0.0.3's form: read, not garbage

    @fb.with_flashbag
    async def page(request: web.Request) -> web.Response:
        if end == "reads":
            fb.flashbag_get(request, "k")
            fb.get_flashed_messages(request)
            fb.get_flashed_messages(request)
        if end == "redirect":
            raise web.HTTPSeeOther("/elsewhere")
        return web.Response(text="page")

    client: Client = await aiohttp_client(make_app([("GET", "/", page)]))
    put_session(client, {"user": "ann", KEY: garbage})
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get("/", allow_redirects=False)
    assert resp.status in (200, 303)
    warnings = library_warnings(caplog)
    if ours:
        assert warnings == []
        if end == "redirect":
            return
    else:
        assert len(warnings) == 1, warnings
        # a misshapen entry in this library's form is named as a flash
        bad_entry = garbage == [2, {"k": "not an entry"}, []]
        assert ("value 'k'" if bad_entry else repr(KEY)) in warnings[0]
    assert set_cookie_session(resp) == {"user": "ann"}


async def test_garbage_is_left_alone_by_a_failed_request_and_warned_again(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    @fb.with_flashbag
    async def fail(request: web.Request) -> web.Response:
        return web.Response(status=500)

    client: Client = await aiohttp_client(
        make_app([("GET", "/fail", fail), ("GET", "/show", show_session)])
    )
    put_session(client, {"user": "ann", KEY: "garbage"})
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get("/fail")
        assert COOKIE not in resp.cookies
        assert len(library_warnings(caplog)) == 1
        assert await (await client.get("/show")).json() == {**NOTHING, "user": "ann"}
        assert len(library_warnings(caplog)) == 2
    assert session_in(client) == {"user": "ann"}


#: with_flashbag, untyped: these tests pass it what type checkers refuse
decorate: Any = fb.with_flashbag


class TestDecorator:
    def test_a_plain_function_is_refused_when_decorated(self) -> None:
        def handler(request: web.Request) -> web.Response:
            return web.Response()

        with pytest.raises(TypeError, match="async def"):
            decorate(handler)

    def test_a_staticmethod_object_is_refused_when_decorated(self) -> None:
        async def handler(request: web.Request) -> web.Response:
            return web.Response()

        with pytest.raises(TypeError, match="staticmethod"):
            decorate(staticmethod(handler))

    @pytest.mark.parametrize(
        "thing",
        [
            lambda request: web.Response(),
            print,
            web.Response,
        ],
        ids=["lambda", "builtin", "class"],
    )
    def test_other_callables_are_refused_when_decorated(self, thing: Any) -> None:
        with pytest.raises(TypeError, match="async def"):
            decorate(thing)

    def test_an_async_generator_is_refused_when_decorated(self) -> None:
        async def handler(request: web.Request) -> Any:
            yield web.Response()

        with pytest.raises(TypeError, match="async def"):
            decorate(handler)

    async def test_below_staticmethod_it_works(self, aiohttp_client: Any) -> None:
        class Handlers:
            @staticmethod
            @fb.with_flashbag
            async def start(request: web.Request) -> web.Response:
                fb.flash(request, "static")
                raise web.HTTPSeeOther("/show")

        client: Client = await aiohttp_client(
            make_app([("GET", "/", Handlers.start), ("GET", "/show", show_session)])
        )
        assert (await (await client.get("/")).json())["messages"] == [
            ["message", "static"]
        ]


class BrokenStorage(AbstractStorage):
    """A custom storage with a bug in load_session."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error

    async def load_session(self, request: web.Request) -> Session:
        raise self.error

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        raise AssertionError("never saved")


class BuggySimpleCookieStorage(SimpleCookieStorage):
    """A subclass of aiohttp-session's storage whose own load_session has a bug."""

    async def load_session(self, request: web.Request) -> Session:
        return self.missing_attribute  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("error", [AttributeError("x"), KeyError("x"), TypeError("x")])
async def test_a_bug_in_a_custom_storage_is_not_hidden(
    aiohttp_client: Any, error: BaseException
) -> None:
    client: Client = await aiohttp_client(login_app(BrokenStorage(error)))
    resp = await client.get("/")
    assert resp.status == 500


async def test_a_bug_in_a_subclassed_storage_is_not_hidden(
    aiohttp_client: Any,
) -> None:
    client: Client = await aiohttp_client(login_app(BuggySimpleCookieStorage()))
    put_session(client, {"user": "ann"})
    resp = await client.get("/")
    assert resp.status == 500


@pytest.mark.parametrize(
    "error",
    [json.JSONDecodeError("bad", "{", 0), RecursionError("deep"), ValueError("bad")],
    ids=["json", "recursion", "value"],
)
async def test_a_decode_error_of_a_custom_storage_propagates(
    aiohttp_client: Any, error: BaseException
) -> None:
    """Only aiohttp-session's own storages are known to fail so on bad data;
    a custom storage's error may be a bug, and a fresh session would log the
    visitor out (docs/lifecycle.rst, "Bad input and faults").
    """

    class Undecodable(BrokenStorage):
        def __init__(self) -> None:
            super().__init__(error)
            self.saved: list[Session] = []

        async def save_session(
            self, request: web.Request, response: web.StreamResponse, session: Session
        ) -> None:
            self.saved.append(session)

    storage = Undecodable()
    client: Client = await aiohttp_client(login_app(storage))
    resp = await client.get("/?flash=1")
    assert resp.status == 500
    assert storage.saved == []


# == Bad input and faults, checked from the outside ====================================
#
# Rules checked from the outside, the way a careless user (or an attacker with a
# cookie) meets them; each test is named after the rule it checks.


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


# -- no cookie, no load ----------------------------------------------------------------


@pytest.mark.parametrize(
    "storage",
    [SimpleCookieStorage, lambda: FernetCookies().storage],
    ids=["plain cookie", "sealed cookie"],
)
async def test_a_request_without_a_session_cookie_loads_no_session(
    aiohttp_client: Any, storage: Any
) -> None:
    """docs/architecture.rst, "The walk of a request": with one of
    aiohttp-session's cookie storages and no session cookie in the request,
    the session is known to be empty: a scope loads it only when it stores
    flashes, and what it stores reaches the next request.
    """
    counting = CountingStorage(storage())

    async def unrelated(request: web.Request) -> web.Response:
        return web.Response(text=f"{fb.flashbag_get(request, 'error')}")

    async def flash(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "error", "Name is required")
        raise web.HTTPSeeOther("/")

    app = make_app(
        [("GET", "/", unrelated), ("GET", "/flash", flash)],
        storage=counting.storage,
        middleware=True,
    )
    client: Client = await aiohttp_client(app)
    resp = await client.get("/")
    assert (await resp.text(), counting.loads, counting.saves) == ("None", 0, 0)
    assert COOKIE not in resp.cookies
    resp = await client.get("/flash", allow_redirects=False)
    assert resp.status == 303
    assert (counting.loads, counting.saves) == (1, 1)  # loaded at the commit
    resp = await client.get("/")
    assert (await resp.text(), counting.loads) == ("Name is required", 2)
