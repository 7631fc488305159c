"""The flash scope: the one place that talks to aiohttp-session.

A scope has three steps: :func:`_open` finds the session and makes the
request's :class:`Flashbag`, the handler runs, and :func:`_commit` stores what
the lifecycle rule decided. The middleware, the decorator and the view mixin
below are three doors into :func:`run_in_scope`; scopes nest, and only the
outermost one commits.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import sys
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Generator, MutableMapping
from dataclasses import dataclass
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Final,
    NamedTuple,
    ParamSpec,
    TypeVar,
    overload,
)

import aiohttp
import aiohttp_session
from aiohttp import web
from aiohttp.abc import AbstractView
from aiohttp.typedefs import Middleware

from ._flashbag import Flashbag, Flashes
from ._lifecycle import (
    EMPTY,
    PAGE,
    Flash,
    Message,
    StoredBag,
    decode,
    encode,
    ending_of,
    oldest_first,
    without,
)

__all__ = (
    "DEFAULT_MAX_BYTES",
    "DEFAULT_SESSION_KEY",
    "FlashRecord",
    "FlashbagMixin",
    "bag_of",
    "flashbag_middleware",
    "get_flashbag",
    "listeners",
    "run_in_scope",
    "setup",
    "with_flashbag",
)

logger: Final = logging.getLogger("aiohttp_flashbag")

DEFAULT_SESSION_KEY: Final = "aiohttp_flashbag"
DEFAULT_MAX_BYTES: Final = 2048
DEFAULT_MAX_AGE: Final = 600
DEFAULT_CACHE_CONTROL: Final = "no-store"
#: Browsers drop a cookie whose ``name=value`` is longer than this.
COOKIE_LIMIT: Final = 4096

_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")
_View = TypeVar("_View", bound=AbstractView)


@dataclass(frozen=True)
class _Settings:
    session_key: str = DEFAULT_SESSION_KEY
    max_bytes: int | None = DEFAULT_MAX_BYTES
    max_age: float | None = DEFAULT_MAX_AGE
    cache_control: str | None = DEFAULT_CACHE_CONTROL
    htmx_event: str | None = None


_DEFAULTS: Final = _Settings()
SETTINGS_KEY: Final = web.AppKey("aiohttp_flashbag_settings", _Settings)

# aiohttp 3.14 added typed request keys and warns about plain str ones.
BAG_KEY: Final[Any] = (
    web.RequestKey("aiohttp_flashbag", Flashbag)
    if hasattr(web, "RequestKey")
    else "aiohttp_flashbag.flashbag"
)

_NO_SESSION: Final = (
    "aiohttp_flashbag keeps flashes in the aiohttp_session session, but the "
    "session middleware has not run for this request. Call "
    "aiohttp_session.setup(app, storage) first, and only then append "
    "aiohttp_flashbag.flashbag_middleware, so that the session middleware is "
    "the outer one."
)
_NO_SCOPE: Final = (
    "No flash scope is open for this request. Open one in one of three ways: "
    "decorate the handler with @aiohttp_flashbag.with_flashbag, derive the "
    "view from aiohttp_flashbag.FlashbagMixin (before web.View), or install "
    "aiohttp_flashbag.flashbag_middleware for the whole application."
)


# -- settings ------------------------------------------------------------------


def setup(
    app: web.Application,
    *,
    session_key: str = DEFAULT_SESSION_KEY,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_age: float | None = DEFAULT_MAX_AGE,
    cache_control: str | None = DEFAULT_CACHE_CONTROL,
    htmx_event: str | None = None,
) -> None:
    """Set options for ``app`` and its sub-applications; defaults apply without it.

    ``session_key``: the session entry for flashes. ``max_bytes``: the bound,
    in bytes of JSON, on what the session holds for flashes (``None``: no
    bound). ``max_age``: seconds after which an unread flash is dropped
    (``None``: never). ``cache_control``: the ``Cache-Control`` header of a
    response that showed a flash (``None``: headers are left alone).
    ``htmx_event``: the ``HX-Trigger`` event that delivers messages to htmx
    requests (``None``: off). A sub-application's own ``setup()`` wins for
    its routes.
    """
    if not isinstance(session_key, str) or not session_key:
        raise TypeError(f"session_key must be a non-empty str, got {session_key!r}")
    if max_bytes is not None and (
        not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 1
    ):
        raise ValueError(f"max_bytes must be a positive int or None, got {max_bytes!r}")
    if max_age is not None and (
        not isinstance(max_age, (int, float))
        or isinstance(max_age, bool)
        or not max_age > 0
    ):
        raise ValueError(f"max_age must be a positive number or None, got {max_age!r}")
    for name, value in (("cache_control", cache_control), ("htmx_event", htmx_event)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise TypeError(f"{name} must be a non-empty str or None, got {value!r}")
    app[SETTINGS_KEY] = _Settings(
        session_key, max_bytes, max_age, cache_control, htmx_event
    )


# The settings of each app that owns routes, resolved once: its own setup(),
# else the nearest parent's, else the defaults. Keyed by id() and checked
# through a weak reference (see "Performance notes" in the README), and
# forgotten with the app.
_settings_of_app: dict[int, tuple[weakref.ref[web.Application], _Settings]] = {}


def _settings(request: web.Request) -> _Settings:
    apps = request.match_info.apps
    owner = apps[-1] if apps else request.app
    known = _settings_of_app.get(id(owner))
    if known is not None and known[0]() is owner:
        return known[1]
    settings = next(
        (app[SETTINGS_KEY] for app in reversed(apps) if SETTINGS_KEY in app),
        _DEFAULTS,
    )
    key = id(owner)
    _settings_of_app[key] = (
        weakref.ref(owner, lambda _: _settings_of_app.pop(key, None)),
        settings,
    )
    return settings


# -- aiohttp and aiohttp-session internals, read here only ----------------------


def _state(request: web.BaseRequest) -> MutableMapping[Any, Any]:
    """The dict behind ``request[key]``.

    aiohttp's private attribute, read here only (see "Performance notes" in
    the README); tests/test_faults.py pins that ``request[key] = value``
    lands here.
    """
    state: MutableMapping[Any, Any] = request._state
    return state


def _session_changed(session: aiohttp_session.Session) -> bool:
    """Will aiohttp-session save (and send) this session?

    It saves only a session marked changed, and has no public way to ask
    (tests/test_faults.py pins what this relies on).
    """
    changed: bool = session._changed
    return changed


class _StorageTraits(NamedTuple):
    #: aiohttp-session's own load_session(): with no session cookie it makes
    #: a new, empty session, and a load that fails on its data is bad data,
    #: not a bug
    own_load: bool
    #: the cookie holds the session itself, so its size is bounded
    cookie_holds_data: bool
    #: the client can rewrite the session (plain JSON cookie)
    client_writable: bool


_storage_traits: dict[type, _StorageTraits] = {}


def _classes(*names: str) -> tuple[type[aiohttp_session.AbstractStorage], ...]:
    """aiohttp-session's storage classes among those already imported.

    A storage whose module nobody imported cannot be in use, and importing it
    here would pull in redis, aiomcache, cryptography or PyNaCl for nothing.
    """
    found: list[type[aiohttp_session.AbstractStorage]] = []
    for name in names:
        module_name, _, class_name = name.rpartition(".")
        module = sys.modules.get(module_name)
        if module is not None:
            found.append(getattr(module, class_name))
    return tuple(found)


def _traits(storage: aiohttp_session.AbstractStorage) -> _StorageTraits:
    kind = type(storage)
    traits = _storage_traits.get(kind)
    if traits is None:
        cookies = _classes(
            "aiohttp_session.SimpleCookieStorage",
            "aiohttp_session.cookie_storage.EncryptedCookieStorage",
            "aiohttp_session.nacl_storage.NaClCookieStorage",
        )
        servers = _classes(
            "aiohttp_session.redis_storage.RedisStorage",
            "aiohttp_session.memcached_storage.MemcachedStorage",
        )
        # A subclass that overrides load_session() has code of its own: it
        # may find sessions some other way, and its errors are bugs.
        own_load = any(
            issubclass(kind, base) and kind.load_session is base.load_session
            for base in (*cookies, *servers)
        )
        traits = _StorageTraits(
            own_load=own_load,
            cookie_holds_data=issubclass(kind, cookies),
            client_writable=issubclass(kind, aiohttp_session.SimpleCookieStorage),
        )
        _storage_traits[kind] = traits
    return traits


async def _cookie_size(
    request: web.Request,
    storage: aiohttp_session.AbstractStorage,
    session: aiohttp_session.Session,
) -> int:
    """Bytes of ``name=value`` of the session cookie the storage would send.

    Measured by letting the storage's class write it into a scratch
    response, so its own encoding, encryption and quoting all count. (The
    class's method: what wraps the instance's, to count or log real saves,
    is not told about this one.)
    """
    scratch = web.Response()
    await type(storage).save_session(storage, request, scratch, session)
    morsel = scratch.cookies.get(storage.cookie_name)
    return 0 if morsel is None else len(morsel.key) + 1 + len(morsel.coded_value)


# -- recording (aiohttp_flashbag.testing) ---------------------------------------


@dataclass(frozen=True)
class FlashRecord:
    """One outermost scope that ended: what it showed and what it stored."""

    method: str
    path: str
    #: ``None`` when the handler raised something that is not an HTTP response
    status: int | None
    shown: Flashes
    stored: Flashes


#: Called with a :class:`FlashRecord` at the end of every outermost scope.
listeners: list[Callable[[FlashRecord], None]] = []


# -- the scope -----------------------------------------------------------------


def bag_of(request: web.Request) -> Flashbag | None:
    """The request's :class:`Flashbag`, or ``None`` outside every scope."""
    bag: Flashbag | None = _state(request).get(BAG_KEY)
    return bag


