"""The SPEC's lifecycle table, row by row, on the pure rule alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiohttp_flashbag._lifecycle import (
    EMPTY,
    Activity,
    Ending,
    Flash,
    Message,
    StoredBag,
    decode,
    encode,
    ending_of,
    fit,
    next_stored_bag,
    stored_size,
)

T0 = 1_700_000_000


def bag(
    values: Mapping[str, Any], messages: Sequence[Message] = (), set_at: int = T0
) -> StoredBag:
    """A stored bag of plain values and messages, all set at ``set_at``."""
    return StoredBag(
        {key: Flash(key, value, set_at) for key, value in values.items()},
        tuple(Flash(m.category, m.message, set_at) for m in messages),
    )


class Plain(NamedTuple):
    values: Mapping[str, Any]
    messages: Sequence[Message]


def plain(stored: StoredBag) -> Plain:
    """The bag's values and messages without times, for comparing."""
    return Plain(
        {key: flash.value for key, flash in stored.values.items()},
        tuple(Message(flash.key, flash.value) for flash in stored.messages),
    )


INCOMING = bag(
    {"error": "Name is required", "form": {"name": ""}},
    (Message("error", "Bad"), Message("info", "Hello")),
)
PLAIN_INCOMING = plain(INCOMING)


def after(
    ending: Ending,
    *,
    incoming: StoredBag = INCOMING,
    values: Mapping[str, Any] | None = None,
    messages: Sequence[Message] = (),
    now: frozenset[int] = frozenset(),
    read_keys: frozenset[str] = frozenset(),
    read_messages: frozenset[int] = frozenset(),
    shown_own: frozenset[int] = frozenset(),
    kept_keys: frozenset[str] = frozenset(),
    keep_all: bool = False,
    carry_unread: bool = True,
    new_session: bool = False,
) -> Plain:
    """The rule's stored bag, with plain values and messages."""
    own = bag(values or {}, messages, T0 + 1)
    done = Activity(
        values=own.values,
        messages=own.messages,
        now=now,
        read_keys=read_keys,
        read_messages=read_messages,
        shown_own=shown_own,
        kept_keys=kept_keys,
        keep_all=keep_all,
        carry_unread=carry_unread,
        new_session=new_session,
    )
    return plain(next_stored_bag(incoming, ending, done))


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
        assert result == PLAIN_INCOMING


class TestHead:
    def test_nothing_is_consumed(self) -> None:
        result = after(
            Ending.HEAD,
            read_keys=frozenset({"error", "form"}),
            read_messages=frozenset({0, 1}),
        )
        assert result == PLAIN_INCOMING

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
        assert list(result.messages) == [
            *PLAIN_INCOMING.messages,
            Message("m", "later"),
        ]


class TestRedirect:
    def test_unread_values_and_messages_travel_on(self) -> None:
        assert after(Ending.REDIRECT) == PLAIN_INCOMING

    def test_read_values_are_consumed(self) -> None:
        result = after(Ending.REDIRECT, read_keys=frozenset({"error"}))
        assert result.values == {"form": {"name": ""}}
        assert result.messages == PLAIN_INCOMING.messages

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
        assert result == Plain({}, ())

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
            *PLAIN_INCOMING.messages,
            Message("success", "Saved"),
        ]


class TestPage:
    def test_unread_flashes_are_consumed_too(self) -> None:
        assert after(Ending.PAGE) == Plain({}, ())

    def test_kept_values_stay(self) -> None:
        result = after(Ending.PAGE, kept_keys=frozenset({"form", "missing"}))
        assert result.values == {"form": {"name": ""}}
        assert not result.messages

    def test_keep_all_keeps_values_and_messages(self) -> None:
        assert after(Ending.PAGE, keep_all=True) == PLAIN_INCOMING

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


