"""A dict key that is not a ``str``, anywhere in a value, is refused at the call.

docs/lifecycle.rst, "Bad input and faults": JSON would turn the key ``1``
into ``"1"``, or merge ``1`` and ``"1"`` into one key, so the next request
would read something else than what was set. ``flashbag_set``,
``flashbag_append``, ``flashbag_replace_all`` and ``flash`` raise
``TypeError`` at the call, and outgoing is unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage
from hypothesis import given, settings
from hypothesis import strategies as st

import aiohttp_flashbag as fb

from ..conftest import Client
from ..support.sessions import SCOPES, Site, build_app, show

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
def site() -> Iterator[Site]:
    served = Site(build_app(SimpleCookieStorage(), {"/": try_set, "/show": show}))
    yield served
    served.close()


@settings(max_examples=100)
@given(value=VALUES, call=st.sampled_from(["flashbag_set", "flash"]))
def test_refused_exactly_when_some_key_is_not_str(
    site: Site, value: Any, call: str
) -> None:
    ident = uuid.uuid4().hex
    PENDING[ident] = value

    async def visit() -> tuple[str, Any]:
        jar = aiohttp.CookieJar(unsafe=True)  # cookies of 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as client:
            async with client.get(
                site.url("/"),
                headers={"X-Id": ident, "X-Call": call},
                allow_redirects=False,
            ) as resp:
                result = await resp.text()
            async with client.get(site.url("/show")) as resp:
                return result, await resp.json()

    result, shown = site.run(visit())
    if has_other_keys(value):
        assert result == "TypeError"
        assert shown == {"values": {}, "messages": []}
    else:
        assert result == "accepted"
        if call == "flash":
            assert shown["messages"] == [["info", value]]
        else:
            assert shown["values"] == {"k": value}
