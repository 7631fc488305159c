"""The flash lifecycle as plain data: no aiohttp, no session.

One request's flashes are :class:`Flash` records, each saying what happened
to it in this request (shown, kept, ``now``, set by this request).
:func:`stored_after` is the rule of the docs' lifecycle table (docs/
lifecycle.rst, "The table"): how the request ended → what is stored.
:func:`give_way` is the one order in which flashes yield to a size limit.
:func:`decode` and :func:`encode` translate the stored form.
"""

from __future__ import annotations

import enum
import json
import logging
import math
from collections import UserString
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, TypeAlias

from ._levels import Message as Message  # defined there, imported from here too
from ._levels import options_ok

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


@dataclass(eq=False, slots=True)
class Flash:
    """One flash, and what happened to it in this request."""

    #: the value's key, or the message's category
    key: str
    #: JSON data; the text of a ``Markup`` when ``safe``
    value: JSON
    #: ``time.time()`` (whole seconds, rounded up) of the request that set it
    set_at: int
    #: a message (else a keyed value)
    message: bool
    #: the value was a ``markupsafe.Markup``
    safe: bool = False
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
    if status is None or status >= 500:
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
    item: list[Any] = [flash.set_at, flash.value]
    if flash.message:
        item.insert(1, flash.key)
    if flash.safe:
        item.append(1)
    if flash.options is not None:  # a plain message has none: no bytes more
        item.append(flash.options)
    return item


def size_of(flash: Flash) -> int:
    """Bytes the flash adds to the stored form (``json.dumps`` defaults)."""
    if flash.size < 0:
        if flash.message:  # [set_at, "category", message]
            flash.size = len(json.dumps(entry(flash)))
        else:  # "key": [set_at, value], as in {"key": [...]} less the braces
            flash.size = len(json.dumps({flash.key: entry(flash)})) - 2
    return flash.size


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
            _FRAME
            + self.entries
            + 2 * max(self.values - 1, 0)
            + 2 * max(self.messages - 1, 0)
        )


#: Bytes of the stored form with no entries.
_FRAME: Final = len(json.dumps({MARKER: [FORMAT_VERSION, {}, []]}))


def size(flashes: Iterable[Flash]) -> Size:
    total = Size()
    for flash in flashes:
        total = total.plus(flash)
    return total


def give_way(flashes: list[Flash], limit: int | None = None) -> list[Flash]:
    """The order in which flashes give way to a size limit.

    First this request's own flashes that could never be stored (a bag
    holding only one of them is over ``limit``), then the oldest; within a
    second, values before messages, each in stored order; this request's own
    flashes last, whatever their times say.
    """

    def order(flash: Flash) -> tuple[bool, bool, int, bool]:
        hopeless = flash.own and limit is not None and _FRAME + size_of(flash) > limit
        return (not hopeless, flash.own, flash.set_at, flash.message)

    return sorted(flashes, key=order)


