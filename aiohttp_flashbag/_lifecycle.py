"""The flash lifecycle as a pure rule: data in, data out, no aiohttp.

Everything the SPEC's lifecycle table says lives in :func:`ending_of` (how did
the request end?) and :func:`next_stored_bag` (what is stored afterwards?).
:func:`fit` applies the size bound, and :func:`decode` and :func:`encode`
translate between a :class:`StoredBag` and the JSON data kept in the session.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Final, NamedTuple

__all__ = (
    "EMPTY",
    "FORMAT_VERSION",
    "HEAD",
    "PAGE",
    "REDIRECT",
    "UNCHANGED",
    "Activity",
    "Ending",
    "Flash",
    "Message",
    "StoredBag",
    "decode",
    "encode",
    "ending_of",
    "fit",
    "next_stored_bag",
    "stored_size",
)

#: First item of the stored list. Version 1 (no timestamps) and the plain
#: object of aiohttp-flashbag 0.0.3 are still read.
FORMAT_VERSION: Final = 2


class Message(NamedTuple):
    """One flashed message: a ``(category, message)`` pair."""

    category: str
    message: Any


class Flash(NamedTuple):
    """One stored flash: a keyed value, or a message under its category."""

    #: the value's key, or the message's category
    key: str
    #: JSON data; the text of a ``Markup`` when ``safe``
    value: Any
    #: ``time.time()`` (whole seconds, rounded up) of the request that set it
    set_at: int
    #: the value was a ``markupsafe.Markup``
    safe: bool = False


class StoredBag(NamedTuple):
    """What the session holds for flashes: keyed values and ordered messages."""

    values: Mapping[str, Flash]
    messages: Sequence[Flash]


EMPTY: Final = StoredBag({}, ())


class Ending(enum.Enum):
    """How a request ended, as far as flashes care."""

    #: a crash, a status of 500 or more, or a response already sent
    UNCHANGED = "unchanged"
    #: a HEAD request: nothing is consumed
    HEAD = "head"
    #: a redirect, by status or by htmx header: unread flashes travel on
    REDIRECT = "redirect"
    #: any other response: flashes were shown and are gone
    PAGE = "page"


# The members by module name, as the rule and the scope use them (see
# "Performance notes" in the README).
UNCHANGED: Final = Ending.UNCHANGED
HEAD: Final = Ending.HEAD
REDIRECT: Final = Ending.REDIRECT
PAGE: Final = Ending.PAGE


def ending_of(
    method: str, status: int | None, *, sent: bool = False, hx_redirect: bool = False
) -> Ending:
    """Classify a request; ``status`` is ``None`` when it raised a non-HTTP error."""
    if status is None or status >= 500 or sent:
        return UNCHANGED
    if method == "HEAD":
        return HEAD
    if 300 <= status < 400 or hx_redirect:
        return REDIRECT
    return PAGE


class Activity(NamedTuple):
    """What one request did with its flashes."""

    #: outgoing values, by key, and the messages this request flashed, in order
    values: Mapping[str, Flash]
    messages: Sequence[Flash]
    #: indices into ``messages`` of those flashed with ``now=True``
    now: AbstractSet[int]
    #: incoming keys read; incoming and own message indices a read returned
    read_keys: AbstractSet[str]
    read_messages: AbstractSet[int]
    shown_own: AbstractSet[int]
    kept_keys: AbstractSet[str]
    keep_all: bool
    #: false once the request called ``clear()``
    carry_unread: bool
    #: the handler switched to a new session (log in, log out)
    new_session: bool


def carried(incoming: StoredBag, ending: Ending, done: Activity) -> StoredBag:
    """What of ``incoming`` stays after the request, without its own flashes."""
    if ending is UNCHANGED:
        return incoming
    if done.new_session:  # flashes never cross from one session to another
        return EMPTY
    if ending is HEAD:
        return incoming
    carry = done.carry_unread and ending is REDIRECT
    return StoredBag(
        {
            key: flash
            for key, flash in incoming.values.items()
            if done.keep_all
            or key in done.kept_keys
            or (carry and key not in done.read_keys)
        },
        tuple(
            message
            for index, message in enumerate(incoming.messages)
            if done.keep_all or (carry and index not in done.read_messages)
        ),
    )


def passed_on(ending: Ending, done: Activity) -> StoredBag:
    """What the request itself stores: its values and its messages, except
    ``now`` ones and (but for HEAD, which consumes nothing) those it showed.
    """
    if ending is UNCHANGED:
        return EMPTY
    gone = done.now if ending is HEAD else done.now | done.shown_own
    return StoredBag(
        done.values, tuple(m for i, m in enumerate(done.messages) if i not in gone)
    )


def merged(older: StoredBag, newer: StoredBag) -> StoredBag:
    """``newer`` over ``older``: newer values win per key, messages follow."""
    if not newer.values and not newer.messages:
        return older
    return StoredBag(
        {**older.values, **newer.values}, (*older.messages, *newer.messages)
    )


def next_stored_bag(incoming: StoredBag, ending: Ending, done: Activity) -> StoredBag:
    """The stored bag after a request, by the SPEC's lifecycle table."""
    return merged(carried(incoming, ending, done), passed_on(ending, done))


