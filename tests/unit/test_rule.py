"""The lifecycle rule on plain data: the table, sizes and the stored form.

Every test runs the production rule (``aiohttp_flashbag._rule``) without
aiohttp or a session, and cites the section of docs/lifecycle.rst it checks.
"""

from __future__ import annotations

import datetime
import enum
import json
import logging
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from aiohttp_flashbag._rule import (
    MARKER,
    MAX_DEPTH,
    Ending,
    Flash,
    Size,
    ending_of,
    fit,
    give_way,
    json_size,
    size,
    stored_after,
    without,
)
from aiohttp_flashbag._stored import Loaded, Refused, decode, encode, plain

T0 = 1_700_000_000


def value(key: str, data: Any, at: int = T0, **marks: Any) -> Flash:
    """A keyed value set at ``at``; ``marks``: safe, own, shown, kept."""
    return marked(Flash(key, data, at, False, marks.pop("safe", False)), marks)


def message(category: str, text: Any, at: int = T0, **marks: Any) -> Flash:
    """A message flashed at ``at``; ``marks``: safe, own, now, shown, kept."""
    return marked(Flash(category, text, at, True, marks.pop("safe", False)), marks)


def marked(flash: Flash, marks: dict[str, Any]) -> Flash:
    """``flash`` with what happened to it in this request (``marks``)."""
    for name, mark in marks.items():
        setattr(flash, name, mark)
    return flash


class Bag(list[Flash]):
    """What an earlier request left: two values, then two messages."""

    def __init__(self) -> None:
        self.error = value("error", "Name is required")
        self.form = value("form", {"name": ""})
        self.bad = message("error", "Bad")
        self.hello = message("info", "Hello")
        super().__init__([self.error, self.form, self.bad, self.hello])


@pytest.fixture
def incoming() -> Bag:
    return Bag()


def own_value(key: str, data: Any) -> Flash:
    return value(key, data, T0 + 1, own=True)


def own_message(text: str, **marks: bool) -> Flash:
    return message("message", text, T0 + 1, own=True, **marks)


# -- how a request ended ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "status", "redirect", "expected"),
    [
        ("GET", None, False, Ending.UNCHANGED),  # a crash, or already sent
        ("GET", 101, False, Ending.UNCHANGED),  # informational: a switch
        ("HEAD", 100, False, Ending.UNCHANGED),
        ("GET", 199, True, Ending.UNCHANGED),
        ("GET", 500, False, Ending.UNCHANGED),
        ("POST", 503, True, Ending.UNCHANGED),
        ("HEAD", 500, False, Ending.UNCHANGED),  # the first row wins over HEAD
        ("HEAD", None, False, Ending.UNCHANGED),
        ("HEAD", 200, False, Ending.HEAD),
        ("HEAD", 302, False, Ending.HEAD),
        ("HEAD", 200, True, Ending.HEAD),
        ("POST", 300, False, Ending.REDIRECT),
        ("POST", 303, False, Ending.REDIRECT),
        ("GET", 399, False, Ending.REDIRECT),
        ("GET", 200, True, Ending.REDIRECT),  # an htmx redirect header
        ("GET", 200, False, Ending.PAGE),
        ("GET", 204, False, Ending.PAGE),
        ("POST", 400, False, Ending.PAGE),
        ("GET", 404, False, Ending.PAGE),
        ("GET", 499, False, Ending.PAGE),
    ],
)
def test_ending_of(
    method: str, status: int | None, redirect: bool, expected: Ending
) -> None:
    """docs/lifecycle.rst, "The table": which row a request ended in."""
    assert ending_of(method, status, redirect=redirect) is expected


# -- the table, row by row --------------------------------------------------------


class TestUnchanged:
    def test_nothing_the_request_did_counts(self, incoming: Bag) -> None:
        """docs/lifecycle.rst, "The table": a crash or a 5xx changes nothing."""
        incoming.error.shown = incoming.bad.shown = True
        own = [own_value("x", 1), own_message("new")]
        for flags in ({}, {"keep_all": True}, {"cleared": True}, {"new_session": True}):
            assert stored_after(incoming, own, Ending.UNCHANGED, **flags) is None