def get_flashbag(request: web.Request) -> Flashbag:
    """The request's :class:`Flashbag`; ``RuntimeError`` outside every scope."""
    bag = bag_of(request)
    if bag is None:
        raise RuntimeError(_NO_SCOPE)
    return bag


#: The session held nothing under the session key.
ABSENT: Final[Any] = object()


@dataclass
class _Scope:
    request: web.Request
    storage: aiohttp_session.AbstractStorage
    traits: _StorageTraits
    settings: _Settings
    #: the session as the scope found it (None: not loaded, no cookie)
    session: aiohttp_session.Session | None
    #: what that session held under the session key, or ABSENT
    raw: Any
    bag: Flashbag


async def _load_session(
    request: web.Request,
    storage: aiohttp_session.AbstractStorage,
    traits: _StorageTraits,
) -> aiohttp_session.Session | None:
    """The request's session, or ``None`` when it cannot hold flashes yet."""
    if traits.own_load and storage.load_cookie(request) is None:
        return None  # no cookie: a new, empty session, loaded only if written
    expected: tuple[type[Exception], ...] = (ValueError, RecursionError)
    if traits.own_load:  # aiohttp-session's own storages fail so on bad data
        expected += (TypeError, AttributeError, KeyError)
    try:
        return await aiohttp_session.get_session(request)
    except expected as exc:
        # A session the storage cannot decode (a tampered cookie, a value
        # nested too deep for the JSON decoder) is not worth a 500 page on
        # every visit: carry on with a fresh one.
        logger.warning(
            "Cannot load the session (%s: %s); starting a fresh one",
            type(exc).__name__,
            exc,
        )
        return await aiohttp_session.new_session(request)


