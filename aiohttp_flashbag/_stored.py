"""JSON data and the stored form: what a flash may hold, and how flashes
are kept between requests (docs/lifecycle.rst, "Bad input and faults" and
"Bounded life").

:func:`plain` is the one check of what a write accepts and a load reads;
:func:`encode` and :func:`decode` translate the stored form.
"""

from __future__ import annotations

import math
from collections import UserString
from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple

from ._levels import options_ok
from ._rule import FORMAT_VERSION, JSON, MARKER, MAX_DEPTH, Flash, brief, entry, logger

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
        # a str's own text, as JSON writes it: str() of a str enum's member
        # is its name ("Status.ACTIVE"), json.dumps writes its value
        text = str.__str__(value) if isinstance(value, str) else str(value)
        _check_text(text)
        return text
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
                f"a key of type {type(key).__name__} ({brief(key)}): JSON keys are "
                "text, so it would come back changed"
            )
        _check_text(key)
        copy[str.__str__(key)] = plain(item, depth + 1)  # as for text above
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
            f"{brief(text)} is not valid Unicode text (a lone surrogate)"
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
    refuse are left out with a WARNING, whatever the storage (an app may
    write the session itself). Reads the bare lists of older builds,
    version 2 and version 1 (``[1, {values}, [[category, message], ...]]``),
    and 0.0.3's object of key to value, whose flashes carry no time: they are
    read as set ``now``.
    """
    stamp = math.ceil(now)
    if type(raw) is not dict:  # the bare list of earlier builds
        return _decode_list(raw, stamp, max_age, rewrite=True)
    if len(raw) == 1 and MARKER in raw:
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
    # An entry of a shape this library never writes (a time that is not a
    # whole number, a mark that is not 1, a field more): that flash is left
    # out, with a WARNING; the others are read.
    misshapen: list[str] = []
    for key, item in stored_values.items():
        if not _is_item(item, 2):
            misshapen.append(f"value {brief(key)}")
            continue
        flashes.append(Flash(key, item[1], item[0], False, len(item) == 3))
    # Most messages are plain text, in date: checked here, once. The others
    # get the whole check of _checked().
    oldest = 0 if max_age is None else max(0, stamp - max_age)
    unchecked = bool(flashes)
    for item in stored_messages:
        if (
            type(item) is list
            and len(item) == 3
            and type(item[0]) is int
            and oldest <= item[0] <= stamp
            and type(item[1]) is str
            and item[1].isascii()
            and type(item[2]) is str
            and item[2].isascii()
        ):
            flashes.append(Flash(item[1], item[2], item[0], True))
            continue
        options = None
        if type(item) is list and len(item) in (4, 5) and type(item[-1]) is dict:
            item, options = item[:-1], item[-1]  # a copy: the session's stays
        if not _is_item(item, 3):
            # named by its category, not written out (a forged item is any size)
            named = item[1] if type(item) is list and len(item) > 1 else None
            misshapen.append(f"message {brief(named) if type(named) is str else '?'}")
            continue
        flashes.append(Flash(item[1], item[2], item[0], True, len(item) == 4, options))
        unchecked = True
    if misshapen:
        _warn_dropped(misshapen, "of a shape this library never writes")
        rewrite = True
    if unchecked:
        return _checked(flashes, stamp, max_age, rewrite=rewrite)
    return Loaded(flashes, rewrite)


def _is_item(item: Any, width: int) -> bool:
    """Is ``item`` ``[set_at, (category,) value]``, with an optional ``1``?"""
    return (
        type(item) is list
        and (len(item) == width or (len(item) == width + 1 and _is_one(item[-1])))
        and type(item[0]) is int
        and item[0] >= 0
    )


def _is_one(mark: Any) -> bool:
    return type(mark) is int and mark == 1  # JSON true is not the mark 1


def _checked(
    stored: list[Flash],
    now: int,
    max_age: float | None,
    *,
    rewrite: bool,
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
            flash.set_at, flash.skewed, rewrite = now, True, True
        if (  # plain text needs no check (see plain())
            type(flash.key) is str
            and flash.key.isascii()
            and type(flash.value) is str
            and flash.value.isascii()
            and flash.options is None
        ):
            flashes.append(flash)
            continue
        try:
            if type(flash.key) is not str:
                raise Refused(f"a key of type {type(flash.key).__name__}")
            plain(flash.key)
            flash.value = plain(flash.value)
            if flash.options is not None:
                options = plain(flash.options)
                if not isinstance(options, dict) or not options_ok(options):
                    raise Refused(f"message options {brief(flash.options)}")
                flash.options = options
            flashes.append(flash)
        except Refused as exc:
            refused.append(f"{brief(flash.key)} ({exc})")
            rewrite = True
    if refused:
        _warn_dropped(refused, "that a write would refuse")
    return Loaded(flashes, rewrite)


def _warn_dropped(named: list[str], why: str) -> None:
    """One WARNING for the stored flashes a load left out, and why."""
    logger.warning(
        "Dropped %d stored flash(es) %s: %s", len(named), why, "; ".join(named)
    )
