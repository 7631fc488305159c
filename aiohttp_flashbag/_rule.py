"""The flash lifecycle as plain data: no aiohttp, no session.

One request's flashes are :class:`Flash` records, each saying what happened
to it in this request (shown, kept, ``now``, set by this request).
:func:`stored_after` is the rule of the docs' lifecycle table (docs/
lifecycle.rst, "The table"): how the request ended → what is stored.
:func:`give_way` is the one order in which flashes yield to a size limit.
What JSON holds and the stored form are in ``_stored.py``.
"""

from __future__ import annotations

import enum
import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from json.encoder import encode_basestring_ascii
from typing import Any, Final, NamedTuple, TypeAlias

from ._levels import Message as Message  # defined there, imported from here too

logger: Final = logging.getLogger("aiohttp_flashbag")

#: JSON data: what reads of flashes return.
JSON: TypeAlias = str | int | float | bool | list["JSON"] | dict[str, "JSON"] | None
#: What writes accept: JSON data, with any sequence (a tuple, a ``range``
#: become a list) but ``bytes``, ``bytearray`` and ``memoryview``, which are
#: refused, and any mapping with ``str`` keys (stored as a ``dict``).
JSONLike: TypeAlias = (
    str | int | float | bool | Sequence["JSONLike"] | Mapping[str, "JSONLike"] | None
)

#: First item of the stored list. Version 1 (no times) and the plain object
#: of aiohttp-flashbag 0.0.3 are still read.
FORMAT_VERSION: Final = 2
#: The one key of the stored object, ``{MARKER: [2, {values}, [messages]]}``.
#: An object, so that aiohttp-flashbag 0.0.3 (a rolling deploy, a rollback)
#: reads it without failing, and a key no application uses, so that 0.0.3's
#: ``flashbag_get`` returns its default rather than this version's data
#: (docs/coming-from.rst, "Rolling deploys and rollbacks").
MARKER: Final = "__aiohttp_flashbag__"
#: Containers nested deeper than this are refused: aiohttp-session's JSON
#: decoder would fail on every later request of the session.
MAX_DEPTH: Final = 32