async def _open(request: web.Request, state: MutableMapping[Any, Any]) -> _Scope:
    """Find the session and make the request's bag from what it holds."""
    storage = state.get(aiohttp_session.STORAGE_KEY)
    if storage is None:
        raise RuntimeError(_NO_SESSION)
    settings = _settings(request)
    traits = _traits(storage)
    session = state.get(aiohttp_session.SESSION_KEY)
    if session is None:  # not loaded yet by anyone
        session = await _load_session(request, storage, traits)
    key = settings.session_key
    raw = session[key] if session is not None and key in session else ABSENT
    incoming = EMPTY
    if raw is not ABSENT:
        now = time.time()
        decoded = decode(raw, now, settings.max_age) if raw is not None else None
        if decoded is None:
            logger.warning(
                "Ignoring unrecognised data under session key %r (a %s); it is "
                "treated as no flashes and replaced at the next commit",
                key,
                type(raw).__name__,
            )
        else:
            incoming = decoded
    bag = Flashbag(
        incoming,
        max_bytes=settings.max_bytes,
        trust_markup=not traits.client_writable,
    )
    state[BAG_KEY] = bag
    return _Scope(request, storage, traits, settings, session, raw, bag)


def _response_facts(
    response: Any,
) -> tuple[int | None, bool, MutableMapping[str, str] | None]:
    """(status, already sent, headers the scope may still change)."""
    if type(response) is web.Response and not response.prepared:  # most pages
        return response.status, False, response.headers
    if isinstance(response, web.HTTPException):
        return response.status, False, response.headers
    if isinstance(response, web.StreamResponse):
        sent = response.prepared
        return response.status, sent, None if sent else response.headers
    if response is None:
        return None, False, None
    # A template context (aiohttp_jinja2.template outside the scope): a 200
    # whose response does not exist yet.
    return 200, False, None


