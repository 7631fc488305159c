"""docs/lifecycle.rst, "Bad input and faults": the table, row by row."""

from __future__ import annotations

import collections
import datetime
import functools
import json
import logging
import math
import re
import sys
import time
import types
from collections import OrderedDict, UserDict, UserList, UserString
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp_session import (
    AbstractStorage,
    Session,
    SimpleCookieStorage,
    session_middleware,
)
from hypothesis import example, given
from hypothesis import strategies as st

import aiohttp_flashbag as fb
from aiohttp_flashbag import Flashbag, Flashes
from aiohttp_flashbag._rule import Ending, size
from aiohttp_flashbag._sessions import default_json
from aiohttp_flashbag._stored import decode, encode

from ..conftest import COOKIE, Client, make_app, stored_bag
from ..support.opsapp import ops_app, ops_headers


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
