"""The per-request flashbag: what came in, what goes out, what was read."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, Literal, overload

from ._lifecycle import (
    EMPTY,
    PAGE,
    UNCHANGED,
    Ending,
    Message,
    StoredBag,
    decode,
    next_stored_bag,
)

__all__ = ("Flashbag",)

logger: Final = logging.getLogger("aiohttp_flashbag")

_SCALARS: Final = (str, int, bool, type(None))


def _bag_size(
    values_total: int, n_values: int, messages_total: int, n_messages: int
) -> int:
    """Length of the stored JSON, from the lengths of its entries.

    ``{"k":v,...}`` for values alone, else
    ``[1,{"k":v,...},[["category",message],...]]`` (see ``_lifecycle.encode``).
    """
    values = 2 + values_total + (n_values - 1 if n_values else 0)
    if not n_messages:
        return values
    return 7 + values + messages_total + n_messages - 1  # "[1," "," "[" "]]"


class _SeedTypeError(TypeError, ValueError):
    """A TypeError that ``except ValueError`` written for 0.0.3 still catches."""


def _check_key(key: object, call: str) -> None:
    if not isinstance(key, str):
        raise TypeError(
            f"{call}: flashbag keys must be str, got {type(key).__name__}: {key!r}"
        )


# One encoder for every call: json.dumps() with options builds a new one each
# time, which costs more than encoding a short flash.
_to_json: Final = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _where(call: str, key: object) -> str:
    """``flashbag_set('error')``: the call an error message points at."""
    return call if key is None else f"{call}({key!r})"


def _encode(value: object, call: str, key: object = None) -> str:
    """Compact JSON for ``value``; a TypeError naming the call and key if none."""
    try:
        return _to_json(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{_where(call, key)}: a {type(value).__name__} cannot be stored in "
            f"the session as JSON ({exc}); pass str, int, float, bool, None, "
            "list or dict"
        ) from None


def _snapshot(value: Any, encoded: str) -> Any:
    """The value as the next request will read it (tuples become lists...)."""
    if type(value) in _SCALARS:
        return value
    return json.loads(encoded)


class Flashbag:
    """The flashes of one request.

    ``incoming`` is what earlier requests left for this one; ``outgoing`` is
    what this request passes on. Reads see incoming only, writes touch
    outgoing only, and when the outermost scope ends the lifecycle rule
    (:func:`aiohttp_flashbag._lifecycle.next_stored_bag`) decides what stays.
    """

    # No __slots__: the state most requests never change is a class-level
    # default that a change replaces, never mutates. A scoped request then
    # builds only what it uses; this runs once per scoped request.
    # Incoming messages, once the stored bag is decoded (values alone have none).
    _in_messages: Sequence[Message] = ()
    # Encoded size of each outgoing entry: ``"key":value`` and
    # ``["category",message]``. Kept so a write checks the budget without
    # encoding the whole bag again.
    _values_bytes: Mapping[str, int] = MappingProxyType({})
    # Outgoing values and messages; a write makes them the request's own.
    _out_values: Mapping[str, Any] = MappingProxyType({})
    _out_messages: Sequence[Message] = ()
    _messages_bytes: int = 0
    _read_messages: frozenset[int] = frozenset()
    _kept_keys: frozenset[str] = frozenset()
    _keep_all: bool = False
    _carry_unread: bool = True
    _closed: bool = False
    # True until the request asks for anything to go out, to be kept or to be
    # cleared (set by _start_write, even for a write that then fails).
    _unwritten: bool = True

    def __init__(
        self, raw: Any, session_key: str, max_bytes: int | None = 2048
    ) -> None:
        self._raw = raw
        # Incoming values. Values alone (a dict, the form 0.0.3 wrote too) or
        # nothing are read as they are; anything else is decoded on first use.
        self._in_values: Mapping[str, Any] | None = (
            raw if type(raw) is dict else EMPTY.values if raw is None else None
        )
        self._session_key = session_key
        self._max_bytes = max_bytes
        self._read_keys: set[str] = set()

    def __repr__(self) -> str:
        return (
            f"<Flashbag incoming={self.incoming!r} "
            f"outgoing={StoredBag(self._out_values, tuple(self._out_messages))!r}>"
        )

    # -- incoming ---------------------------------------------------------

    @property
    def incoming(self) -> StoredBag:
        """What earlier requests left for this one; reading it marks nothing."""
        if self._in_values is None:
            decoded = decode(self._raw)
            if decoded is None:
                logger.warning(
                    "Ignoring unrecognised data under session key %r (a %s); "
                    "it is treated as no flashes and replaced at the next commit",
                    self._session_key,
                    type(self._raw).__name__,
                )
                decoded = EMPTY
            self._in_values, self._in_messages = decoded
        return StoredBag(self._in_values, self._in_messages)

    def __contains__(self, key: object) -> bool:
        """``key in bag``: is there an incoming value under ``key``?"""
        return key in self.incoming.values

    def get(self, key: str, default: Any = None) -> Any:
        """The incoming value under ``key``, or ``default``; marks it as read."""
        if type(key) is not str:
            _check_key(key, "flashbag_get")
        self._read_keys.add(key)
        values = self._in_values
        if values is None:
            values = self.incoming.values
        return values.get(key, default)

    @overload
    def get_flashed_messages(
        self,
        *,
        with_categories: Literal[False] = False,
        category_filter: Iterable[str] | str = (),
    ) -> list[Any]: ...

    @overload
    def get_flashed_messages(
        self,
        *,
        with_categories: Literal[True],
        category_filter: Iterable[str] | str = (),
    ) -> list[Message]: ...

    @overload
    def get_flashed_messages(
        self,
        *,
        with_categories: bool,
        category_filter: Iterable[str] | str = (),
    ) -> list[Any]: ...

    def get_flashed_messages(
        self,
        *,
        with_categories: bool = False,
        category_filter: Iterable[str] | str = (),
    ) -> list[Any] | list[Message]:
        """Incoming messages in the order they were flashed; marks them read.

        With ``category_filter`` only those categories are returned and marked;
        the others stay incoming (and travel on through a redirect).
        """
        if isinstance(category_filter, str):
            categories: frozenset[str] | None = frozenset((category_filter,))
        else:
            categories = frozenset(category_filter) or None
        picked = [
            (index, message)
            for index, message in enumerate(self.incoming.messages)
            if categories is None or message.category in categories
        ]
        if picked:
            self._read_messages = self._read_messages.union(
                index for index, _ in picked
            )
        if with_categories:
            return [message for _, message in picked]
        return [message.message for _, message in picked]

    # -- outgoing ---------------------------------------------------------

    @property
    def outgoing(self) -> StoredBag:
        """What this request has set so far (a copy)."""
        return StoredBag(dict(self._out_values), tuple(self._out_messages))

    def encoded_size(self) -> int:
        """Bytes of the outgoing bag as stored, in compact JSON (``{}`` when empty).

        ``max_bytes`` limits it.
        """
        return _bag_size(
            sum(self._values_bytes.values()),
            len(self._values_bytes),
            self._messages_bytes,
            len(self._out_messages),
        )

    def _check_budget(
        self, call: str, key: object, values_bytes: Mapping[str, int], message: int = 0
    ) -> None:
        """Refuse a write that would take the outgoing bag over ``max_bytes``.

        ``values_bytes`` is the value entries' sizes as the write would leave
        them; ``message`` the size of a message it would add.
        """
        if self._max_bytes is None:
            return
        size = _bag_size(
            sum(values_bytes.values()),
            len(values_bytes),
            self._messages_bytes + message,
            len(self._out_messages) + (1 if message else 0),
        )
        if size > self._max_bytes:
            raise ValueError(
                f"{_where(call, key)}: the outgoing flashbag would take {size} "
                "bytes as JSON, "
                f"over max_bytes={self._max_bytes} "
                f"(it takes {self.encoded_size()} now); nothing was changed"
            )

    def _start_write(self, call: str) -> None:
        """Refuse a write once the scope has ended; note that one was asked."""
        self._unwritten = False
        if self._closed:
            raise RuntimeError(
                f"{call}: the flash scope of this request has already ended, so "
                "this would never reach the next request. Call it inside the "
                "handler (put @with_flashbag outermost, above other decorators)."
            )

    def set(self, key: str, value: Any) -> None:
        """Pass ``value`` on to the next request under ``key``."""
        self._start_write("flashbag_set")
        _check_key(key, "flashbag_set")
        encoded = _encode(value, "flashbag_set", key)
        sizes = {**self._values_bytes, key: len(_to_json(key)) + 1 + len(encoded)}
        self._check_budget("flashbag_set", key, sizes)
        self._out_values = {**self._out_values, key: _snapshot(value, encoded)}
        self._values_bytes = sizes

    def append(self, key: str, value: Any) -> None:
        """Append ``value`` to the outgoing list under ``key`` (created if new)."""
        self._start_write("flashbag_append")
        _check_key(key, "flashbag_append")
        current = self._out_values.get(key)
        if key in self._out_values and not isinstance(current, list):
            raise _SeedTypeError(
                f"{_where('flashbag_append', key)}: the outgoing value is a "
                f"{type(current).__name__}, not a list; only lists can be "
                "appended to"
            )
        encoded = _encode(value, "flashbag_append", key)
        old = self._values_bytes.get(key)
        if old is None:  # "key":[item]
            entry = len(_to_json(key)) + 1 + 2 + len(encoded)
        else:  # one more item, after a comma unless the list was empty
            entry = old + len(encoded) + (1 if current else 0)
        sizes = {**self._values_bytes, key: entry}
        self._check_budget("flashbag_append", key, sizes)
        item = _snapshot(value, encoded)
        if current is None:
            self._out_values = {**self._out_values, key: [item]}
        else:
            current.append(item)
        self._values_bytes = sizes

    def replace_all(self, mapping: Mapping[str, Any]) -> None:
        """Make ``mapping`` the whole set of outgoing values (messages stay)."""
        call = "flashbag_replace_all"
        self._start_write(call)
        if not isinstance(mapping, Mapping):
            raise _SeedTypeError(
                f"{call}: expected a mapping of str keys to JSON values, "
                f"got {type(mapping).__name__}"
            )
        values: dict[str, Any] = {}
        sizes: dict[str, int] = {}
        for key, value in mapping.items():
            _check_key(key, call)
            encoded = _encode(value, call, key)
            values[key] = _snapshot(value, encoded)
            sizes[key] = len(_to_json(key)) + 1 + len(encoded)
        self._check_budget(call, None, sizes)
        self._out_values = values
        self._values_bytes = sizes

    def flash(self, message: Any, category: str = "message") -> None:
        """Add ``message`` to the ordered message list the next request sees."""
        self._start_write("flash")
        if not isinstance(category, str):
            raise TypeError(
                f"flash: the category must be str, got {type(category).__name__}"
            )
        encoded = _encode(message, "flash", category)
        entry = len(_to_json(category)) + len(encoded) + 3  # [..,..]
        self._check_budget("flash", category, self._values_bytes, message=entry)
        flashed = Message(category, _snapshot(message, encoded))
        self._out_messages = [*self._out_messages, flashed]
        self._messages_bytes += entry

    def keep(self, *keys: str) -> None:
        """Pass the named incoming values on as well; with no key, everything.

        Kept values survive the page that consumes the rest; outgoing values
        set under the same key still win.
        """
        self._start_write("flashbag_keep")
        for key in keys:
            _check_key(key, "flashbag_keep")
        if keys:
            self._kept_keys = self._kept_keys.union(keys)
        else:
            self._keep_all = True

    def clear(self) -> None:
        """Forget everything this request would pass on so far.

        Drops outgoing values and messages, keeps, and the redirect carry-over
        of unread incoming flashes. Later calls add again; reads still see
        incoming.
        """
        self._start_write("flashbag_clear")
        self._out_values = {}
        self._values_bytes = {}
        self._out_messages = []
        self._messages_bytes = 0
        self._kept_keys = frozenset()
        self._keep_all = False
        self._carry_unread = False

    # -- the end of the scope ---------------------------------------------

    def _conclude(self, ending: Ending) -> StoredBag | None:
        """Close the bag; the stored bag to commit, or ``None`` for no change."""
        self._closed = True
        if ending is UNCHANGED:
            return None
        if ending is PAGE and self._unwritten:
            # The common page: it passes nothing on (next_stored_bag agrees;
            # tests/test_lifecycle.py checks the two side by side).
            return EMPTY
        return next_stored_bag(
            self.incoming,
            ending,
            outgoing_values=self._out_values,
            outgoing_messages=self._out_messages,
            read_keys=self._read_keys,
            read_messages=self._read_messages,
            kept_keys=self._kept_keys,
            keep_all=self._keep_all,
            carry_unread=self._carry_unread,
        )