class TestHead:
    def test_nothing_is_consumed(self, incoming: Bag) -> None:
        """docs/lifecycle.rst, "The table": a HEAD request consumes nothing."""
        for flash in incoming:
            flash.shown = True
        assert stored_after(incoming, [], Ending.HEAD) == list(incoming)
        assert stored_after(incoming, [], Ending.HEAD, cleared=True) == list(incoming)

    def test_outgoing_is_set_over_incoming(self, incoming: Bag) -> None:
        """docs/lifecycle.rst, "The table": outgoing wins per key, new
        messages come after the carried ones.
        """
        error, new, later = (
            own_value("error", "replaced"),
            own_value("new", 1),
            own_message("later"),
        )
        assert stored_after(incoming, [error, new, later], Ending.HEAD) == [
            incoming.form,
            error,
            new,
            incoming.bad,
            incoming.hello,
            later,
        ]


class TestRedirect:
    def test_unread_flashes_travel_on(self, incoming: Bag) -> None:
        """docs/lifecycle.rst, "The table": a redirect carries what was not shown."""
        assert stored_after(incoming, [], Ending.REDIRECT) == list(incoming)

    def test_shown_flashes_are_consumed(self, incoming: Bag) -> None:
        """docs/lifecycle.rst, "The table": a shown value or message stays here."""
        incoming.error.shown = incoming.bad.shown = True
        assert stored_after(incoming, [], Ending.REDIRECT) == [
            incoming.form,
            incoming.hello,
        ]

    def test_kept_values_travel_even_when_shown(self, incoming: Bag) -> None:
        """docs/lifecycle.rst, "The table": kept ones travel too."""
        incoming.error.shown = incoming.form.shown = incoming.error.kept = True
        result = stored_after(incoming, [], Ending.REDIRECT)
        assert result == [incoming.error, incoming.bad, incoming.hello]

    def test_keep_all_keeps_the_shown_ones(self, incoming: Bag) -> None:
        """docs/lifecycle.rst, "The table": keep with no key keeps everything."""
        for flash in incoming:
            flash.shown = True
        result = stored_after(incoming, [], Ending.REDIRECT, keep_all=True)
        assert result == list(incoming)

    def test_clear_stops_the_carrying(self, incoming: Bag) -> None:
        """docs/lifecycle.rst, "The table": clear forgets the carrying of
        unread flashes; a keep after it adds again.
        """
        assert stored_after(incoming, [], Ending.REDIRECT, cleared=True) == []
        incoming.form.kept = True
        result = stored_after(incoming, [], Ending.REDIRECT, cleared=True)
        assert result == [incoming.form]
        result = stored_after(
            incoming, [], Ending.REDIRECT, cleared=True, keep_all=True
        )
        assert result == list(incoming)

    def test_unread_keep_changes_nothing_here(self, incoming: Bag) -> None:
        """docs/lifecycle.rst, "Unread flashes": the setting is about pages."""
        incoming.bad.shown = True
        for keep_unread in (False, True):
            result = stored_after(
                incoming, [], Ending.REDIRECT, keep_unread=keep_unread
            )
            assert result == [incoming.error, incoming.form, incoming.hello]

    def test_outgoing_wins_per_key_and_new_messages_come_last(
        self, incoming: Bag
    ) -> None:
        """docs/lifecycle.rst, "The table": "outgoing over them"."""
        other, saved = own_value("error", "Other"), own_message("Saved")
        assert stored_after(incoming, [other, saved], Ending.REDIRECT) == [
            incoming.form,
            other,
            incoming.bad,
            incoming.hello,
            saved,
        ]


class TestPage:
    def test_unread_flashes_are_consumed_too(self, incoming: Bag) -> None:
        """docs/lifecycle.rst, "The table": a page consumes what it did not show."""
        assert stored_after(incoming, [], Ending.PAGE) == []

    def test_kept_values_stay(self, incoming: Bag) -> None:
        """docs/lifecycle.rst, "The table": kept values survive the page."""
        incoming.form.kept = True
        assert stored_after(incoming, [], Ending.PAGE) == [incoming.form]

    def test_keep_all_keeps_values_and_messages(self, incoming: Bag) -> None:
        """docs/lifecycle.rst, "The table": keep with no key keeps everything."""
        incoming.error.shown = True
        result = stored_after(incoming, [], Ending.PAGE, keep_all=True)
        assert result == list(incoming)

    def test_outgoing_over_kept(self, incoming: Bag) -> None:
        """docs/lifecycle.rst, "The table": outgoing wins over a kept value."""
        incoming.form.kept = True
        form, nxt = own_value("form", {"name": "Ann"}), own_message("next")
        assert stored_after(incoming, [form, nxt], Ending.PAGE) == [form, nxt]


