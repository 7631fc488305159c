"""A value is stored exactly as set.

docs/lifecycle.rst, "Writes": setting ``True`` over a stored ``1`` (or
``1.0`` over ``1``) stores ``True`` (or ``1.0``): equality in Python is not
sameness in JSON. What ``flashbag_set`` stored is read back equal and of the
same JSON type, recursively, even when the value it replaces is equal to it
in Python and was set in the same second.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import aiohttp
import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage
from hypothesis import given, settings
from hypothesis import strategies as st

import aiohttp_flashbag as fb

from ..conftest import Client
from ..support.sessions import FrozenClock, MemoryStorage, Site, build_app


async def put(request: web.Request) -> web.Response:
    """Sets ``value`` under ``key`` as the JSON body says, after reading or
    keeping what came in under it; ends with a redirect or a page.
    """
    body = await request.json()
    key = body.get("key", "v")
    if body.get("read"):
        fb.flashbag_get(request, key)
    if body.get("keep"):
        fb.flashbag_keep(request, key)
    fb.flashbag_set(request, key, body["value"])
    if body.get("end", "303") == "303":
        raise web.HTTPSeeOther("/get")
    return web.Response(text="set")


async def get(request: web.Request) -> web.Response:
    """The value under ``v`` as JSON text: ``true`` is not ``1``, nor ``1.0``."""
    return web.Response(text=json.dumps(fb.flashbag_get(request, "v", "<missing>")))


def app_of(storage: Any = None) -> web.Application:
    return build_app(
        storage if storage is not None else SimpleCookieStorage(),
        {"/put": put, "/get": get},
    )


PAIRS = [
    (1, True),
    (True, 1),
    (1, 1.0),
    (1.0, 1),
    (0, False),
    (False, 0),
    (0, 0.0),
    (0.0, -0.0),
    ([1, 2], [True, 2]),
    ({"n": 1}, {"n": 1.0}),
    ({"a": [0, {"b": 1}]}, {"a": [False, {"b": True}]}),
]
HOW: dict[str, dict[str, Any]] = {
    "carried": {"end": "303"},  # the old value came in unread: outgoing wins
    "read, then set": {"read": True, "end": "200"},
    "kept, then set": {"keep": True, "end": "200"},
    "read, then set, redirect": {"read": True, "end": "303"},
}


@pytest.mark.parametrize("how", list(HOW))
@pytest.mark.parametrize(("old", "new"), PAIRS, ids=repr)
@pytest.mark.parametrize("storage", ["cookie", "custom"])
async def test_a_value_equal_in_python_is_stored_as_set(
    aiohttp_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    storage: str,
    old: Any,
    new: Any,
    how: str,
) -> None:
    FrozenClock(monkeypatch)  # both in the same second
    client: Client = await aiohttp_client(
        app_of(MemoryStorage() if storage == "custom" else None)
    )
    resp = await client.post("/put", json={"value": old}, allow_redirects=False)
    assert resp.status == 303
    resp = await client.post(
        "/put", json={"value": new, **HOW[how]}, allow_redirects=False
    )
    assert resp.status in (200, 303)
    text = await (await client.get("/get")).text()
    assert text == json.dumps(new)
    assert type(json.loads(text)) is type(new)


# -- generated: any JSON value, and its twins ------------------------------------

TEXT = st.text(max_size=5)
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3)
    ),
    max_leaves=8,
)


def twins(value: Any) -> st.SearchStrategy[Any]:
    """Values equal to ``value`` in Python, of any JSON type that can be."""
    if isinstance(value, bool):
        return st.sampled_from([value, int(value), float(value)])
    if isinstance(value, int):
        options: list[Any] = [value]
        if abs(value) < 2**53:
            options.append(float(value))
        if value in (0, 1):
            options.append(bool(value))
        return st.sampled_from(options)
    if isinstance(value, float):
        options = [value]
        if value.is_integer():
            options.append(int(value))
            if value == 0:
                options += [-value, False]
            if value == 1:
                options.append(True)
        return st.sampled_from(options)
    if isinstance(value, list):
        return st.tuples(*map(twins, value)).map(list)
    if isinstance(value, dict):
        return st.fixed_dictionaries({k: twins(v) for k, v in value.items()})
    return st.just(value)


@st.composite
def old_and_new(draw: st.DrawFn) -> tuple[Any, Any]:
    old = draw(JSON)
    new = draw(st.one_of(twins(old), JSON))
    return old, new


def json_types(value: Any) -> Any:
    """``value`` with every scalar as its JSON type and text."""
    if isinstance(value, list):
        return ["array", [json_types(item) for item in value]]
    if isinstance(value, dict):
        return ["object", [[k, json_types(v)] for k, v in value.items()]]
    return json.dumps(value)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    served = Site(app_of())
    yield served
    served.close()


@settings(max_examples=100)
@given(pair=old_and_new(), how=st.sampled_from(list(HOW)))
def test_what_was_set_is_read_back_of_the_same_json_type(
    site: Site, pair: tuple[Any, Any], how: str
) -> None:
    old, new = pair
    now = float(int(time.time()) + 0.5)

    async def visit() -> Any:
        async with aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True)
        ) as c:
            async with c.post(
                site.url("/put"), json={"value": old}, allow_redirects=False
            ) as resp:
                assert resp.status == 303
            async with c.post(
                site.url("/put"),
                json={"value": new, **HOW[how]},
                allow_redirects=False,
            ) as resp:
                assert resp.status in (200, 303)
            async with c.get(site.url("/get")) as resp:
                return json.loads(await resp.text())

    with mock.patch("time.time", return_value=now):  # the same second throughout
        read = site.run(visit())
    assert read == new
    assert json_types(read) == json_types(new)
