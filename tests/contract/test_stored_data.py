"""Stored data never breaks a page.

docs/lifecycle.rst, "Bad input and faults": a stored flash, in any stored
format (the current ``{"__aiohttp_flashbag__": [2, {key: [set_at, value]},
[[set_at, category, message]]]}``, the same list stored bare by earlier
builds, the older ``[1, {values}, [[category, message]]]`` and 0.0.3's plain
``{key: value}``), holding what a write would refuse (a lone surrogate,
nesting deeper than 32 levels, a dict key that is not a ``str``) is dropped
when loaded, with a WARNING; the other flashes are read; never a 500.

docs/lifecycle.rst, "Bounded life": data of 0.0.3 or of an older format
carries no time. It is read as set now, and the next commit that writes
stores it in the current format with that time, so it too expires after
``max_age``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage
from hypothesis import given, settings
from hypothesis import strategies as st

import aiohttp_flashbag as fb

from ..conftest import COOKIE, Client
from ..support.sessions import (
    Clock,
    MemoryStorage,
    Site,
    build_app,
    flash_warnings,
    put_simple_session,
    sent_value,
)

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