class TestUnreadKeep:
    def test_a_page_passes_on_what_no_read_returned(self, incoming: Bag) -> None:
        """docs/lifecycle.rst, "Unread flashes": under ``unread="keep"`` a
        page consumes only what it showed.
        """
        incoming.error.shown = incoming.hello.shown = True
        result = stored_after(incoming, [], Ending.PAGE, keep_unread=True)
        assert result == [incoming.form, incoming.bad]

    def test_kept_ones_as_before(self, incoming: Bag) -> None:
        """docs/lifecycle.rst, "Unread flashes": a kept flash stays, shown or not."""
        incoming.error.shown = incoming.error.kept = True
        result = stored_after(incoming, [], Ending.PAGE, keep_unread=True)
        assert result == list(incoming)

    def test_clear_forgets_the_unread_ones(self, incoming: Bag) -> None:
        """docs/lifecycle.rst, "Unread flashes": clear also forgets unread
        incoming flashes.
        """
        incoming.form.kept = True
        result = stored_after(incoming, [], Ending.PAGE, keep_unread=True, cleared=True)
        assert result == [incoming.form]


def test_messages_and_values_are_independent(incoming: Bag) -> None:
    """docs/lifecycle.rst, "Messages of this request": a message never
    replaces a value of the same name, nor the other way round.
    """
    msg, val = message("error", "m", own=True), value("bad", "v", own=True)
    assert stored_after(incoming, [val, msg], Ending.REDIRECT) == [
        incoming.error,
        incoming.form,
        val,
        incoming.bad,
        incoming.hello,
        msg,
    ]


class TestOwnMessages:
    """docs/lifecycle.rst, "Messages of this request"."""

    @pytest.mark.parametrize("ending", [Ending.PAGE, Ending.REDIRECT])
    @pytest.mark.parametrize("keep_unread", [False, True])
    def test_shown_and_now_messages_are_not_passed_on(
        self, ending: Ending, keep_unread: bool
    ) -> None:
        """A message flashed and shown here has been seen; a now one never travels."""
        shown, unshown = own_message("shown", shown=True), own_message("unshown")
        now = own_message("now", now=True)
        result = stored_after(
            [], [shown, unshown, now], ending, keep_unread=keep_unread
        )
        assert result == [unshown]

    def test_head_passes_on_shown_messages_but_never_now_ones(self) -> None:
        """A HEAD request shows nothing; a now message is never stored."""
        shown = own_message("shown", shown=True)
        unshown = own_message("unshown")
        now = own_message("now", now=True, shown=True)
        assert stored_after([], [shown, unshown, now], Ending.HEAD) == [shown, unshown]


class TestNewSession:
    @pytest.mark.parametrize("ending", [Ending.PAGE, Ending.REDIRECT, Ending.HEAD])
    def test_nothing_incoming_crosses_into_it(
        self, incoming: Bag, ending: Ending
    ) -> None:
        """docs/lifecycle.rst, "New sessions": nothing incoming is carried or
        kept; what the request set goes into the new session.
        """
        incoming.error.kept = True
        own = [own_value("set", "here"), own_message("here")]
        for keep_unread in (False, True):
            result = stored_after(
                incoming,
                own,
                ending,
                new_session=True,
                keep_all=True,
                keep_unread=keep_unread,
            )
            assert result == own

    def test_a_failed_request_changes_nothing(self, incoming: Bag) -> None:
        """docs/lifecycle.rst, "The table": the first row wins."""
        assert stored_after(incoming, [], Ending.UNCHANGED, new_session=True) is None


# -- the rule as a property -------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c"])
TEXT = st.text(max_size=6)  # any Unicode but lone surrogates
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
DATA = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3)
    ),
    max_leaves=6,
)
TIMES = st.integers(0, T0)