async def _commit(scope: _Scope, response: Any) -> None:
    """Store what the lifecycle rule decides for how the request ended.

    ``response`` is what the handler returned or raised as an HTTP
    response, ``None`` for any other exception.
    """
    request, bag, settings = scope.request, scope.bag, scope.settings
    key = settings.session_key
    status, sent, headers = _response_facts(response)
    # htmx follows these headers in a response of any status.
    hx_redirect = headers is not None and (
        "HX-Redirect" in headers or "HX-Location" in headers
    )
    ending = ending_of(request.method, status, sent=sent, hx_redirect=hx_redirect)
    session: aiohttp_session.Session | None = _state(request).get(
        aiohttp_session.SESSION_KEY
    )
    # new_session() replaces the session; invalidate() empties it.
    new_session = scope.raw is not ABSENT and (
        session is not scope.session or session is None or key not in session
    )
    if (
        settings.htmx_event is not None
        and headers is not None
        and ending is PAGE
        and request.headers.get("HX-Request") == "true"
    ):
        unseen = bag.deliver_unseen(new_session=new_session)
        if unseen:
            _trigger(headers, settings.htmx_event, unseen)
    stored, dropped = bag.close(ending, new_session=new_session)
    if dropped:
        _warn_dropped(dropped, f"over max_bytes={settings.max_bytes}")
    if stored is not None:
        stored = await _store(scope, session, stored, response, headers)
    if headers is not None and settings.cache_control is not None and bag.showed:
        # A page that showed a flash is a one-time, personal page.
        headers["Cache-Control"] = settings.cache_control
    if listeners:
        _record(scope, status, stored)


async def _store(
    scope: _Scope,
    session: aiohttp_session.Session | None,
    stored: StoredBag,
    response: Any,
    headers: MutableMapping[str, str] | None,
) -> StoredBag:
    """Write the stored bag into the session; the bag as written."""
    request, key = scope.request, scope.settings.session_key
    data = encode(stored)
    if session is None:  # not loaded: there was no session cookie
        if data is None:
            return stored
        session = await aiohttp_session.get_session(request)
    changed = _put(session, key, data)
    if (
        data is not None
        and scope.traits.cookie_holds_data
        and _session_changed(session)  # else no cookie is sent at all
    ):
        stored, dropped = await _fit_cookie(scope, session, stored)
        changed = changed or bool(dropped)
    if (
        changed
        and type(response) is not web.Response
        and headers is not None
        and isinstance(response, web.StreamResponse)
        and not isinstance(response, web.Response)
    ):
        # aiohttp-session saves the session for web.Response and HTTP
        # exceptions only: a download would lose the flashes.
        await scope.storage.save_session(request, response, session)
    return stored


def _put(session: aiohttp_session.Session, key: str, data: Any) -> bool:
    """Put a stored bag's data in the session; whether that changed it."""
    if data is None:
        if key not in session:
            return False
        del session[key]
    elif key in session and session[key] == data:
        return False
    else:
        session[key] = data
    return True