class Flash:
    """One flash, and what happened to it in this request.

    The first five fields are the flash; the rest, what happened to it in
    this request, start from the class's defaults and are set when they
    change (most flashes never change them).
    """

    #: the value's key, or the message's category
    key: str
    #: JSON data; the text of a ``Markup`` when ``safe``
    value: JSON
    #: ``time.time()`` (whole seconds, rounded up) of the request that set it
    set_at: int
    #: a message (else a keyed value)
    message: bool
    #: the value was a ``markupsafe.Markup``
    safe: bool
    #: set by this request (else incoming)
    own: bool = False
    #: ``flash(..., now=True)``: for this request's reads only
    now: bool = False
    #: a read in this request returned it
    shown: bool = False
    #: ``flashbag_keep`` named it
    kept: bool = False
    #: bytes of its entry in the stored form, once measured
    size: int = -1
    #: the store's own name for it (the Redis store's field), if any
    ref: Any = None
    #: a message's stored options (extra tags, a lazy message's parameters;
    #: aiohttp_flashbag/_lazy.py), ``None`` for a plain message
    options: dict[str, Any] | None = None
    #: the order this request wrote its own flashes in
    seq: int = 0
    #: stored with a time ahead of the reader's clock: the commit that
    #: carries or keeps it stamps it with its own now
    skewed: bool = False

    def __init__(
        self,
        key: str,
        value: JSON,
        set_at: int,
        message: bool,
        safe: bool = False,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.key, self.value, self.set_at = key, value, set_at
        self.message, self.safe = message, safe
        if options is not None:
            self.options = options

    def __repr__(self) -> str:
        return f"Flash({self.key!r}, {self.value!r}, {self.set_at!r}, {self.message!r})"


class Ending(enum.Enum):
    """How a request ended, as far as flashes care."""

    #: a crash, a status of 500 or more, or a response already sent
    UNCHANGED = "unchanged"
    #: a HEAD request: nothing is consumed
    HEAD = "head"
    #: a redirect, by status or by an htmx header: unread flashes travel on
    REDIRECT = "redirect"
    #: any other response: what was not shown is consumed (or, under
    #: ``unread="keep"``, kept)
    PAGE = "page"


def ending_of(method: str, status: int | None, *, redirect: bool = False) -> Ending:
    """Classify a request; ``status`` is ``None`` for a crash or a sent response.

    ``redirect``: an htmx header that makes the browser go elsewhere.
    """
    if status is None or status >= 500 or status < 200:  # 1xx: a switch
        return Ending.UNCHANGED
    if method == "HEAD":
        return Ending.HEAD
    if 300 <= status < 400 or redirect:
        return Ending.REDIRECT
    return Ending.PAGE


def stored_after(
    incoming: list[Flash],
    own: list[Flash],
    ending: Ending,
    *,
    keep_all: bool = False,
    cleared: bool = False,
    new_session: bool = False,
    keep_unread: bool = False,
) -> list[Flash] | None:
    """The stored bag after a request; ``None``: leave it as it is.

    ``keep_all``: ``flashbag_keep()`` with no key. ``cleared``:
    ``flashbag_clear()``, after which nothing incoming travels on unless kept
    again. ``new_session``: the handler switched sessions (log in, log out).
    ``keep_unread``: ``unread="keep"``, a page passes on what it did not show.
    Values come first, then messages, each in order; an own value replaces
    an incoming one under the same key.
    """
    if ending is Ending.UNCHANGED:
        return None
    if not incoming and not own:
        return []
    carry_unread = not cleared and (ending is Ending.REDIRECT or keep_unread)
    values: dict[str, Flash] = {}
    messages: list[Flash] = []
    if not new_session:  # flashes never cross from one session to another
        for f in incoming:
            if (
                ending is Ending.HEAD
                or f.kept
                or keep_all
                or (carry_unread and not f.shown)
            ):
                if f.message:
                    messages.append(f)
                else:
                    values[f.key] = f
    for f in own:
        # A message this request showed has been seen; HEAD shows nothing.
        if f.now or (f.shown and ending is not Ending.HEAD):
            continue
        if f.message:
            messages.append(f)
        else:
            values.pop(f.key, None)  # the own value wins, after the carried ones
            values[f.key] = f
    return [*values.values(), *messages]


# -- size ------------------------------------------------------------------------


def entry(flash: Flash) -> list[Any]:
    """The flash's item in the stored form."""
    item: list[Any] = (
        [flash.set_at, flash.key, flash.value]
        if flash.message
        else [flash.set_at, flash.value]
    )
    if flash.safe:
        item.append(1)
    if flash.options is not None:  # a plain message has none: no bytes more
        item.append(flash.options)
    return item


def size_of(flash: Flash) -> int:
    """Bytes the flash adds to the stored form (``json.dumps`` defaults):
    ``[set_at, "category", message]``, or ``"key": [set_at, value]``, with
    ``, 1`` for Markup and the options, if any.
    """
    if flash.size < 0:
        size = 4 + len(int.__repr__(flash.set_at)) + json_size(flash.value)
        size += json_size(flash.key) + 2  # '"category", ' or '"key": '
        if flash.safe:
            size += 3
        if flash.options is not None:
            size += 2 + json_size(flash.options)
        flash.size = size
    return flash.size


def json_size(data: Any, depth: int = 0) -> int:
    """``len(json.dumps(data))``, counted without encoding the whole:
    text is escaped (in C) as ``json.dumps`` escapes it, numbers are
    written as it writes them, and containers add their brackets and
    their ``", "`` and ``": "`` separators.
    """
    kind = type(data)
    if kind is str:
        return len(encode_basestring_ascii(data))
    if kind is int:
        return len(int.__repr__(data))
    if kind is float and math.isfinite(data):
        return len(float.__repr__(data))
    if data is None or kind is bool:
        return 5 if data is False else 4
    if depth < MAX_DEPTH and kind is list:
        size = 2 * len(data) or 2  # "[]", or "[" and "]" and ", " between
        for item in data:
            size += json_size(item, depth + 1)
        return size
    if depth < MAX_DEPTH and kind is dict:
        size = 4 * len(data) or 2  # "{}", or ": " in each and ", " between
        for key, item in data.items():
            if type(key) is not str:
                break  # json.dumps turns it into text: measured so below
            size += len(encode_basestring_ascii(key)) + json_size(item, depth + 1)
        else:
            return size
    return len(json.dumps(data))  # anything else as json.dumps writes it


class Size(NamedTuple):
    """The size of a stored bag, kept as flashes come and go."""

    values: int = 0
    messages: int = 0
    #: bytes of the entries
    entries: int = 0

    def plus(self, flash: Flash, sign: int = 1) -> Size:
        """The size with ``flash`` added (``sign=-1``: removed)."""
        if flash.message:
            return Size(
                self.values, self.messages + sign, self.entries + sign * size_of(flash)
            )
        return Size(
            self.values + sign, self.messages, self.entries + sign * size_of(flash)
        )

    def total(self) -> int:
        """``len(json.dumps(encode(flashes)))``: 0 for no flashes."""
        if not self.values and not self.messages:
            return 0
        # The empty form, '{"__aiohttp_flashbag__": [2, {}, []]}', and ", "
        # between the entries of each
        return (
            FRAME
            + self.entries
            + 2 * max(self.values - 1, 0)
            + 2 * max(self.messages - 1, 0)
        )


#: Bytes of the stored form with no entries.
FRAME: Final = len(json.dumps({MARKER: [FORMAT_VERSION, {}, []]}))


def size(flashes: Iterable[Flash]) -> Size:
    total = Size()
    for flash in flashes:
        total = total.plus(flash)
    return total


def give_way(flashes: list[Flash], limit: int | None = None) -> list[Flash]:
    """The order in which flashes give way to a size limit.

    First this request's own flashes that could never be stored (a bag
    holding only one of them is over ``limit``), then the oldest carried
    ones (within a second, values before messages, each in stored order),
    then this request's own, oldest first, in the order it wrote them.
    """

    def order(flash: Flash) -> tuple[bool, bool, int, int]:
        hopeless = flash.own and limit is not None and FRAME + size_of(flash) > limit
        # this request's own in the order it wrote them; carried ones of one
        # second, values first
        then = flash.seq if flash.own else flash.message
        return (not hopeless, flash.own, flash.set_at, then)

    return sorted(flashes, key=order)


def fit(
    flashes: list[Flash], limit: int | None, why: str = ""
) -> tuple[list[Flash], list[Flash]]:
    """``flashes`` within ``limit`` bytes: the flashes kept, and those that
    gave way (with a WARNING that says ``why``; by default, ``max_bytes``).
    """
    if limit is None or not flashes or _at_most(flashes) <= limit:
        return flashes, []  # measured only near the limit
    now = size(flashes)
    if now.total() <= limit:
        return flashes, []
    dropped: list[Flash] = []
    for flash in give_way(flashes, limit):
        if now.total() <= limit:
            break
        now = now.plus(flash, -1)
        dropped.append(flash)
    warn_dropped(dropped, why or f"over max_bytes={limit}")
    return without(flashes, dropped), dropped


def _at_most(flashes: list[Flash]) -> int:
    """An upper bound of ``size(flashes).total()`` that encodes no text:
    ``json.dumps`` writes at most 12 bytes for a character (two ``\\uXXXX``
    escapes outside the BMP), and an entry's numbers, quotes, brackets and
    commas take less than 40 more. Data that is not text is measured.
    """
    bound = FRAME
    for flash in flashes:
        if flash.size >= 0 or flash.options or type(flash.value) is not str:
            bound += size_of(flash) + 2
        else:
            bound += 40 + 12 * (len(flash.key) + len(flash.value))
    return bound


def warn_dropped(dropped: list[Flash], why: str) -> None:
    """One WARNING naming the flashes that gave way (the first 50 of them),
    with their sizes.
    """
    named = ", ".join(map(_name, dropped[:50]))
    more = f" and {len(dropped) - 50} more" if len(dropped) > 50 else ""
    logger.warning("Dropped %d flash(es) %s: %s%s", len(dropped), why, named, more)


def _name(flash: Flash) -> str:
    """A flash as a WARNING names it: a value by its key, a message by its
    category and the start of its text; with its size.
    """
    if not flash.message:
        return f"value {brief(flash.key)} ({size_of(flash)} bytes)"
    text = flash.value if isinstance(flash.value, str) else json.dumps(flash.value)
    return f"message {brief(flash.key)} {brief(text)} ({size_of(flash)} bytes)"


def brief(value: Any) -> str:
    """``repr(value)``, or the start of it: a key or a text made of form
    input never floods the log or an error message.
    """
    text = repr(value)
    return text if len(text) <= 50 else text[:45] + "[...]"


def without(flashes: list[Flash], dropped: Iterable[Flash]) -> list[Flash]:
    gone = set(map(id, dropped))
    return [f for f in flashes if id(f) not in gone]