def stored_size(bag: StoredBag) -> int:
    """Bytes of the bag as the session stores it (``json.dumps`` defaults)."""
    data = encode(bag)
    return 0 if data is None else len(json.dumps(data))


def oldest_first(bag: StoredBag) -> list[Flash]:
    """The flashes of ``bag`` in the order they give way to a size bound.

    Oldest first; among flashes set in the same second, values before
    messages, each in stored order.
    """
    ranked = [
        *((f.set_at, 0, i, f) for i, f in enumerate(bag.values.values())),
        *((f.set_at, 1, i, f) for i, f in enumerate(bag.messages)),
    ]
    ranked.sort(key=lambda item: item[:3])
    return [item[3] for item in ranked]


def without(bag: StoredBag, flash: Flash) -> StoredBag:
    """``bag`` less one of its flashes (compared by identity)."""
    if bag.values.get(flash.key) is flash:
        return StoredBag(
            {k: f for k, f in bag.values.items() if f is not flash}, bag.messages
        )
    return StoredBag(bag.values, tuple(m for m in bag.messages if m is not flash))


def fit(
    older: StoredBag, newer: StoredBag, fits: Callable[[StoredBag], bool]
) -> tuple[StoredBag, list[Flash]]:
    """``newer`` over ``older``, dropping older flashes, oldest first, to fit.

    Returns the bag and the flashes dropped. ``newer`` is never dropped.
    """
    older = StoredBag(
        {k: f for k, f in older.values.items() if k not in newer.values},
        older.messages,
    )
    bag = merged(older, newer)
    dropped: list[Flash] = []
    if fits(bag):
        return bag, dropped
    for flash in oldest_first(older):
        if fits(bag):
            break
        older = without(older, flash)
        dropped.append(flash)
        bag = merged(older, newer)
    return bag, dropped


# -- stored form ---------------------------------------------------------------


def _flash_data(flash: Flash, *head: Any) -> list[Any]:
    return [*head, flash.value, 1] if flash.safe else [*head, flash.value]


def encode(bag: StoredBag) -> list[Any] | None:
    """The JSON data to keep in the session, or ``None`` for an empty bag.

    ``[2, {"key": [set_at, value]}, [[set_at, "category", message], ...]]``;
    a ``Markup`` entry has a trailing ``1``.
    """
    if not bag.values and not bag.messages:
        return None
    return [
        FORMAT_VERSION,
        {key: _flash_data(flash, flash.set_at) for key, flash in bag.values.items()},
        [_flash_data(flash, flash.set_at, flash.key) for flash in bag.messages],
    ]


# Builds a NamedTuple as tuples are built (see "Performance notes" in the
# README): decoding runs on every scoped request with flashes.
_new: Final[Any] = tuple.__new__


def _entry(item: Any, width: int) -> bool:
    """Is ``item`` ``[set_at, (category,) value]``, with an optional ``1``?"""
    return (
        type(item) is list
        and (len(item) == width or (len(item) == width + 1 and item[-1] == 1))
        and type(item[0]) is int
        and item[0] >= 0
        and (len(item) == width or type(item[-1]) is int)
    )


def decode(raw: Any, now: float, max_age: float | None = None) -> StoredBag | None:
    """Read what the session holds; ``None`` means it is not ours to read.

    Flashes set more than ``max_age`` seconds before ``now`` are left out.
    Reads this version's form, version 1 (``[1, {values}, [[category,
    message], ...]]``) and 0.0.3's plain object of key to value; the older
    forms carry no time and are read as set ``now``. A missing entry is an
    empty bag.
    """
    if raw is None:
        return EMPTY
    if not (type(raw) is list and len(raw) == 3 and type(raw[0]) is int):
        if type(raw) is dict:  # aiohttp-flashbag 0.0.3
            return _decode_older(raw, [], math.ceil(now))
        return None
    stored_values, stored_messages = raw[1], raw[2]
    if type(stored_values) is not dict or type(stored_messages) is not list:
        return None
    if raw[0] == 1:
        return _decode_older(stored_values, stored_messages, math.ceil(now))
    if raw[0] != FORMAT_VERSION:
        return None
    oldest = -math.inf if max_age is None else now - max_age
    values: dict[str, Flash] = {}
    for key, item in stored_values.items():
        if not _entry(item, 2):
            return None
        if item[0] >= oldest:
            values[key] = _new(Flash, (key, item[1], item[0], len(item) == 3))
    messages: list[Flash] = []
    for item in stored_messages:
        if not _entry(item, 3) or type(item[1]) is not str:
            return None
        if item[0] >= oldest:
            messages.append(_new(Flash, (item[1], item[2], item[0], len(item) == 4)))
    bag: StoredBag = _new(StoredBag, (values, tuple(messages)))
    return bag


def _decode_older(
    values: dict[Any, Any], messages: list[Any], now: int
) -> StoredBag | None:
    """Version 1, or 0.0.3's object of values: flashes without a time."""
    if not all(type(key) is str for key in values) or not all(
        type(item) is list and len(item) == 2 and type(item[0]) is str
        for item in messages
    ):
        return None
    return StoredBag(
        {key: Flash(key, value, now) for key, value in values.items()},
        tuple(Flash(category, message, now) for category, message in messages),
    )