async def _fit_cookie(
    scope: _Scope, session: aiohttp_session.Session, stored: StoredBag
) -> tuple[StoredBag, list[Flash]]:
    """Drop flashes, oldest first, until the session cookie fits in what a
    browser keeps: the rest of the session (a login) must never be lost
    because of flashes. The bag as written, and what was dropped.
    """
    key = scope.settings.session_key
    dropped: list[Flash] = []
    while await _cookie_size(scope.request, scope.storage, session) > COOKIE_LIMIT:
        # This request's own flashes are newer than any carried or kept one,
        # whatever their stamps (whole seconds) say: they go last.
        own = scope.bag.own_flashes()
        order = sorted(oldest_first(stored), key=lambda flash: id(flash) in own)
        if not order:
            logger.warning(
                "The session itself is too large for a cookie (over %d bytes) "
                "even without flashes; no flashes are stored",
                COOKIE_LIMIT,
            )
            break
        dropped.append(order[0])
        stored = without(stored, order[0])
        _put(session, key, encode(stored))
    if dropped:
        _warn_dropped(
            dropped, f"to keep the session cookie within {COOKIE_LIMIT} bytes"
        )
    return stored, dropped


def _warn_dropped(dropped: list[Flash], why: str) -> None:
    logger.warning(
        "Dropped %d flash(es), oldest first, %s: %s",
        len(dropped),
        why,
        ", ".join(repr(flash.key) for flash in dropped),
    )


def _trigger(
    headers: MutableMapping[str, str], event: str, unseen: list[Message]
) -> None:
    """Add ``event`` with the messages to ``HX-Trigger``, keeping what is there."""
    detail = [{"category": m.category, "message": m.message} for m in unseen]
    # The handler may have added the header more than once: keep every one.
    getall = getattr(headers, "getall", None)
    values = getall("HX-Trigger", []) if getall else [headers.get("HX-Trigger", "")]
    triggers: dict[str, Any] = {}
    for value in values:
        existing = value.strip()
        if existing.startswith("{"):
            try:
                parsed = json.loads(existing)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                triggers.update(parsed)
        elif existing:  # a comma-separated list of event names
            for name in existing.split(","):
                if name.strip():
                    triggers.setdefault(name.strip(), None)
    earlier = triggers.get(event)
    triggers[event] = [*earlier, *detail] if isinstance(earlier, list) else detail
    headers["HX-Trigger"] = json.dumps(triggers)


def _record(scope: _Scope, status: int | None, stored: StoredBag | None) -> None:
    if stored is None:  # unchanged: what the session held
        raw = None if scope.raw is ABSENT else scope.raw
        stored = decode(raw, time.time()) or EMPTY
    request, bag = scope.request, scope.bag
    record = FlashRecord(
        request.method, request.path, status, bag.shown(), bag.as_flashes(stored)
    )
    for listener in list(listeners):
        listener(record)


async def run_in_scope(
    request: web.Request,
    handler: Callable[_P, Awaitable[_R]],
    *args: _P.args,
    **kwargs: _P.kwargs,
) -> _R:
    """Await ``handler(*args, **kwargs)`` inside the request's flash scope.

    With no ``args`` the handler gets the request, as a middleware's does:
    this is ``flashbag_middleware`` itself. The middleware, the decorator
    and the mixin all come here.
    """
    state = _state(request)
    outer: Flashbag | None = state.get(BAG_KEY)
    if outer is not None and outer.is_open:  # the outer scope commits
        return await (handler(*args, **kwargs) if args else handler(request))  # type: ignore[arg-type, call-arg]
    scope = await _open(request, state)
    try:
        result = await (handler(*args, **kwargs) if args else handler(request))  # type: ignore[arg-type, call-arg]
    except web.HTTPException as exc:  # a response too: its status counts
        await _commit(scope, exc)
        raise
    except BaseException:
        await _commit(scope, None)
        raise
    await _commit(scope, result)
    return result


#: Opens a flash scope around every request of the application. Install it
#: after ``aiohttp_session.setup()`` so that it runs inside the session
#: middleware.
flashbag_middleware: Final[Middleware] = (
    web.middleware(run_in_scope)  # type: ignore[arg-type, unused-ignore]
    if int(aiohttp.__version__.split(".")[0]) < 4  # new-style needs marking in 3.x
    else run_in_scope  # type: ignore[assignment, unused-ignore]
)