class TestOwnMessages:
    """Messages this request flashed: shown ones and ``now`` ones stay here."""

    MESSAGES = (Message("m", "shown"), Message("m", "unshown"), Message("m", "now"))

    @pytest.mark.parametrize("ending", [Ending.PAGE, Ending.REDIRECT])
    def test_shown_and_now_messages_are_not_passed_on(self, ending: Ending) -> None:
        result = after(
            ending,
            incoming=EMPTY,
            messages=self.MESSAGES,
            shown_own=frozenset({0}),
            now=frozenset({2}),
        )
        assert list(result.messages) == [Message("m", "unshown")]

    def test_head_passes_on_shown_messages_but_never_now_ones(self) -> None:
        result = after(
            Ending.HEAD,
            incoming=EMPTY,
            messages=self.MESSAGES,
            shown_own=frozenset({0, 1, 2}),
            now=frozenset({2}),
        )
        assert list(result.messages) == [Message("m", "shown"), Message("m", "unshown")]

    def test_nothing_of_the_request_is_stored_when_it_failed(self) -> None:
        result = after(Ending.UNCHANGED, incoming=EMPTY, messages=self.MESSAGES)
        assert result == Plain({}, ())


class TestNewSession:
    @pytest.mark.parametrize("ending", [Ending.PAGE, Ending.REDIRECT, Ending.HEAD])
    def test_nothing_incoming_crosses_into_it(self, ending: Ending) -> None:
        result = after(
            ending,
            new_session=True,
            keep_all=True,
            kept_keys=frozenset({"error"}),
            values={"set": "here"},
            messages=[Message("m", "here")],
        )
        assert result == Plain({"set": "here"}, (Message("m", "here"),))

    def test_a_failed_request_changes_nothing(self) -> None:
        assert after(Ending.UNCHANGED, new_session=True) == PLAIN_INCOMING


class TestFit:
    def test_oldest_older_flashes_give_way_and_newer_ones_never(self) -> None:
        older = StoredBag(
            {"old": Flash("old", "o" * 40, T0), "mid": Flash("mid", "m" * 40, T0 + 2)},
            (Flash("info", "i" * 40, T0 + 1),),
        )
        newer = bag({"new": "n" * 40}, (Message("m", "x" * 40),), T0 - 5)
        limit = stored_size(
            StoredBag({"mid": older.values["mid"], **newer.values}, newer.messages)
        )
        fitted, dropped = fit(older, newer, lambda b: stored_size(b) <= limit)
        assert [flash.key for flash in dropped] == ["old", "info"]
        assert fitted == StoredBag(
            {"mid": older.values["mid"], **newer.values}, tuple(newer.messages)
        )

    def test_what_fits_is_untouched(self) -> None:
        fitted, dropped = fit(INCOMING, EMPTY, lambda b: True)
        assert (fitted, dropped) == (INCOMING, [])

    def test_newer_alone_is_returned_when_nothing_else_fits(self) -> None:
        newer = bag({"new": 1})
        fitted, dropped = fit(INCOMING, newer, lambda b: False)
        assert fitted == newer
        assert len(dropped) == 4

    def test_an_older_value_hidden_by_a_newer_one_is_not_counted_as_dropped(
        self,
    ) -> None:
        fitted, dropped = fit(bag({"a": 1}), bag({"a": 2}), lambda b: True)
        assert plain(fitted).values == {"a": 2}
        assert dropped == []

    def test_size_is_what_json_dumps_gives(self) -> None:
        import json

        assert stored_size(INCOMING) == len(json.dumps(encode(INCOMING)))
        assert stored_size(EMPTY) == 0


