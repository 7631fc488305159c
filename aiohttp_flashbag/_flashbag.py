"""The per-request flashbag: what came in, what goes out, what was read."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, Literal, NamedTuple, Protocol, overload

from ._lifecycle import (
    EMPTY,
    PAGE,
    UNCHANGED,
    Activity,
    Ending,
    Flash,
    Message,
    StoredBag,
    carried,
    fit,
    passed_on,
    stored_size,
)

try:  # safe HTML is an option: without markupsafe there is no Markup to keep
    from markupsafe import Markup as _Markup
except ImportError:  # pragma: no cover - markupsafe comes with Jinja2
    _Markup = None  # type: ignore[assignment, misc]

__all__ = (
    "Flashbag",
    "FlashbagTypeError",
    "Flashes",
    "GetFlashedMessages",
    "GetFlashedMessagesOf",
    "stamp",
)

#: Containers deeper than this are refused: aiohttp-session's JSON decoder
#: would fail on every later request of the session long before Python's
#: recursion limit was reached by the encoder.
MAX_DEPTH: Final = 32

_SCALARS: Final = (str, int, float, bool, type(None))


class FlashbagTypeError(TypeError, ValueError):
    """A wrong type; also a ``ValueError``, which aiohttp-flashbag 0.0.3 raised."""


class Flashes(NamedTuple):
    """Flashes as plain data: keyed values and ordered messages (copies)."""

    values: dict[str, Any]
    messages: list[Message]


class GetFlashedMessages(Protocol):
    """The one signature of ``get_flashed_messages`` (function, method, template)."""

    @overload
    def __call__(
        self,
        *,
        with_categories: Literal[False] = False,
        category_filter: Iterable[str] | str = (),
    ) -> list[Any]: ...

    @overload
    def __call__(
        self,
        *,
        with_categories: Literal[True],
        category_filter: Iterable[str] | str = (),
    ) -> list[Message]: ...

    @overload
    def __call__(
        self, *, with_categories: bool, category_filter: Iterable[str] | str = ()
    ) -> list[Any]: ...


class GetFlashedMessagesOf(Protocol):
    """``get_flashed_messages(request, ...)``, typed as the method is."""

    @overload
    def __call__(
        self,
        request: Any,
        /,
        *,
        with_categories: Literal[False] = False,
        category_filter: Iterable[str] | str = (),
    ) -> list[Any]: ...

    @overload
    def __call__(
        self,
        request: Any,
        /,
        *,
        with_categories: Literal[True],
        category_filter: Iterable[str] | str = (),
    ) -> list[Message]: ...

    @overload
    def __call__(
        self,
        request: Any,
        /,
        *,
        with_categories: bool,
        category_filter: Iterable[str] | str = (),
    ) -> list[Any]: ...


def _where(call: str, key: object) -> str:
    """``flashbag_set('error')``: the call an error message points at."""
    return call if key is None else f"{call}({key!r})"


def _check_depth(value: Any, where: str, depth: int = 0) -> None:
    """Refuse containers nested deeper than ``MAX_DEPTH`` (cycles included)."""
    if isinstance(value, (dict, list, tuple)):
        if depth >= MAX_DEPTH:
            raise FlashbagTypeError(
                f"{where}: the value is nested deeper than {MAX_DEPTH} levels "
                "(or refers to itself); flashes must be plain, shallow JSON data"
            )
        items = value.values() if isinstance(value, dict) else value
        for item in items:
            _check_depth(item, where, depth + 1)


# One encoder for every call: json.dumps() with options builds a new one each
# time. UTF-8 output, so that a lone surrogate is caught below.
_to_json: Final = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode


def json_data(value: Any, call: str, key: object = None, depth: int = 0) -> Any:
    """``value`` as the next request will read it (a copy); TypeError if not JSON.

    Refuses what JSON cannot encode, ``nan`` and infinities, text that is not
    valid Unicode (lone surrogates, which no response can carry) and nesting
    deeper than ``MAX_DEPTH``, naming the call and the key. ``depth``: the
    levels the value will be stored under (1 for an item of a list).
    """
    where = _where(call, key)
    _check_depth(value, where, depth)
    try:
        text = _to_json(value)
        text.encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise FlashbagTypeError(
            f"{where}: a {type(value).__name__} cannot be stored in the session "
            f"as JSON ({exc}); pass str, int, float, bool, None, list or dict "
            "of valid Unicode text"
        ) from None
    if type(value) in _SCALARS:
        return value
    return json.loads(text)


def check_key(key: object, call: str, what: str = "keys") -> str:
    """``key`` if it is a valid ``str``; TypeError otherwise."""
    if not isinstance(key, str):
        raise TypeError(
            f"{call}: flashbag {what} must be str, got {type(key).__name__}: {key!r}"
        )
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise TypeError(
            f"{call}: flashbag {what} must be valid Unicode text, got {key!r}"
        ) from None
    return str(key)


def _copy(value: Any) -> Any:
    """A copy of JSON data that shares no container with the original."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _stored(messages: Sequence[Flash], now: frozenset[int]) -> list[Flash]:
    """This request's messages that are stored: all but the ``now`` ones."""
    return [message for i, message in enumerate(messages) if i not in now]