def fit(flashes: list[Flash], limit: int | None) -> tuple[list[Flash], list[Flash]]:
    """``flashes`` within ``limit`` bytes: the flashes kept, and those that
    gave way (with a WARNING).
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
    warn_dropped(dropped, f"over max_bytes={limit}")
    return without(flashes, dropped), dropped


def _at_most(flashes: list[Flash]) -> int:
    """An upper bound of ``size(flashes).total()`` that encodes no text:
    ``json.dumps`` writes at most 12 bytes for a character (two ``\\uXXXX``
    escapes outside the BMP), and an entry's numbers, quotes, brackets and
    commas take less than 40 more. Data that is not text is measured.
    """
    bound = _FRAME
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
        return f"value {flash.key!r} ({size_of(flash)} bytes)"
    text = flash.value if isinstance(flash.value, str) else json.dumps(flash.value)
    start = text if len(text) <= 40 else text[:40] + "..."
    return f"message {flash.key!r} {start!r} ({size_of(flash)} bytes)"


def without(flashes: list[Flash], dropped: Iterable[Flash]) -> list[Flash]:
    gone = set(map(id, dropped))
    return [f for f in flashes if id(f) not in gone]


# -- JSON data ---------------------------------------------------------------------


class Refused(Exception):
    """Data a flash cannot hold; the text says why."""


def plain(value: Any, depth: int = 0) -> JSON:
    """A copy of ``value`` as JSON data that survives a round trip exactly.

    Any ``Mapping`` with ``str`` keys becomes an object, any other
    ``Sequence`` but text and bytes (``bytes``, ``bytearray``,
    ``memoryview``) an array. Raises :class:`Refused` for what JSON cannot
    hold, or would change: other types, ``nan`` and infinities, an ``int``
    too long for this process to read back (``sys.get_int_max_str_digits``),
    text that is not valid Unicode (a lone surrogate), keys that are not
    ``str``, and containers nested deeper than ``MAX_DEPTH`` (cycles
    included).
    """
    kind = type(value)
    if kind is str or kind is bool or value is None:
        if kind is str and not value.isascii():
            _check_text(value)
        return value  # type: ignore[no-any-return]
    if kind is int:
        if value.bit_length() > _SHORT_INT_BITS:
            _check_digits(value)
        return value  # type: ignore[no-any-return]
    if isinstance(value, (list, tuple, dict)):
        return _container(value, depth)
    if isinstance(value, (str, UserString)):  # Markup and other text types
        _check_text(str(value))
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Refused(f"{value!r} is not a JSON number")
        return float(value)
    if isinstance(value, int):  # bool was taken above: an IntEnum, say
        _check_digits(value)
        return int(value)
    if isinstance(value, Mapping) or (
        isinstance(value, Sequence)
        and not isinstance(value, (bytes, bytearray, memoryview))  # not arrays
    ):
        return _container(value, depth)
    raise Refused(f"{kind.__name__} is not JSON data")


#: An int this short has fewer digits than any limit Python allows (640).
_SHORT_INT_BITS: Final = 2000


def _container(value: Mapping[Any, Any] | Sequence[Any], depth: int) -> JSON:
    if depth >= MAX_DEPTH:
        raise Refused(f"nested deeper than {MAX_DEPTH} levels (or refers to itself)")
    if not isinstance(value, Mapping):
        return [plain(item, depth + 1) for item in value]
    copy: dict[str, JSON] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise Refused(
                f"a key of type {type(key).__name__} ({key!r}): JSON keys are "
                "text, so it would come back changed"
            )
        _check_text(key)
        copy[str(key)] = plain(item, depth + 1)
    return copy


def _check_digits(number: int) -> None:
    """Refuse an int with more digits than this process converts to text:
    ``json`` could neither write it nor read it back.
    """
    if number.bit_length() > _SHORT_INT_BITS:
        try:
            str(number)
        except ValueError:  # over sys.get_int_max_str_digits()
            raise Refused(
                "an int with more digits than JSON can read back in this "
                "process (sys.get_int_max_str_digits())"
            ) from None


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused(
            f"{text!r} is not valid Unicode text (a lone surrogate)"
        ) from None


def copied(value: JSON) -> JSON:
    """A copy of JSON data that shares no container with the original."""
    if isinstance(value, dict):
        return {k: copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copied(v) for v in value]
    return value


# -- the stored form -------------------------------------------------------------


def encode(flashes: list[Flash]) -> dict[str, Any] | None:
    """The JSON data to keep, or ``None`` for no flashes.

    ``{"__aiohttp_flashbag__": [2, {"key": [set_at, value]}, [[set_at,
    "category", message], ...]]}``; a ``Markup`` entry has a trailing ``1``.
    """
    if not flashes:
        return None
    values = {f.key: entry(f) for f in flashes if not f.message}
    stored = [FORMAT_VERSION, values, [entry(f) for f in flashes if f.message]]
    return {MARKER: stored}


class Loaded(NamedTuple):
    """Flashes read from the stored form."""

    flashes: list[Flash]
    #: the stored form differs from ``flashes`` (older format, a time
    #: changed, flashes dropped): write them back if they are carried
    rewrite: bool


def decode(raw: Any, now: float, max_age: float | None) -> Loaded | None:
    """Read the stored form; ``None`` means it is not this library's.

    Flashes set more than ``max_age`` seconds before ``now`` are left out; a
    time in the future counts as ``now``. Flashes holding what a write would
    refuse are left out with a WARNING. Reads the bare lists of older builds,
    version 2 and version 1 (``[1, {values}, [[category, message], ...]]``),
    and 0.0.3's object of key to value, whose flashes carry no time: they are
    read as set ``now``.
    """
    stamp = math.ceil(now)
    if type(raw) is not dict:  # the bare list of earlier builds
        return _decode_list(raw, stamp, max_age, rewrite=True)
    if list(raw) == [MARKER]:
        return _decode_list(raw[MARKER], stamp, max_age, rewrite=False)
    # Keys so named are this library's (the Redis store's id), not 0.0.3's.
    if any(type(k) is str and k.startswith("__aiohttp_flashbag") for k in raw):
        return None
    legacy = [Flash(k, v, stamp, False) for k, v in raw.items()]  # 0.0.3's
    return _checked(legacy, stamp, None, rewrite=True)


def _decode_list(
    raw: Any, stamp: int, max_age: float | None, *, rewrite: bool
) -> Loaded | None:
    """``[version, {values}, [messages]]``; ``rewrite``: it was not stored
    in the current form.
    """
    if not (type(raw) is list and len(raw) == 3 and type(raw[1]) is dict):
        return None
    version, stored_values, stored_messages = raw
    if type(stored_messages) is not list or type(version) is not int:
        return None
    if version == 1:
        if not all(type(m) is list and len(m) == 2 for m in stored_messages):
            return None
        legacy = [Flash(k, v, stamp, False) for k, v in stored_values.items()]
        legacy += [Flash(c, m, stamp, True) for c, m in stored_messages]
        return _checked(legacy, stamp, None, rewrite=True)
    if version != FORMAT_VERSION:
        return None
    flashes = []
    for key, item in stored_values.items():
        if not _is_item(item, 2):
            return None
        flashes.append(Flash(key, item[1], item[0], False, len(item) == 3))
    for item in stored_messages:
        options = None
        if _has_options(item):  # a copy: the session's data stays as it is
            item, options = item[:-1], item[-1]
        if not _is_item(item, 3):
            return None
        flash = Flash(item[1], item[2], item[0], True, len(item) == 4)
        flash.options = options
        flashes.append(flash)
    return _checked(flashes, stamp, max_age, rewrite=rewrite)


def _is_item(item: Any, width: int) -> bool:
    """Is ``item`` ``[set_at, (category,) value]``, with an optional ``1``?"""
    return (
        type(item) is list
        and (len(item) == width or (len(item) == width + 1 and _is_one(item[-1])))
        and type(item[0]) is int
        and item[0] >= 0
    )


def _has_options(item: Any) -> bool:
    """Does a message entry end with its options (a JSON object)?"""
    return type(item) is list and len(item) in (4, 5) and type(item[-1]) is dict


def _is_one(mark: Any) -> bool:
    return type(mark) is int and mark == 1  # JSON true is not the mark 1


def _checked(
    stored: list[Flash], now: int, max_age: float | None, *, rewrite: bool
) -> Loaded:
    """The stored flashes that are not expired, with what a write would
    accept; a time ahead of ``now`` counts as ``now``.
    """
    flashes: list[Flash] = []
    refused: list[str] = []
    for flash in stored:
        if max_age is not None and flash.set_at < now - max_age:
            rewrite = True
            continue
        if flash.set_at > now:  # set by a clock ahead of this one
            flash.set_at, rewrite = now, True
        try:
            if type(flash.key) is not str:
                raise Refused(f"a key of type {type(flash.key).__name__}")
            plain(flash.key)
            flash.value = plain(flash.value)
            if flash.options is not None:
                options = plain(flash.options)
                if not isinstance(options, dict) or not options_ok(options):
                    raise Refused(f"message options {flash.options!r}")
                flash.options = options
            flashes.append(flash)
        except Refused as exc:
            refused.append(f"{flash.key!r} ({exc})")
            rewrite = True
    if refused:
        logger.warning(
            "Dropped %d stored flash(es) that a write would refuse: %s",
            len(refused),
            "; ".join(refused),
        )
    return Loaded(flashes, rewrite)