# -- the decorator -------------------------------------------------------------


# The first two overlap the third for type checkers (a view, or a request,
# then anything); at run time the view or request comes first, as here.
@overload
def with_flashbag(  # type: ignore[overload-overlap]
    handler: Callable[Concatenate[_View, _P], Awaitable[_R]],
) -> Callable[Concatenate[_View, _P], Coroutine[Any, Any, _R]]: ...


@overload
def with_flashbag(  # type: ignore[overload-overlap]
    handler: Callable[Concatenate[web.Request, _P], Awaitable[_R]],
) -> Callable[Concatenate[web.Request, _P], Coroutine[Any, Any, _R]]: ...


@overload
def with_flashbag(
    handler: Callable[Concatenate[_T, web.Request, _P], Awaitable[_R]],
) -> Callable[Concatenate[_T, web.Request, _P], Coroutine[Any, Any, _R]]: ...


def with_flashbag(
    handler: Callable[..., Awaitable[_R]],
) -> Callable[..., Coroutine[Any, Any, _R]]:
    """Run the flash lifecycle around one handler.

    Works on ``async def handler(request)``, on methods of class-based views
    (``async def get(self)``) and on ``async def handler(self, request)``.
    Other requests of the application never touch flashes. Anything but an
    ``async def`` function is refused here, not at request time.
    """
    if not inspect.iscoroutinefunction(handler):
        raise TypeError(
            "@with_flashbag wraps an `async def` handler or view method, got "
            f"{handler!r}; put it below @staticmethod/@classmethod, and make the "
            "function async"
        )

    @functools.wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> _R:
        if len(args) == 1 and not kwargs and type(args[0]) is web.Request:
            return await run_in_scope(args[0], handler)  # what aiohttp calls
        return await run_in_scope(_request_in(args, handler), handler, *args, **kwargs)

    return wrapper


def _request_in(args: tuple[Any, ...], handler: Callable[..., Any]) -> web.Request:
    """The request among a decorated handler's arguments, or TypeError."""
    if args and type(args[-1]) is web.Request:  # what aiohttp passes
        return args[-1]
    if args and isinstance(args[-1], web.BaseRequest):
        return args[-1]  # type: ignore[return-value]
    if args and isinstance(args[0], AbstractView):
        return args[0].request
    raise TypeError(
        f"@with_flashbag on {handler.__qualname__}: expected the request as "
        "the last positional argument, or a view as the first"
    )


# -- the mixin -----------------------------------------------------------------


class _AwaitGenerator:
    """Await an ``__await__`` generator obtained from somewhere else."""

    __slots__ = ("_gen",)

    def __init__(self, gen: Generator[Any, None, web.StreamResponse]) -> None:
        self._gen = gen

    def __await__(self) -> Generator[Any, None, web.StreamResponse]:
        return self._gen


async def _dispatch(
    view_await: Callable[[], Generator[Any, None, web.StreamResponse]],
) -> web.StreamResponse:
    return await _AwaitGenerator(view_await())


if TYPE_CHECKING:
    _ViewBase = web.View
else:
    _ViewBase = object


class FlashbagMixin(_ViewBase):
    """Run the flash lifecycle around every method of a class-based view.

    Use it before ``web.View``: ``class FormView(FlashbagMixin, web.View)``.
    ``self.flashbag`` is the request's :class:`Flashbag`.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        mro = cls.__mro__
        if AbstractView in mro and mro.index(AbstractView) < mro.index(FlashbagMixin):
            raise TypeError(
                f"{cls.__name__}: list FlashbagMixin before the view class in "
                f"the bases, as in class {cls.__name__}(FlashbagMixin, web.View)"
            )

    @property
    def flashbag(self) -> Flashbag:
        """The request's :class:`Flashbag`."""
        return get_flashbag(self.request)

    def __await__(self) -> Generator[Any, None, web.StreamResponse]:
        return run_in_scope(self.request, _dispatch, super().__await__).__await__()