def stamp() -> int:
    # Looked up at each use, so that tests can patch time.time.
    return math.ceil(time.time())


class Flashbag:
    """The flashes of one request.

    ``incoming`` is what earlier requests left for this one; ``outgoing`` is
    what this request passes on. Keyed reads see incoming only; message reads
    see incoming messages, then the ones this request flashed. When the
    outermost scope ends, :meth:`close` asks the lifecycle rule
    (:mod:`aiohttp_flashbag._lifecycle`) what is stored.
    """

    # What a request has not done yet is a class default: immutable, and
    # replaced (never changed in place) when the request does it, so a
    # scoped request builds only what it uses (see "Performance notes" in
    # the README).
    _max_bytes: int | None = 2048
    # False under a storage whose data the client can rewrite.
    _trust_markup = True
    _out_values: Mapping[str, Flash] = MappingProxyType({})
    _own_messages: Sequence[Flash] = ()
    # indices into _own_messages of the messages flashed with now=True
    _now: frozenset[int] = frozenset()
    _read_keys: frozenset[str] = frozenset()
    _read_messages: frozenset[int] = frozenset()
    _shown_own: frozenset[int] = frozenset()
    _kept_keys: frozenset[str] = frozenset()
    _keep_all = False
    _carry_unread = True
    _written = False
    is_open = True

    def __init__(
        self,
        incoming: StoredBag = EMPTY,
        *,
        max_bytes: int | None = 2048,
        trust_markup: bool = True,
    ) -> None:
        self._incoming = incoming
        if max_bytes != self._max_bytes:
            self._max_bytes = max_bytes
        if not trust_markup:
            self._trust_markup = False

    def __repr__(self) -> str:
        return f"<Flashbag incoming={self.incoming!r} outgoing={self.outgoing!r}>"

    # -- reads ---------------------------------------------------------------

    def _read(self, flash: Flash, *, own: bool = False) -> Any:
        """What a read returns for a stored flash: a copy, or a ``Markup``.

        Only text is made ``Markup``: a mark on a list or a dict (never
        written by this library) must not turn its Python repr into HTML.
        """
        if (
            flash.safe
            and _Markup is not None
            and isinstance(flash.value, str)
            and (own or self._trust_markup)
        ):
            return _Markup(flash.value)
        return _copy(flash.value)

    def as_flashes(self, bag: StoredBag) -> Flashes:
        """``bag`` as plain data, as reads in this request would return it."""
        return Flashes(
            {k: self._read(f) for k, f in bag.values.items()},
            [Message(f.key, self._read(f)) for f in bag.messages],
        )

    @property
    def incoming(self) -> Flashes:
        """What earlier requests left for this one (a copy); marks nothing."""
        return self.as_flashes(self._incoming)

    @property
    def outgoing(self) -> Flashes:
        """What this request passes on so far (a copy; ``now`` messages aside)."""
        return Flashes(
            {k: self._read(f, own=True) for k, f in self._out_values.items()},
            [
                Message(f.key, self._read(f, own=True))
                for f in _stored(self._own_messages, self._now)
            ],
        )

    def __contains__(self, key: object) -> bool:
        """``key in bag``: is there an incoming value under ``key``?"""
        return key in self._incoming.values

    def get(self, key: str, default: Any = None) -> Any:
        """The incoming value under ``key``, or ``default``; marks it as read."""
        if type(key) is not str:
            check_key(key, "flashbag_get")
        flash = self._incoming.values.get(key)
        if self.is_open and key not in self._read_keys:
            self._read_keys = self._read_keys.union((key,))
        return default if flash is None else self._read(flash)

    def _get_flashed_messages(
        self,
        *,
        with_categories: bool = False,
        category_filter: Iterable[str] | str = (),
    ) -> list[Any]:
        """Incoming messages, then this request's own, in flash order.

        Marks what it returns as shown. With ``category_filter`` only those
        categories are returned and marked; the others stay. Once the scope
        has ended, incoming messages only: this request's own are stored.
        """
        if isinstance(category_filter, str):
            wanted: frozenset[str] | None = frozenset((category_filter,))
        else:
            wanted = frozenset(category_filter) or None
        picked: list[Message] = []
        for index, flash in enumerate(self._incoming.messages):
            if wanted is None or flash.key in wanted:
                picked.append(Message(flash.key, self._read(flash)))
                if self.is_open:
                    self._read_messages = self._read_messages.union((index,))
        if self.is_open:
            for index, flash in enumerate(self._own_messages):
                if wanted is None or flash.key in wanted:
                    picked.append(Message(flash.key, self._read(flash, own=True)))
                    self._shown_own = self._shown_own.union((index,))
        if with_categories:
            return picked
        return [message.message for message in picked]

    get_flashed_messages: GetFlashedMessages = _get_flashed_messages  # type: ignore[assignment]

    # -- writes --------------------------------------------------------------

    def _start_write(self, call: str) -> None:
        """Refuse a write once the scope has ended."""
        if not self.is_open:
            raise RuntimeError(
                f"{call}: the flash scope of this request has already ended, so "
                "this would never reach the next request. Call it inside the "
                "handler (put @with_flashbag outermost, above other decorators)."
            )

    def _flash(self, key: str, value: Any, call: str, where: object) -> Flash:
        safe = _Markup is not None and isinstance(value, _Markup)
        return Flash(key, json_data(value, call, where), stamp(), safe)

    def _commit_write(
        self,
        call: str,
        key: object,
        values: Mapping[str, Flash],
        messages: Sequence[Flash],
        now: frozenset[int] | None = None,
    ) -> None:
        """Make ``values`` and ``messages`` outgoing if they fit ``max_bytes``."""
        now = self._now if now is None else now
        if self._max_bytes is not None:
            size = stored_size(StoredBag(values, _stored(messages, now)))
            if size > self._max_bytes:
                raise ValueError(
                    f"{_where(call, key)}: this request's flashes would take "
                    f"{size} bytes in the session, over max_bytes="
                    f"{self._max_bytes} (they take {self.encoded_size()} now); "
                    "nothing was changed"
                )
        self._out_values = values
        self._own_messages = messages
        self._now = now
        self._written = True

    def set(self, key: str, value: Any) -> None:
        """Pass ``value`` on to the next request under ``key``."""
        self._start_write("flashbag_set")
        check_key(key, "flashbag_set")
        flash = self._flash(key, value, "flashbag_set", key)
        values = {**self._out_values, key: flash}
        self._commit_write("flashbag_set", key, values, self._own_messages)

    def append(self, key: str, value: Any) -> None:
        """Append ``value`` to the outgoing list under ``key`` (created if new)."""
        call = "flashbag_append"
        self._start_write(call)
        check_key(key, call)
        current = self._out_values.get(key)
        if current is not None and not isinstance(current.value, list):
            raise FlashbagTypeError(
                f"{_where(call, key)}: the outgoing value is a "
                f"{type(current.value).__name__}, not a list; only lists can "
                "be appended to"
            )
        item = json_data(value, call, key, depth=1)
        items = [] if current is None else current.value
        flash = Flash(key, [*items, item], stamp())
        values = {**self._out_values, key: flash}
        self._commit_write(call, key, values, self._own_messages)

    def replace_all(self, mapping: Mapping[str, Any]) -> None:
        """Make ``mapping`` the whole set of outgoing values (messages stay)."""
        call = "flashbag_replace_all"
        self._start_write(call)
        if not isinstance(mapping, Mapping):
            raise FlashbagTypeError(
                f"{call}: expected a mapping of str keys to JSON values, "
                f"got {type(mapping).__name__}"
            )
        values = {
            check_key(key, call): self._flash(key, value, call, key)
            for key, value in mapping.items()
        }
        self._commit_write(call, None, values, self._own_messages)

    def flash(
        self, message: Any, category: str = "message", *, now: bool = False
    ) -> None:
        """Add ``message`` to the ordered message list.

        ``now=True``: for this request's reads only, never stored.
        """
        self._start_write("flash")
        check_key(category, "flash", "categories")
        flashed = self._flash(category, message, "flash", category)
        messages = [*self._own_messages, flashed]
        now_indices = self._now.union((len(messages) - 1,)) if now else self._now
        self._commit_write("flash", category, self._out_values, messages, now_indices)

    def keep(self, *keys: str) -> None:
        """Pass the named incoming values on as well; with no key, everything.

        Kept values survive the page that consumes the rest; outgoing values
        set under the same key still win.
        """
        self._start_write("flashbag_keep")
        for key in keys:
            check_key(key, "flashbag_keep")
        if keys:
            self._kept_keys = self._kept_keys.union(keys)
        else:
            self._keep_all = True
        self._written = True

    def clear(self) -> None:
        """Forget everything this request would pass on so far.

        Drops outgoing values and messages (``now`` ones too), keeps, and the
        redirect carry-over of unread incoming flashes. Later calls add again;
        reads still see incoming.
        """
        self._start_write("flashbag_clear")
        self._out_values = {}
        self._own_messages = ()
        self._now = frozenset()
        self._shown_own = frozenset()
        self._kept_keys = frozenset()
        self._keep_all = False
        self._carry_unread = False
        self._written = True

    def own_flashes(self) -> frozenset[int]:
        """``id()`` of the flashes this request set (values and messages)."""
        return frozenset(map(id, (*self._out_values.values(), *self._own_messages)))

    def encoded_size(self) -> int:
        """Bytes this request's outgoing flashes take in the session (0: none)."""
        messages = _stored(self._own_messages, self._now)
        return stored_size(StoredBag(self._out_values, messages))

    # -- the end of the scope ----------------------------------------------

    @property
    def showed(self) -> bool:
        """Did a read in this request return a flash?"""
        return bool(
            self._read_messages
            or self._shown_own
            or not self._read_keys.isdisjoint(self._incoming.values)
        )

    def shown(self) -> Flashes:
        """What reads returned: found values, and messages in flash order."""
        return Flashes(
            {
                k: self._read(f)
                for k, f in self._incoming.values.items()
                if k in self._read_keys
            },
            [
                *(
                    Message(f.key, self._read(f))
                    for i, f in enumerate(self._incoming.messages)
                    if i in self._read_messages
                ),
                *(
                    Message(f.key, self._read(f, own=True))
                    for i, f in enumerate(self._own_messages)
                    if i in self._shown_own
                ),
            ],
        )

    def deliver_unseen(self, *, new_session: bool) -> list[Message]:
        """The messages a page would consume unseen, marked as shown (htmx)."""
        unseen: list[Message] = []
        if not new_session and not self._keep_all:
            for index, flash in enumerate(self._incoming.messages):
                if index not in self._read_messages:
                    unseen.append(Message(flash.key, self._read(flash)))
                    self._read_messages = self._read_messages.union((index,))
        for index, flash in enumerate(self._own_messages):
            if index not in self._shown_own:
                unseen.append(Message(flash.key, self._read(flash, own=True)))
                self._shown_own = self._shown_own.union((index,))
        return unseen

    def close(
        self, ending: Ending, *, new_session: bool = False
    ) -> tuple[StoredBag | None, list[Flash]]:
        """End the scope. Returns the stored bag (``None``: leave the session
        as it is) and the carried flashes dropped to fit ``max_bytes``.
        """
        self.is_open = False
        if ending is UNCHANGED:
            return None, []
        if not self._written and (ending is PAGE or self._incoming is EMPTY):
            # Nothing goes out, nothing is kept, and nothing came in or a
            # page consumes what did: the most common ending by far.
            return EMPTY, []
        done = Activity(
            values=self._out_values,
            messages=self._own_messages,
            now=self._now,
            read_keys=self._read_keys,
            read_messages=self._read_messages,
            shown_own=self._shown_own,
            kept_keys=self._kept_keys,
            keep_all=self._keep_all,
            carry_unread=self._carry_unread,
            new_session=new_session,
        )
        max_bytes = self._max_bytes
        return fit(
            carried(self._incoming, ending, done),
            passed_on(ending, done),
            lambda bag: max_bytes is None or stored_size(bag) <= max_bytes,
        )