@st.composite
def flash_lists(
    draw: st.DrawFn, *, own: bool = False, marks: bool = True
) -> list[Flash]:
    """Values under distinct keys, then messages, as a bag or a request holds them.

    ``marks``: what happened in the request (shown, kept; now for own messages).
    """
    flashes = []
    for key in draw(st.lists(KEYS, unique=True, max_size=3)):
        data = draw(DATA)
        flashes.append(
            value(
                key,
                data,
                draw(TIMES),
                safe=isinstance(data, str) and draw(st.booleans()),
                own=own,
                shown=marks and not own and draw(st.booleans()),
                kept=marks and not own and draw(st.booleans()),
            )
        )
    for _ in range(draw(st.integers(0, 3))):
        data = draw(DATA)
        flashes.append(
            message(
                draw(KEYS | TEXT),
                data,
                draw(TIMES),
                safe=isinstance(data, str) and draw(st.booleans()),
                own=own,
                now=marks and own and draw(st.booleans()),
                shown=marks and draw(st.booleans()),
                kept=marks and not own and draw(st.booleans()),
            )
        )
    return flashes


@given(
    flash_lists(),
    flash_lists(own=True),
    st.sampled_from(Ending),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_what_the_rule_never_does(
    incoming: list[Flash],
    own: list[Flash],
    ending: Ending,
    keep_all: bool,
    cleared: bool,
    new_session: bool,
    keep_unread: bool,
) -> None:
    """docs/lifecycle.rst, "The table" and "Messages of this request": the
    result is drawn from incoming and own, in their order, values first;
    never a now message, never an own message shown here (but on HEAD),
    never anything incoming after a new session, one value per key; what
    this request passed on is always there.
    """
    result = stored_after(
        incoming,
        own,
        ending,
        keep_all=keep_all,
        cleared=cleared,
        new_session=new_session,
        keep_unread=keep_unread,
    )
    if ending is Ending.UNCHANGED:
        assert result is None
        return
    assert result is not None
    rank = {id(f): i for i, f in enumerate([*incoming, *own])}
    assert all(id(f) in rank for f in result)
    values = [f for f in result if not f.message]
    messages = [f for f in result if f.message]
    assert result == values + messages
    for part in (values, messages):
        assert [rank[id(f)] for f in part] == sorted(rank[id(f)] for f in part)
    assert len({f.key for f in values}) == len(values)
    assert not any(f.now for f in result)
    if ending is not Ending.HEAD:
        assert not any(f.own and f.shown for f in result)
    if new_session:
        assert all(f.own for f in result)
    passed_on = [f for f in own if not f.now and (ending is Ending.HEAD or not f.shown)]
    assert without(passed_on, result) == []


# -- size ---------------------------------------------------------------------------


def stored_size(flashes: list[Flash]) -> int:
    """Bytes of the stored form, as aiohttp-session's ``json.dumps`` writes it."""
    data = encode(flashes)
    return 0 if data is None else len(json.dumps(data))


@given(flash_lists(marks=False))
def test_size_is_the_length_of_json_dumps(flashes: list[Flash]) -> None:
    """docs/lifecycle.rst, "Size": measured as ``json.dumps`` encodes it,
    non-ASCII text, Markup and nested data included.
    """
    measured = size(flashes)
    assert measured.total() == stored_size(flashes)
    for flash in flashes[::2]:
        measured = measured.plus(flash, -1)
    assert measured.total() == stored_size(flashes[1::2])


_ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner)
        | st.tuples(inner)
        | st.dictionaries(st.text() | st.integers(), inner)
    ),
    max_leaves=20,
)


@given(_ANY_JSON)
def test_json_size_is_the_length_of_json_dumps(data: Any) -> None:
    """docs/lifecycle.rst, "Size": the session's data (what the cookie
    bound measures) counted as ``json.dumps`` writes it, whatever it holds.
    """
    assert json_size(data) == len(json.dumps(data))


def test_size_of_a_known_bag() -> None:
    """docs/lifecycle.rst, "Size": a worked example, escapes included."""
    flashes = [
        value("form", {"name": "Zoë"}),
        message("info", Markup("<b>ok</b>"), safe=True),
    ]
    expected = (
        '{"__aiohttp_flashbag__": [2, {"form": [1700000000, {"name": "Zo\\u00eb"}]}, '
        '[[1700000000, "info", "<b>ok</b>", 1]]]}'
    )
    assert json.dumps(encode(flashes)) == expected
    assert size(flashes).total() == len(expected)
    for one in flashes:  # no separator: the empty form and the entry
        assert size([one]).total() == len(json.dumps(encode([one])))
    assert Size().total() == 0


