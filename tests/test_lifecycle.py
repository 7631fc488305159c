"""The SPEC's lifecycle table, row by row, on the pure rule alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aiohttp_flashbag._flashbag import Flashbag
from aiohttp_flashbag._lifecycle import (
    EMPTY,
    Ending,
    Message,
    StoredBag,
    decode,
    encode,
    ending_of,
    next_stored_bag,
)

INCOMING = StoredBag(
    {"error": "Name is required", "form": {"name": ""}},
    (Message("error", "Bad"), Message("info", "Hello")),
)


def after(
    ending: Ending,
    *,
    incoming: StoredBag = INCOMING,
    values: Mapping[str, Any] | None = None,
    messages: Sequence[Message] = (),
    read_keys: frozenset[str] = frozenset(),
    read_messages: frozenset[int] = frozenset(),
    kept_keys: frozenset[str] = frozenset(),
    keep_all: bool = False,
    carry_unread: bool = True,
) -> StoredBag:
    return next_stored_bag(
        incoming,
        ending,
        outgoing_values=values or {},
        outgoing_messages=messages,
        read_keys=read_keys,
        read_messages=read_messages,
        kept_keys=kept_keys,
        keep_all=keep_all,
        carry_unread=carry_unread,
    )


@pytest.mark.parametrize(
    ("method", "status", "sent", "expected"),
    [
        ("GET", None, False, Ending.UNCHANGED),  # a non-HTTP exception
        ("GET", 500, False, Ending.UNCHANGED),
        ("POST", 503, False, Ending.UNCHANGED),
        ("HEAD", 500, False, Ending.UNCHANGED),  # the first row wins over HEAD
        ("GET", 200, True, Ending.UNCHANGED),  # already sent
        ("HEAD", 200, False, Ending.HEAD),
        ("HEAD", 302, False, Ending.HEAD),
        ("POST", 300, False, Ending.REDIRECT),
        ("POST", 303, False, Ending.REDIRECT),
        ("GET", 399, False, Ending.REDIRECT),
        ("GET", 200, False, Ending.PAGE),
        ("GET", 204, False, Ending.PAGE),
        ("POST", 400, False, Ending.PAGE),
        ("GET", 404, False, Ending.PAGE),
        ("GET", 499, False, Ending.PAGE),
    ],
)
def test_ending_of(
    method: str, status: int | None, sent: bool, expected: Ending
) -> None:
    assert ending_of(method, status, sent=sent) is expected


class TestUnchanged:
    def test_everything_the_request_did_is_ignored(self) -> None:
        result = after(
            Ending.UNCHANGED,
            values={"x": 1},
            messages=[Message("m", "new")],
            read_keys=frozenset({"error"}),
            read_messages=frozenset({0, 1}),
            carry_unread=False,
        )
        assert result == INCOMING


class TestHead:
    def test_nothing_is_consumed(self) -> None:
        result = after(
            Ending.HEAD,
            read_keys=frozenset({"error", "form"}),
            read_messages=frozenset({0, 1}),
        )
        assert result == INCOMING

    def test_outgoing_is_set_over_incoming(self) -> None:
        result = after(
            Ending.HEAD,
            values={"error": "replaced", "new": 1},
            messages=[Message("m", "later")],
        )
        assert result.values == {
            "error": "replaced",
            "form": {"name": ""},
            "new": 1,
        }
        assert list(result.messages) == [*INCOMING.messages, Message("m", "later")]


class TestRedirect:
    def test_unread_values_and_messages_travel_on(self) -> None:
        assert after(Ending.REDIRECT) == INCOMING

    def test_read_values_are_consumed(self) -> None:
        result = after(Ending.REDIRECT, read_keys=frozenset({"error"}))
        assert result.values == {"form": {"name": ""}}
        assert result.messages == INCOMING.messages

    def test_read_messages_are_consumed_others_stay(self) -> None:
        result = after(Ending.REDIRECT, read_messages=frozenset({0}))
        assert list(result.messages) == [Message("info", "Hello")]

    def test_kept_values_travel_even_when_read(self) -> None:
        result = after(
            Ending.REDIRECT,
            read_keys=frozenset({"error", "form"}),
            kept_keys=frozenset({"error"}),
        )
        assert result.values == {"error": "Name is required"}

    def test_clear_drops_the_carry_over(self) -> None:
        result = after(Ending.REDIRECT, carry_unread=False)
        assert result == StoredBag({}, ())

    def test_keep_after_clear_adds_again(self) -> None:
        result = after(
            Ending.REDIRECT, carry_unread=False, kept_keys=frozenset({"form"})
        )
        assert result.values == {"form": {"name": ""}}
        assert not result.messages

    def test_outgoing_wins_per_key_and_new_messages_come_last(self) -> None:
        result = after(
            Ending.REDIRECT,
            values={"error": "Other"},
            messages=[Message("success", "Saved")],
        )
        assert result.values == {"error": "Other", "form": {"name": ""}}
        assert list(result.messages) == [
            *INCOMING.messages,
            Message("success", "Saved"),
        ]


class TestPage:
    def test_unread_flashes_are_consumed_too(self) -> None:
        assert after(Ending.PAGE) == StoredBag({}, ())

    def test_kept_values_stay(self) -> None:
        result = after(Ending.PAGE, kept_keys=frozenset({"form", "missing"}))
        assert result.values == {"form": {"name": ""}}
        assert not result.messages

    def test_keep_all_keeps_values_and_messages(self) -> None:
        assert after(Ending.PAGE, keep_all=True) == INCOMING

    def test_outgoing_over_kept(self) -> None:
        result = after(
            Ending.PAGE,
            kept_keys=frozenset({"form"}),
            values={"form": {"name": "Ann"}},
            messages=[Message("message", "next")],
        )
        assert result.values == {"form": {"name": "Ann"}}
        assert list(result.messages) == [Message("message", "next")]


def test_messages_and_values_are_independent() -> None:
    result = after(Ending.PAGE, messages=[Message("m", "x")])
    assert result.values == {}
    result = after(Ending.PAGE, values={"m": "x"})
    assert not result.messages


class TestEncoding:
    def test_values_alone_are_a_plain_object(self) -> None:
        bag = StoredBag({"error": "Name is required"}, ())
        assert encode(bag) == {"error": "Name is required"}
        assert decode(encode(bag)) == bag

    def test_round_trip(self) -> None:
        data = encode(INCOMING)
        assert data == [
            1,
            {"error": "Name is required", "form": {"name": ""}},
            [["error", "Bad"], ["info", "Hello"]],
        ]
        assert decode(data) == INCOMING

    def test_empty_bag_is_not_stored(self) -> None:
        assert encode(EMPTY) is None
        assert decode(None) == EMPTY

    def test_seed_format_is_read_as_values(self) -> None:
        assert decode({"error": "Name is required"}) == StoredBag(
            {"error": "Name is required"}, ()
        )
        assert decode({}) == EMPTY

    @pytest.mark.parametrize(
        "garbage",
        [
            "text",
            42,
            True,
            [],
            [1, {}],
            [2, {}, []],
            [True, {}, []],
            ["1", {}, []],
            [1, [], []],
            [1, {}, {}],
            [1, {}, ["message"]],
            [1, {}, [["a", "b", "c"]]],
            [1, {}, [[3, "b"]]],
            [1, {}, [["a", "b"]], "extra"],
        ],
    )
    def test_garbage_is_not_ours(self, garbage: Any) -> None:
        assert decode(garbage) is None


# -- the Flashbag's conclusion against the rule --------------------------------
#
# Flashbag._conclude answers the common page itself, without calling
# next_stored_bag. Whatever a request did, both must agree.

_keys = st.sampled_from(["a", "b"])
_values = st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers()))
_stored = st.one_of(
    st.none(),
    st.dictionaries(_keys, _values, max_size=3),
    st.builds(
        lambda values, messages: [1, values, messages],
        st.dictionaries(_keys, _values, max_size=3),
        st.lists(
            st.tuples(st.sampled_from(["info", "error"]), st.text(max_size=5)).map(
                list
            ),
            max_size=3,
        ),
    ),
)
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("get"), _keys),
        st.tuples(st.just("messages"), st.sampled_from([(), "info"])),
        st.tuples(st.just("set"), _keys, _values),
        st.tuples(st.just("append"), st.sampled_from(["list"]), _values),
        st.tuples(st.just("flash"), st.text(max_size=5)),
        st.tuples(
            st.just("keep"), st.just([]) | st.lists(_keys, min_size=1, max_size=2)
        ),
        st.tuples(st.just("clear")),
    ),
    max_size=6,
)


@settings(max_examples=400)
@example(raw={"a": 1}, ops=[("keep", ["a"])], ending=Ending.PAGE)
@example(raw={"a": 1}, ops=[("keep", [])], ending=Ending.PAGE)
@example(raw={"a": 1}, ops=[("set", "b", 2)], ending=Ending.PAGE)
@example(raw=None, ops=[("flash", "x")], ending=Ending.PAGE)
@example(raw={"a": 1}, ops=[], ending=Ending.REDIRECT)
@example(raw={"a": 1}, ops=[], ending=Ending.HEAD)
@given(raw=_stored, ops=_ops, ending=st.sampled_from(Ending))
def test_the_bags_conclusion_is_the_rules(
    raw: Any, ops: list[tuple[Any, ...]], ending: Ending
) -> None:
    bag = Flashbag(raw, "flashes", None)
    for op, *args in ops:
        if op == "get":
            bag.get(args[0])
        elif op == "messages":
            bag.get_flashed_messages(category_filter=args[0])
        elif op == "set":
            bag.set(*args)
        elif op == "append":
            bag.append(*args)
        elif op == "flash":
            bag.flash(args[0])
        elif op == "keep":
            bag.keep(*args[0])
        else:
            bag.clear()
    expected = next_stored_bag(
        bag.incoming,
        ending,
        outgoing_values=bag.outgoing.values,
        outgoing_messages=bag.outgoing.messages,
        read_keys=bag._read_keys,
        read_messages=bag._read_messages,
        kept_keys=bag._kept_keys,
        keep_all=bag._keep_all,
        carry_unread=bag._carry_unread,
    )
    concluded = bag._conclude(ending)
    assert encode(bag.incoming if concluded is None else concluded) == encode(expected)
