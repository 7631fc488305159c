"""The flashes of one request: what came in, what goes out, what was shown."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from functools import cached_property
from typing import Any, Literal, NamedTuple, TypeVar, cast, overload

from ._lazy import LazyMessage, Translate, is_lazy, options_of, render
from ._levels import LEVELS, level_of, read_message
from ._rule import JSON, Ending, Flash, JSONLike, Message, brief, fit, stored_after
from ._settings import now
from ._stored import Refused, copied, plain

try:  # safe HTML is an option: without markupsafe there is no Markup to keep
    from markupsafe import Markup
except ImportError:  # pragma: no cover - markupsafe comes with Jinja2
    Markup = None  # type: ignore[assignment, misc]

_T = TypeVar("_T")


class FlashbagTypeError(TypeError, ValueError):
    """A wrong type; also a ``ValueError``, which aiohttp-flashbag 0.0.3 raised."""


class Flashes(NamedTuple):
    """Flashes as plain data: keyed values and ordered messages (copies)."""

    values: dict[str, Any]
    messages: list[Message]


def _checked_key(key: object, call: str, what: str = "keys") -> str:
    if not isinstance(key, str):
        raise FlashbagTypeError(
            f"{call}: flashbag {what} must be str, got "
            f"{type(key).__name__}: {brief(key)}"
        )
    try:
        return str(plain(key))
    except Refused as exc:
        raise FlashbagTypeError(f"{call}: flashbag {what}: {exc}") from None


def _checked(value: Any, call: str, key: str, depth: int = 0) -> JSON:
    """``value`` as JSON data (a copy), or FlashbagTypeError naming the call."""
    try:
        return plain(value, depth)
    except Refused as exc:
        raise FlashbagTypeError(
            f"{call}({brief(key)}): cannot store a value of type "
            f"{type(value).__name__} as a flash ({exc}); pass JSON data: str, "
            "int, float, bool or None, in sequences (list, tuple) and mappings "
            "with str keys (dict), with valid Unicode text"
        ) from None


def _categories(category_filter: Iterable[str] | str | None) -> set[str]:
    """The categories a read keeps (none: all), or FlashbagTypeError."""
    if category_filter is None:
        return set()
    if isinstance(category_filter, str):
        return {category_filter}
    wanted: set[object] = {None}  # refused below, unless replaced
    with suppress(TypeError):  # not iterable, or holding what no set can
        wanted = set(category_filter)
    if isinstance(category_filter, (bytes, bytearray)) or not all(
        isinstance(c, str) for c in wanted
    ):
        raise FlashbagTypeError(
            "get_flashed_messages: category_filter must be a category (str) or "
            f"an iterable of them, got {brief(category_filter)}"
        )
    return cast(set[str], wanted)


def _no_request() -> None:
    return None


class Flashbag:
    """The flashes of one request.

    ``incoming`` is what earlier requests left for this one; ``outgoing`` is
    what this request passes on. Keyed reads see incoming only; message reads
    see incoming messages, then the ones this request flashed. When the
    outermost scope ends, ``close()`` applies the lifecycle rule.
    """

    # What a request does to its bag starts from these defaults; most
    # requests change few of them.
    _writes = 0  # numbers this request's flashes in write order
    keep_all = False
    cleared = False
    #: the request called a write (set, flash, keep, clear)
    written = False
    #: a read returned a flash
    showed = False
    #: false once the outermost scope has ended
    is_open = True
    #: the scope ended when the handler prepared its own response: later
    #: reads see what they would have, later writes are not stored
    streamed = False
    #: a write came after a streamed response's commit
    late = False
    #: called with the request on a write after a streamed response's commit
    #: (the scope's WARNING)
    report_late: Callable[[Any], None] | None = None
    #: what the store holds after the commit (set by the commit)
    stored: list[Flash] = []  # noqa: RUF012 - replaced, never changed in place
    # Levels and translations (docs/translations.rst): the reading app's
    # levels, this request's minimum level (set_level), and what renders lazy
    # messages; the scope sets them.
    levels: Mapping[str, int] = LEVELS
    min_level: int | None = None
    translate: Translate | None = None

    def __init__(
        self,
        incoming: Iterable[Flash] = (),
        *,
        trust_markup: bool = True,
        clock: Callable[[], float] = now,
    ) -> None:
        self._incoming = list(incoming)
        self._values: dict[str, Flash] = {}  # this request's, by key
        self._messages: list[Flash] = []  # this request's, in order
        self._trust_markup = trust_markup
        self._clock = clock
        #: the request, weakly: it holds the bag, and a cycle would leave every
        #: request to the garbage collector
        self.request: Callable[[], Any] = _no_request

    @cached_property
    def _in_values(self) -> dict[str, Flash]:
        """Incoming values by key, worked out when a keyed call first asks."""
        return {f.key: f for f in self._incoming if not f.message}

    def __repr__(self) -> str:
        return f"<Flashbag incoming={self.incoming!r} outgoing={self.outgoing!r}>"

    # -- reads ---------------------------------------------------------------

    def _read(self, flash: Flash, *, later: bool = False) -> Any:
        """What a read returns (``later``: in the next request): a copy, or
        ``Markup`` for safe text that the client could not forge; a lazy
        message's text.
        """
        value = flash.value
        if flash.options is not None and is_lazy(flash):
            return render(flash, self.request(), self.translate)
        if (
            flash.safe
            and Markup is not None
            and isinstance(value, str)
            and ((flash.own and not later) or self._trust_markup)
        ):
            return Markup(value)
        return value if type(value) is str else copied(value)

    def as_message(self, flash: Flash, *, later: bool = False) -> Message:
        """The :class:`Message` a read returns for a message flash."""
        return read_message(
            flash.key, self._read(flash, later=later), flash.options, self.levels
        )

    def as_flashes(self, flashes: Iterable[Flash], *, later: bool = False) -> Flashes:
        """``flashes`` as plain data, as reads in this request (``later``: in
        the next one) would return them.
        """
        result = Flashes({}, [])
        for f in flashes:
            if f.message:
                result.messages.append(self.as_message(f, later=later))
            else:
                result.values[f.key] = self._read(f, later=later)
        return result

    @property
    def incoming(self) -> Flashes:
        """What earlier requests left for this one (a copy); marks nothing."""
        return self.as_flashes(self._incoming)

    @property
    def outgoing(self) -> Flashes:
        """What this request passes on so far (a copy; ``now`` messages aside)."""
        own = [*self._values.values(), *self._messages]
        return self.as_flashes(f for f in own if not f.now)

    def __contains__(self, key: object) -> bool:
        """``key in bag``: is there an incoming value under ``key``?"""
        return key in self._in_values

    @overload
    def get(self, key: str) -> JSON: ...

    @overload
    def get(self, key: str, default: _T) -> JSON | _T: ...

    def get(self, key: str, default: Any = None) -> Any:
        """The incoming value under ``key``, or ``default``; marks it as shown."""
        if not isinstance(key, str):
            _checked_key(key, "flashbag_get")
        flash = self._in_values.get(key)
        if flash is None:
            return default
        if self.is_open:
            flash.shown = self.showed = True
        return self._read(flash)

    @overload
    def get_flashed_messages(
        self,
        *,
        with_categories: Literal[True],
        category_filter: Iterable[str] | str | None = (),
    ) -> list[Message]: ...

    @overload
    def get_flashed_messages(
        self,
        *,
        with_categories: bool = False,
        category_filter: Iterable[str] | str | None = (),
    ) -> list[Any]: ...

    def get_flashed_messages(
        self,
        *,
        with_categories: bool = False,
        category_filter: Iterable[str] | str | None = (),
    ) -> list[Any]:
        """Incoming messages, then this request's own, in flash order.

        Marks what it returns as shown. With ``category_filter`` (a
        category, or an iterable of them; ``None``: all) only those
        categories are returned and marked; the others are not marked (a
        page still consumes them under ``unread="drop"``). Once the scope
        has ended, incoming messages only: this request's own are stored.
        """
        wanted = set() if category_filter == () else _categories(category_filter)
        picked = [
            f
            for f in (
                *self._incoming,
                *(self._messages if self.is_open or self.streamed else ()),
            )
            if f.message and (not wanted or f.key in wanted)
        ]
        if picked and self.is_open:
            self.showed = True
            for f in picked:
                f.shown = True
        if with_categories:
            return [self.as_message(f) for f in picked]
        return [self._read(f) for f in picked]

    # -- writes --------------------------------------------------------------

    def _new(self, call: str, key: Any, value: Any, message: bool = False) -> Flash:
        """A flash this request sets, checked; nothing is changed yet."""
        if self.streamed:  # accepted, never stored: the scope warns
            self.late = True
            if self.report_late is not None:
                self.report_late(self.request())
        elif not self.is_open:
            raise RuntimeError(
                f"{call}: the flash scope of this request has already ended, so "
                "this would never reach the next request. Call it inside the "
                "handler (put @with_flashbag outermost, above other decorators)."
            )
        if type(key) is not str or not key.isascii():  # plain text is fine
            key = _checked_key(key, call, "categories" if message else "keys")
        safe = Markup is not None and isinstance(value, Markup)
        if type(value) is not str or not value.isascii():  # (see plain())
            value = _checked(value, call, key)
        stamp = math.ceil(self._clock())  # each write when it is made
        flash = Flash(key, value, stamp, message, safe)
        flash.own = self.written = True
        flash.seq = self._writes = self._writes + 1
        return flash

    def set(self, key: str, value: JSONLike, call: str = "flashbag_set") -> None:
        """Pass ``value`` on to the next request under ``key``."""
        flash = self._new(call, key, value)
        self._values[flash.key] = flash

    def append(self, key: str, value: JSONLike) -> None:
        """Append ``value`` to the outgoing list under ``key`` (created if new)."""
        current = self._values.get(key) if isinstance(key, str) else None
        if current is None:
            return self.set(key, [value], "flashbag_append")
        flash = self._new("flashbag_append", key, [])
        if not isinstance(current.value, list):
            raise FlashbagTypeError(
                f"flashbag_append({brief(key)}): the outgoing value is of type "
                f"{type(current.value).__name__}, not a list; only lists can "
                "be appended to"
            )
        item = _checked(value, "flashbag_append", key, depth=1)
        if self.late:  # committed: the stored bag holds this very list
            current.value = [*current.value]
        current.value.append(item)
        current.size = -1  # measured again if needed
        current.set_at, current.seq = flash.set_at, flash.seq  # written now
        return None

    def replace_all(self, value: Mapping[str, JSONLike]) -> None:
        """Make ``value`` the whole set of outgoing values (messages stay)."""
        if not isinstance(value, Mapping):
            raise FlashbagTypeError(
                "flashbag_replace_all: expected a mapping of str keys to JSON "
                f"values, got {type(value).__name__}"
            )
        flashes = [self._new("flashbag_replace_all", k, v) for k, v in value.items()]
        self._values = {f.key: f for f in flashes}

    def flash(
        self,
        message: JSONLike | LazyMessage,
        category: str = "message",
        *,
        now: bool = False,
        extra_tags: str = "",
    ) -> None:
        """Add ``message`` to the ordered message list.

        ``now=True``: for this request's reads only, never stored.
        ``extra_tags``: stored with it (``Message.tags``). A message whose
        level is below the minimum level is neither stored nor shown.
        """
        lazy = isinstance(message, LazyMessage)
        text = message.message_id if lazy else message  # type: ignore[union-attr]
        flash = self._new("flash", category, text, message=True)
        if extra_tags != "" or lazy:
            flash.options = options_of(message, flash.key, extra_tags)
        if self.min_level is not None and (
            level_of(flash.key, self.levels) < self.min_level
        ):
            return
        if now:
            flash.now = True
        self._messages.append(flash)

    def keep(self, *keys: str) -> None:
        """Pass the named incoming values on as well; with no key, everything.

        Kept values survive the page that consumes the rest; outgoing values
        set under the same key still win.
        """
        for key in keys or ("",):
            self._new("flashbag_keep", key, None)
        self.keep_all = self.keep_all or not keys
        for key in keys:
            if key in self._in_values:
                self._in_values[key].kept = True

    def clear(self) -> None:
        """Forget everything this request would pass on so far.

        Drops outgoing values and messages (``now`` ones too), keeps, and
        what incoming flashes would otherwise travel on. Later calls add
        again; reads still see incoming.
        """
        self._new("flashbag_clear", "", None)
        self._values, self._messages = {}, []
        self.keep_all, self.cleared = False, True
        for f in self._incoming:
            f.kept = False

    # -- the end of the scope ----------------------------------------------

    def shown(self) -> Flashes:
        """What reads returned: found values, and messages in flash order."""
        return self.as_flashes(f for f in (*self._incoming, *self._messages) if f.shown)

    def unseen(self, *, new_session: bool) -> list[Flash]:
        """The messages a page would leave unseen: incoming ones not shown or
        kept (none after a new session), then this request's own not shown.
        """
        carried = not new_session and not self.keep_all
        return [
            f
            for f in (*self._incoming, *self._messages)
            if f.message and not f.shown and (f.own or (carried and not f.kept))
        ]

    def close(
        self,
        ending: Ending,
        max_bytes: int | None,
        *,
        new_session: bool = False,
        keep_unread: bool = False,
        delivered: Iterable[Flash] = (),
        streamed: bool = False,
    ) -> tuple[list[Flash] | None, list[Flash]]:
        """End the scope: the stored bag by the lifecycle rule (``None``: leave
        it as it is) within ``max_bytes``, and the flashes that gave way.

        ``delivered``: messages the response carries to the page some other
        way (htmx): shown. ``streamed``: the handler prepared its response.
        """
        for flash in delivered:
            flash.shown = self.showed = True
        self.is_open, self.streamed = False, streamed
        if ending is Ending.UNCHANGED:
            return None, []
        stored = stored_after(
            self._incoming,
            [*self._values.values(), *self._messages],
            ending,
            keep_all=self.keep_all,
            cleared=self.cleared,
            new_session=new_session,
            keep_unread=keep_unread,
        )
        if stored is None:
            return None, []
        for flash in self._incoming:  # (only what came in can be skewed)
            if flash.skewed:  # docs/lifecycle.rst, "Bounded life": now, at this commit
                flash.set_at, flash.size = math.ceil(self._clock()), -1
        return fit(stored, max_bytes)