class TestFit:
    """docs/lifecycle.rst, "Size": the oldest carried flashes give way."""

    def test_oldest_carried_flashes_give_way_first(self) -> None:
        """Oldest first, and this request's own never, whatever their times."""
        old, mid = value("old", "o" * 40, T0), value("mid", "m" * 40, T0 + 2)
        info = message("info", "i" * 40, T0 + 1)
        new = value("new", "n" * 40, T0 - 5, own=True)
        later = message("m", "x" * 40, T0 - 5, own=True)
        flashes = [old, mid, new, info, later]
        limit = stored_size([mid, new, later])
        assert fit(flashes, limit) == ([mid, new, later], [old, info])

    def test_values_give_way_before_messages_of_the_same_second(self) -> None:
        """Within a second, values first, each in stored order."""
        first, second = message("m", "1" * 30), message("m", "2" * 30)
        a, b = value("a", "a" * 30), value("b", "b" * 30)
        flashes = [a, b, first, second]
        assert give_way(flashes) == [a, b, first, second]
        kept, dropped = fit(flashes, stored_size([b, first, second]))
        assert (kept, dropped) == ([b, first, second], [a])
        kept, dropped = fit(flashes, stored_size([second]))
        assert (kept, dropped) == ([second], [a, b, first])

    def test_own_flashes_give_way_last(self) -> None:
        """Own flashes come last in the order, however old their time."""
        own = value("own", 1, 0, own=True)
        carried = message("m", 1, T0 + 9)
        older = value("older", 1, T0)
        assert give_way([own, carried, older]) == [older, carried, own]

    def test_own_flashes_that_can_never_be_stored_give_way_first(self) -> None:
        """An own flash larger than the limit on its own goes before any
        carried one; then carried flashes, oldest first; then own ones.
        """
        carried = [value("a", "x"), message("m", "y")]
        hopeless = value("b", "z" * 50, own=True)
        small = message("m", "w", own=True)
        limit = stored_size([*carried, small])
        kept, dropped = fit([*carried, hopeless, small], limit)
        assert (kept, dropped) == ([*carried, small], [hopeless])

    def test_own_flashes_give_way_when_they_must_oldest_first(self) -> None:
        carried = value("a", "x")
        own = [value("b", "y", T0, own=True), value("c", "z" * 50, T0 + 1, own=True)]
        kept, dropped = fit([carried, *own], stored_size([own[1]]))
        assert (kept, dropped) == ([own[1]], [carried, own[0]])

    @given(
        st.lists(
            st.tuples(
                st.booleans(),
                st.text(max_size=6),
                st.one_of(st.text(max_size=30), st.integers(), st.booleans()),
                st.booleans(),
            ),
            max_size=8,
        ),
        st.integers(11, 400),
    )
    def test_what_is_kept_fits_and_what_fits_is_kept(
        self, items: list[tuple[bool, str, Any, bool]], limit: int
    ) -> None:
        """The bound is exact where it matters: whatever the text (escaped
        to up to 12 bytes a character), the kept bag is within the limit,
        and a bag within it loses nothing.
        """
        flashes: list[Flash] = []
        for is_message, key, data, own in items:
            if is_message:
                flashes.append(message(key, data, own=own))
            elif key not in {f.key for f in flashes if not f.message}:
                flashes.append(value(key, data, own=own))
        kept, dropped = fit(flashes, limit)
        assert stored_size(kept) <= limit or not kept
        if stored_size(flashes) <= limit:
            assert dropped == []
        assert len(kept) + len(dropped) == len(flashes)

    def test_what_fits_is_untouched(self, incoming: Bag) -> None:
        flashes = list(incoming)
        assert fit(flashes, stored_size(flashes)) == (flashes, [])
        assert fit(flashes, None) == (flashes, [])


# -- the stored form --------------------------------------------------------------


def typed(data: Any) -> Any:
    """``data`` with the type of every scalar: ``True``, ``1`` and ``1.0`` differ."""
    if isinstance(data, dict):
        return {key: typed(item) for key, item in data.items()}
    if isinstance(data, list):
        return [typed(item) for item in data]
    return (type(data).__name__, data)


def facts(flash: Flash) -> tuple[Any, ...]:
    return (flash.key, typed(flash.value), flash.set_at, flash.message, flash.safe)


