"""The flash lifecycle as a pure rule: data in, data out, no aiohttp.

Everything the SPEC's lifecycle table says lives in :func:`ending_of` (how did
the request end?) and :func:`next_stored_bag` (what is stored afterwards?).
:func:`decode` and :func:`encode` translate between a :class:`StoredBag` and
the JSON data kept in the session.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Final, NamedTuple

__all__ = (
    "EMPTY",
    "FORMAT_VERSION",
    "HEAD",
    "PAGE",
    "REDIRECT",
    "UNCHANGED",
    "Ending",
    "Message",
    "StoredBag",
    "decode",
    "encode",
    "ending_of",
    "next_stored_bag",
)

#: First item of the stored list, the form used when there are messages.
#: Values alone are stored as a JSON object of key to value, exactly as
#: aiohttp-flashbag 0.0.3 stored them, so each reads the other's.
FORMAT_VERSION: Final = 1


class Message(NamedTuple):
    """One flashed message: a ``(category, message)`` pair."""

    category: str
    message: Any


class StoredBag(NamedTuple):
    """What the session holds for flashes: keyed values and ordered messages."""

    values: Mapping[str, Any]
    messages: Sequence[Message]


EMPTY: Final = StoredBag({}, ())


class Ending(enum.Enum):
    """How a request ended, as far as flashes care."""

    #: a crash, a status of 500 or more, or a response already sent
    UNCHANGED = "unchanged"
    #: a HEAD request: nothing is consumed
    HEAD = "head"
    #: a status of 300-399: unread flashes travel on
    REDIRECT = "redirect"
    #: any other response: flashes were shown and are gone
    PAGE = "page"


# On Python 3.10 and 3.11 ``Ending.PAGE`` is a descriptor call, five times the
# cost of a global; the rule below runs on every scoped request, so it and the
# scope use these names.
UNCHANGED: Final = Ending.UNCHANGED
HEAD: Final = Ending.HEAD
REDIRECT: Final = Ending.REDIRECT
PAGE: Final = Ending.PAGE


def ending_of(method: str, status: int | None, sent: bool = False) -> Ending:
    """Classify a request; ``status`` is ``None`` when it raised a non-HTTP error."""
    if status is None or status >= 500 or sent:
        return UNCHANGED
    if method == "HEAD":
        return HEAD
    if 300 <= status < 400:
        return REDIRECT
    return PAGE


def next_stored_bag(
    incoming: StoredBag,
    ending: Ending,
    *,
    outgoing_values: Mapping[str, Any],
    outgoing_messages: Sequence[Message],
    read_keys: AbstractSet[str],
    read_messages: AbstractSet[int],
    kept_keys: AbstractSet[str],
    keep_all: bool,
    carry_unread: bool,
) -> StoredBag:
    """The stored bag after a request, by the SPEC's lifecycle table.

    ``read_messages`` holds indices into ``incoming.messages``;
    ``carry_unread`` is false once the request called ``clear()``.
    """
    if ending is UNCHANGED:
        return incoming
    if ending is HEAD:
        values: Mapping[str, Any] = incoming.values
        messages: Sequence[Message] = incoming.messages
    elif ending is PAGE and not keep_all and not kept_keys:
        # The common page: everything that came in is gone.
        if not outgoing_values and not outgoing_messages:
            return EMPTY
        values, messages = {}, ()
    else:
        carry = carry_unread and ending is REDIRECT
        values = {
            key: value
            for key, value in incoming.values.items()
            if keep_all or key in kept_keys or (carry and key not in read_keys)
        }
        messages = [
            message
            for index, message in enumerate(incoming.messages)
            if keep_all or (carry and index not in read_messages)
        ]
    if outgoing_values:
        values = {**values, **outgoing_values}
    if outgoing_messages:
        messages = [*messages, *outgoing_messages]
    return StoredBag(values, tuple(messages))


def encode(bag: StoredBag) -> dict[str, Any] | list[Any] | None:
    """The JSON data to keep in the session, or ``None`` for an empty bag.

    Values alone: ``{"key": value}``. With messages:
    ``[1, {"key": value}, [["category", message], ...]]``.
    """
    if not bag.messages:
        return dict(bag.values) if bag.values else None
    return [
        FORMAT_VERSION,
        dict(bag.values),
        [[message.category, message.message] for message in bag.messages],
    ]


def decode(raw: Any) -> StoredBag | None:
    """Read what the session holds; ``None`` means it is not ours to read.

    Understands both forms :func:`encode` writes; the object form is also
    what aiohttp-flashbag 0.0.3 wrote. A missing entry is an empty bag.
    """
    if raw is None:
        return EMPTY
    if isinstance(raw, dict):  # values alone (this library or 0.0.3)
        return StoredBag(raw, ())
    if (
        isinstance(raw, list)
        and len(raw) == 3
        and type(raw[0]) is int
        and raw[0] == FORMAT_VERSION
        and isinstance(raw[1], dict)
        and isinstance(raw[2], list)
        and all(isinstance(key, str) for key in raw[1])
    ):
        messages = []
        for item in raw[2]:
            if not (
                isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
            ):
                return None
            messages.append(Message(item[0], item[1]))
        return StoredBag(raw[1], tuple(messages))
    return None
