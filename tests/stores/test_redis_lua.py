"""The Lua scripts of the Redis flash store against the Python they mirror.

``max_bytes`` is enforced twice: by the core (``_rule.size``) for what a
request stores, and by SETTLE inside Redis for the visitor's whole hash
(docs/concurrency.rst, "Size"). Both must count the bag as the session
store counts it, ``len(json.dumps(...))`` of the stored form
(docs/lifecycle.rst, "Size"), for every kind of flash.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from aiohttp_flashbag._rule import Flash, size, size_of
from aiohttp_flashbag._stored import encode
from aiohttp_flashbag.stores import _redis_lua
from aiohttp_flashbag.stores._redis_form import dropped_flashes, read_taken, settle_args

DB = 8  # other tests use their own databases
PREFIX = "lua-test:"
VISITOR = "A" * 22


@pytest.fixture(scope="module")
def scripts(redis_port: int) -> Iterator[tuple[redis.Redis, Any]]:
    client = redis.Redis(host="127.0.0.1", port=redis_port, db=DB)
    client.flushdb()
    yield client, client.register_script(_redis_lua.SETTLE)
    client.flushdb()
    client.close()


TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12
) | st.sampled_from(["", '"', "\\", "\n", "é", "😀", "<b>", "\x00", "\u2028"])
JSON_DATA = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3)
    ),
    max_leaves=8,
)
OPTIONS = st.none() | st.fixed_dictionaries(
    {},
    optional={
        "tags": TEXT,
        "lazy": st.dictionaries(TEXT, JSON_DATA, max_size=2),
        "context": TEXT,
    },
).filter(bool)
SET_AT = st.integers(0, 2**34)


@st.composite
def flashes(draw: st.DrawFn) -> list[Flash]:
    """Keyed values (every JSON type, Markup) and messages (plain, Markup,
    with extra tags, lazy with parameters and a context).
    """
    keys = draw(st.lists(TEXT, unique=True, max_size=4))
    values = [
        Flash(key, draw(JSON_DATA), draw(SET_AT), False, draw(st.booleans()))
        for key in keys
    ]
    messages = [
        Flash(category, value, at, True, safe, options)
        for category, value, at, safe, options in draw(
            st.lists(
                st.tuples(TEXT, JSON_DATA, SET_AT, st.booleans(), OPTIONS),
                max_size=4,
            )
        )
    ]
    return [*values, *messages]


def whole(flash: Flash) -> tuple[Any, ...]:
    """All that a flash is, and its size."""
    parts = (flash.key, flash.value, flash.set_at, flash.safe, flash.options)
    return (flash.message, json.dumps(parts), size_of(flash))


def settle(
    scripts: tuple[redis.Redis, Any], stored: list[Flash], bound: int | str
) -> list[Any]:
    """SETTLE as the store sends it (``_redis._settle_or_log``): write
    ``stored`` as this request's own, or settle nothing and bound the hash.
    """
    _, script = scripts
    head = ["id", VISITOR, PREFIX, "", 60_000, bound, secrets.token_hex(8), ""]
    reply: list[Any] = script(
        keys=[PREFIX + VISITOR], args=head + settle_args(stored, [])
    )
    return reply


@settings(max_examples=150)
@given(stored=flashes())
def test_settle_measures_the_bag_as_the_python_size_does(
    scripts: tuple[redis.Redis, Any], stored: list[Flash]
) -> None:
    """docs/lifecycle.rst, "Size": the hash is bounded at exactly the bytes
    ``json.dumps`` writes for the same bag, which ``_rule.size`` counts.
    """
    client, _ = scripts
    client.flushdb()
    total = size(stored).total()
    assert total == (len(json.dumps(encode(stored))) if stored else 0)
    settle(scripts, stored, "")  # written, unbounded
    # bounded at its exact size: nothing gives way
    assert settle(scripts, [], total)[1] == []
    assert len(client.hgetall(PREFIX + VISITOR)) == len(stored) + 2 * bool(stored)
    if stored:
        # one byte less: something gives way, and each that does is named
        # with its size (the WARNING's, FlashRecord.dropped's)
        gave_way = dropped_flashes(settle(scripts, [], total - 1)[1])
        assert gave_way != []
        left = len(client.hgetall(PREFIX + VISITOR)) - 2
        assert len(gave_way) == len(stored) - left
        assert not Counter(map(whole, gave_way)) - Counter(map(whole, stored))


@settings(max_examples=150)
@given(stored=flashes())
def test_a_take_reads_back_what_a_settle_wrote(
    scripts: tuple[redis.Redis, Any], stored: list[Flash]
) -> None:
    """Every kind of flash comes back from Redis as it was written: its
    key or category, its value (every JSON type, any text), its time, its
    Markup mark and its options (extra tags, a lazy message's parameters),
    values first, then messages in flash order.
    """
    client, _ = scripts
    client.flushdb()
    settle(scripts, stored, "")
    take = client.register_script(_redis_lua.TAKE)
    reply = take(keys=[PREFIX + VISITOR], args=["id", PREFIX, "token", 60_000])
    got, taken = read_taken(reply, 2**35, None)
    assert len(taken) == len(stored)
    values = sorted(
        (f for f in stored if not f.message),
        key=lambda f: (f.set_at, json.dumps(f.key)),
    )
    messages = [f for f in stored if f.message]
    assert [whole(f) for f in got] == [whole(f) for f in [*values, *messages]]