class TestEncoding:
    """docs/lifecycle.rst, "Bounded life" and "Bad input and faults"."""

    def test_the_stored_form(self) -> None:
        """Values by key, then messages, each with its time; Markup marked."""
        flashes = [
            value("error", "Name is required"),
            value("html", "<b>x</b>", T0 + 1, safe=True),
            message("info", "Hello"),
            message("info", "<a href=/>x</a>", T0 + 2, safe=True),
        ]
        data = encode(flashes)
        assert data == {
            "__aiohttp_flashbag__": [
                2,
                {"error": [T0, "Name is required"], "html": [T0 + 1, "<b>x</b>", 1]},
                [[T0, "info", "Hello"], [T0 + 2, "info", "<a href=/>x</a>", 1]],
            ]
        }
        loaded = decode(data, T0 + 5, 600)
        assert loaded is not None
        assert not loaded.rewrite
        assert [facts(f) for f in loaded.flashes] == [facts(f) for f in flashes]

    def test_the_bare_list_of_earlier_builds_is_read_and_rewritten(self) -> None:
        """docs/lifecycle.rst, "Bad input and faults": the version 2 list that
        earlier builds stored bare is read with its times, and written back
        in the current form, which aiohttp-flashbag 0.0.3 can read.
        """
        flashes = [value("error", "Bad", T0 + 1), message("info", "Hi", T0 + 2)]
        data = encode(flashes)
        assert data is not None
        loaded = decode(data["__aiohttp_flashbag__"], T0 + 5, 600)
        assert loaded is not None
        assert loaded.rewrite
        assert [facts(f) for f in loaded.flashes] == [facts(f) for f in flashes]

    def test_0_0_3_reads_nothing_an_application_names_in_the_stored_form(
        self,
    ) -> None:
        """docs/lifecycle.rst, "Bad input and faults": 0.0.3 reads the
        stored object as key to value: its only key is no application's.
        """
        data = encode([value("error", "Bad"), message("message", "Hi")])
        assert isinstance(data, dict)
        assert list(data) == ["__aiohttp_flashbag__"]

    def test_no_flashes_are_not_stored(self) -> None:
        """docs/lifecycle.rst, "Writes": an empty bag is removed, never stored."""
        assert encode([]) is None

    def test_0_0_3_data_is_read_as_values_set_now(self) -> None:
        """docs/lifecycle.rst, "Bounded life": older data is read as set now
        and written back in the current form.
        """
        loaded = decode({"error": "Name is required", "n": 1}, T0 + 0.5, 600)
        assert loaded is not None
        assert loaded.rewrite
        assert [facts(f) for f in loaded.flashes] == [
            ("error", ("str", "Name is required"), T0 + 1, False, False),
            ("n", ("int", 1), T0 + 1, False, False),
        ]
        assert decode({}, T0, 600) == Loaded([], rewrite=True)

    def test_format_1_is_read_as_set_now(self) -> None:
        """docs/lifecycle.rst, "Bounded life": format 1 carries no time."""
        loaded = decode([1, {"a": 1.0}, [["error", "Bad"]]], T0, 600)
        assert loaded is not None
        assert loaded.rewrite
        assert [facts(f) for f in loaded.flashes] == [
            ("a", ("float", 1.0), T0, False, False),
            ("error", ("str", "Bad"), T0, True, False),
        ]

    @pytest.mark.parametrize(
        "garbage",
        [
            None,
            "text",
            42,
            True,
            [],
            [1, {}],
            [3, {}, []],
            ["2", {}, []],
            [1, [], []],
            [1, {}, {}],
            [1, {}, ["message"]],
            [1, {}, [["a", "b", "c"]]],
            [1, {}, [["a", "b"]], "extra"],
            [2, {}, "m"],
            {"__aiohttp_flashbag__": [2, {}, []], "error": "Bad"},
            {"__aiohttp_flashbag__": "text"},
            {"__aiohttp_flashbag__": [3, {}, []]},
            {"__aiohttp_flashbag_redis__": "0123456789abcdef"},
        ],
    )
    def test_garbage_is_not_ours(self, garbage: Any) -> None:
        """docs/lifecycle.rst, "Bad input and faults": not what this library writes."""
        assert decode(garbage, T0, 600) is None

    @pytest.mark.parametrize(
        "garbage",
        [
            [True, {}, []],
            [True, {"a": 1}, [["m", "x"]]],
        ],
    )
    def test_json_true_is_not_the_number_1_in_the_stored_form(
        self, garbage: Any
    ) -> None:
        """docs/lifecycle.rst, "Bad input and faults": ``true`` where this
        library writes ``1`` (the version) is not its form.
        """
        assert decode(garbage, T0, 600) is None

    @pytest.mark.parametrize(
        "misshapen",
        [
            {"a": 1},
            {"a": [T0]},
            {"a": ["T0", 1]},
            {"a": [T0, 1, 2]},
            {"a": [-1, 1]},
            {"a": [True, 1]},
            {"a": [T0 + 0.5, 1]},
            {"a": [T0, 1, True]},  # true is not the Markup mark 1
            [[T0, "m"]],
            [[True, "c", "m"]],
            [[T0, "c", "m", True]],
            [[T0 - 0.5, "c", "m"]],
            ["m"],
        ],
    )
    def test_an_entry_of_another_shape_is_dropped_and_the_others_read(
        self, misshapen: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        """docs/lifecycle.rst, "Bad input and faults": in this library's form,
        a flash whose entry has a shape it never writes is dropped with a
        WARNING; the others are read, with their times.
        """
        values: dict[str, Any] = {"ok": [T0 - 5, 1]}
        messages: list[Any] = [[T0 - 7, "c", "fine"]]
        if isinstance(misshapen, dict):
            values.update(misshapen)
        else:
            messages[:0] = misshapen
        with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
            loaded = decode({MARKER: [2, values, messages]}, T0, 600)
        assert loaded is not None
        assert loaded.rewrite
        assert [(f.key, f.value, f.set_at) for f in loaded.flashes] == [
            ("ok", 1, T0 - 5),
            ("c", "fine", T0 - 7),
        ]
        assert "Dropped 1 stored flash(es) of a shape" in caplog.text


class TestBoundedLife:
    """docs/lifecycle.rst, "Bounded life"."""

    def test_flashes_older_than_max_age_are_left_out(self) -> None:
        stored = [
            value("old", 1, T0),
            value("new", 2, T0 + 100),
            message("m", "old", T0),
            message("m", "new", T0 + 100),
        ]
        loaded = decode(encode(stored), T0 + 650, 600)
        assert loaded is not None
        assert loaded.rewrite
        assert [facts(f) for f in loaded.flashes] == [
            facts(stored[1]),
            facts(stored[3]),
        ]

    def test_exactly_max_age_is_not_older(self) -> None:
        stored = encode([value("a", 1, T0)])
        at_limit = decode(stored, T0 + 600, 600)
        assert at_limit is not None
        assert [f.key for f in at_limit.flashes] == ["a"]
        assert not at_limit.rewrite
        past = decode(stored, T0 + 600.5, 600)
        assert past == Loaded([], rewrite=True)

    def test_none_turns_it_off(self) -> None:
        loaded = decode(encode([value("a", 1, 0)]), T0, None)
        assert loaded is not None
        assert [f.set_at for f in loaded.flashes] == [0]
        assert not loaded.rewrite

    def test_a_time_in_the_future_is_read_as_now(self) -> None:
        """A clock ahead gives no extra life: the time becomes the reader's now."""
        loaded = decode(
            encode([value("a", 1, T0 + 900), message("m", "x", T0)]), T0, 600
        )
        assert loaded is not None
        assert [f.set_at for f in loaded.flashes] == [T0, T0]
        assert loaded.rewrite

    @pytest.mark.parametrize(
        "older", [{"a": 1}, [1, {"a": 1}, [["m", "x"]]]], ids=["0.0.3", "format-1"]
    )
    def test_older_forms_are_set_now_and_never_expired(self, older: Any) -> None:
        loaded = decode(older, T0 + 0.5, 600)
        assert loaded is not None
        assert {f.set_at for f in loaded.flashes} == {T0 + 1}
        assert loaded.rewrite


@given(flash_lists(marks=False))
def test_whatever_is_encoded_decodes_to_itself(flashes: list[Flash]) -> None:
    """docs/lifecycle.rst, "Writes": a value is stored exactly as it was set."""
    data = encode(flashes)
    if not flashes:
        assert data is None
        return
    loaded = decode(json.loads(json.dumps(data)), T0, None)
    assert loaded is not None
    assert not loaded.rewrite
    assert [facts(f) for f in loaded.flashes] == [facts(f) for f in flashes]
    assert not any(f.own or f.now or f.shown or f.kept for f in loaded.flashes)


# -- stored flashes a write would refuse -----------------------------------------------

LONE_SURROGATE = json.loads('"\\ud800"')
DEEP = json.loads("[" * 600 + "]" * 600)


@pytest.mark.parametrize(
    ("stored", "left"),
    [
        (
            [
                2,
                {"deep": [T0, DEEP], "ok": [T0, 1], LONE_SURROGATE: [T0, 2]},
                [
                    [T0, "info", "bad " + LONE_SURROGATE],
                    [T0, 3, "a category that is not text"],
                    [T0, "info", "fine"],
                    [T0, "info", [{"k": {1: "a key that is not text"}}]],
                ],
            ],
            [("ok", 1), ("info", "fine")],
        ),
        ([1, {"deep": DEEP, "ok": 1}, [["info", LONE_SURROGATE]]], [("ok", 1)]),
        ({"deep": DEEP, "bad": {2: "x"}, "ok": 1, 3: "key"}, [("ok", 1)]),
    ],
    ids=["format-2", "format-1", "0.0.3"],
)
def test_stored_flashes_a_write_would_refuse_are_dropped(
    caplog: pytest.LogCaptureFixture, stored: Any, left: list[tuple[str, Any]]
) -> None:
    """docs/lifecycle.rst, "Bad input and faults": such a flash is dropped
    when loaded, with a WARNING; the others are read.
    """
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        loaded = decode(stored, T0, 600)
    assert loaded is not None
    assert [(f.key, f.value) for f in loaded.flashes] == left
    assert loaded.rewrite
    [warning] = caplog.records
    assert warning.levelno == logging.WARNING
    assert "Dropped" in warning.getMessage()
    assert "'ok'" not in warning.getMessage()


# -- JSON data ----------------------------------------------------------------------


class Color(enum.IntEnum):
    RED = 1


def nested(levels: int) -> Any:
    data: Any = "bottom"
    for _ in range(levels):
        data = [data]
    return data


class TestPlain:
    """docs/lifecycle.rst, "Bad input and faults" and "Writes"."""

    @pytest.mark.parametrize(
        "data",
        [
            {1: "a"},
            [{"ok": {None: 1}}],
            {("t",): 1},
            float("nan"),
            float("inf"),
            [-math.inf],
            {1, 2},
            frozenset(),
            b"bytes",
            bytearray(b"x"),
            object(),
            datetime.datetime(2026, 1, 1),
            LONE_SURROGATE,
            ["fine", {"k": "x" + LONE_SURROGATE}],
            {LONE_SURROGATE: 1},
            Markup(LONE_SURROGATE),
            nested(MAX_DEPTH + 1),
            DEEP,
        ],
    )
    def test_what_json_cannot_hold_exactly_is_refused(self, data: Any) -> None:
        with pytest.raises(Refused):
            plain(data)

    def test_cycles_are_refused_not_a_recursion_error(self) -> None:
        cycle: list[Any] = []
        cycle.append(cycle)
        loop: dict[str, Any] = {}
        loop["self"] = loop
        for data in (cycle, loop):
            with pytest.raises(Refused, match="deeper"):
                plain(data)

    def test_32_levels_are_accepted(self) -> None:
        assert plain(nested(MAX_DEPTH)) == nested(MAX_DEPTH)

    def test_types_are_kept_exactly(self) -> None:
        """``True``, ``1`` and ``1.0`` are equal in Python, not in JSON."""
        data = [True, 1, 1.0, {"b": False, "i": 0, "f": 0.0, "n": None}]
        assert typed(plain(data)) == typed(data)
        assert typed(plain((True, 1, 1.0))) == typed([True, 1, 1.0])

    def test_subclasses_become_their_json_type(self) -> None:
        assert typed(plain([Color.RED, Markup("<b>"), ("t",)])) == typed(
            [1, "<b>", ["t"]]
        )

    def test_the_result_is_a_copy(self) -> None:
        data: dict[str, Any] = {"tags": ["a"]}
        copy = plain(data)
        data["tags"].append("b")
        assert copy == {"tags": ["a"]}

    @given(DATA)
    def test_json_data_survives_a_round_trip_exactly(self, data: Any) -> None:
        copy = plain(data)
        assert typed(copy) == typed(data)
        assert typed(json.loads(json.dumps(copy))) == typed(copy)