class TestExpiry:
    def test_flashes_older_than_max_age_are_left_out(self) -> None:
        stored = StoredBag(
            {"old": Flash("old", 1, T0), "new": Flash("new", 2, T0 + 100)},
            (Flash("m", "old", T0), Flash("m", "new", T0 + 100)),
        )
        result = decode(encode(stored), T0 + 650, 600)
        assert result is not None
        assert plain(result) == Plain({"new": 2}, (Message("m", "new"),))

    def test_exactly_max_age_is_not_older(self) -> None:
        assert decode(encode(INCOMING), T0 + 600, 600) == INCOMING
        assert decode(encode(INCOMING), T0 + 600.5, 600) == EMPTY

    def test_none_turns_it_off(self) -> None:
        assert decode(encode(INCOMING), T0 + 10**9, None) == INCOMING

    @pytest.mark.parametrize(
        "older", [{"a": 1}, [1, {"a": 1}, [["m", "x"]]]], ids=["0.0.3", "1"]
    )
    def test_older_forms_are_set_now_and_never_expired(self, older: Any) -> None:
        result = decode(older, T0 + 0.5, 600)
        assert result is not None
        assert {f.set_at for f in (*result.values.values(), *result.messages)} == {
            T0 + 1
        }


class TestEncoding:
    def test_round_trip(self) -> None:
        stored = StoredBag(
            {
                "error": Flash("error", "Name is required", T0),
                "html": Flash("html", "<b>x</b>", T0 + 1, True),
            },
            (
                Flash("info", "Hello", T0),
                Flash("info", "<a href=/>x</a>", T0 + 2, True),
            ),
        )
        data = encode(stored)
        assert data == [
            2,
            {"error": [T0, "Name is required"], "html": [T0 + 1, "<b>x</b>", 1]},
            [[T0, "info", "Hello"], [T0 + 2, "info", "<a href=/>x</a>", 1]],
        ]
        assert decode(data, T0 + 5) == stored

    def test_empty_bag_is_not_stored(self) -> None:
        assert encode(EMPTY) is None
        assert encode(StoredBag({}, ())) is None
        assert decode(None, T0) == EMPTY

    def test_0_0_3_data_is_read_as_values_set_now(self) -> None:
        assert decode({"error": "Name is required"}, T0) == bag(
            {"error": "Name is required"}
        )
        assert decode({}, T0) == EMPTY

    def test_the_previous_form_is_read_as_set_now(self) -> None:
        assert decode([1, {"a": 1}, [["error", "Bad"]]], T0) == bag(
            {"a": 1}, (Message("error", "Bad"),)
        )

    @pytest.mark.parametrize(
        "garbage",
        [
            "text",
            42,
            True,
            [],
            [1, {}],
            [3, {}, []],
            [True, {}, []],
            ["2", {}, []],
            [1, [], []],
            [1, {}, {}],
            [1, {}, ["message"]],
            [1, {}, [["a", "b", "c"]]],
            [1, {}, [[3, "b"]]],
            [1, {}, [["a", "b"]], "extra"],
            [2, {"a": 1}, []],
            [2, {"a": [T0]}, []],
            [2, {"a": ["T0", 1]}, []],
            [2, {"a": [T0, 1, 2]}, []],
            [2, {"a": [-1, 1]}, []],
            [2, {}, [[T0, "m"]]],
            [2, {}, [[T0, 3, "m"]]],
            [2, {}, [[True, "c", "m"]]],
            [2, {}, [[T0, "c", "m", True]]],
            [2, {}, "m"],
        ],
    )
    def test_garbage_is_not_ours(self, garbage: Any) -> None:
        assert decode(garbage, T0) is None


_flashes = st.builds(
    lambda values, messages, safe: StoredBag(
        {k: Flash(k, v, T0 + i, safe) for i, (k, v) in enumerate(values.items())},
        tuple(Flash(c, m, T0, safe) for c, m in messages),
    ),
    st.dictionaries(
        st.text(max_size=3), st.integers() | st.text(max_size=5), max_size=3
    ),
    st.lists(st.tuples(st.text(max_size=3), st.text(max_size=5)), max_size=3),
    st.booleans(),
)


@given(_flashes)
def test_whatever_is_encoded_decodes_to_itself(stored: StoredBag) -> None:
    data = encode(stored)
    assert decode(data, T0 + 99) == (EMPTY if data is None else stored)
