"""The flash scope: the one place that talks to aiohttp-session.

A scope opens a :class:`Flashbag` for a request, runs the handler, and when
the handler is done commits what the lifecycle rule decided. The middleware,
the decorator and the view mixin below are three doors into the same
:func:`run_in_scope`; scopes nest, and only the outermost one commits.
"""

from __future__ import annotations

import functools
from collections.abc import (
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    MutableMapping,
)
from dataclasses import dataclass
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Final,
    ParamSpec,
    TypeVar,
    overload,
)

import aiohttp_session
from aiohttp import web
from aiohttp.abc import AbstractView
from aiohttp.typedefs import Middleware

from ._flashbag import Flashbag, logger
from ._lifecycle import EMPTY, UNCHANGED, encode, ending_of

__all__ = (
    "DEFAULT_MAX_BYTES",
    "DEFAULT_SESSION_KEY",
    "FlashbagMixin",
    "flashbag_middleware",
    "get_flashbag",
    "run_in_scope",
    "setup",
    "with_flashbag",
)

DEFAULT_SESSION_KEY: Final = "aiohttp_flashbag"
DEFAULT_MAX_BYTES: Final = 2048

_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")
_View = TypeVar("_View", bound=AbstractView)


@dataclass(frozen=True)
class _Settings:
    session_key: str = DEFAULT_SESSION_KEY
    max_bytes: int | None = DEFAULT_MAX_BYTES


_DEFAULTS: Final = _Settings()
SETTINGS_KEY: Final = web.AppKey("aiohttp_flashbag_settings", _Settings)

# aiohttp 3.14 added typed request keys and warns about plain str ones.
BAG_KEY: Final[Any] = (
    web.RequestKey("aiohttp_flashbag", Flashbag)
    if hasattr(web, "RequestKey")
    else "aiohttp_flashbag.flashbag"
)

_Request: Final = web.Request
_Response: Final = web.Response

# aiohttp-session's request keys, looked up once.
_STORAGE_KEY: Final = aiohttp_session.STORAGE_KEY
_SESSION_KEY: Final = aiohttp_session.SESSION_KEY

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


def setup(
    app: web.Application,
    *,
    session_key: str = DEFAULT_SESSION_KEY,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> None:
    """Set app-wide options; without it the defaults apply.

    ``session_key`` is where the session keeps flashes. ``max_bytes`` bounds
    the JSON size of what one request passes on (``None``: no bound); a write
    past it raises ``ValueError``. Sub-applications inherit the settings.
    """
    if not isinstance(session_key, str) or not session_key:
        raise TypeError(f"session_key must be a non-empty str, got {session_key!r}")
    if max_bytes is not None and (
        not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 1
    ):
        raise ValueError(f"max_bytes must be a positive int or None, got {max_bytes!r}")
    app[SETTINGS_KEY] = _Settings(session_key, max_bytes)
    global _settings_in_use
    _settings_in_use = True


# Until some app calls setup(), every request uses the defaults and the scope
# skips the lookup, which would build request.config_dict on every request.
_settings_in_use = False


def _settings(request: web.Request) -> _Settings:
    settings = request.app.get(SETTINGS_KEY)
    if settings is None:  # inherited from a parent app, or the defaults
        settings = request.config_dict.get(SETTINGS_KEY, _DEFAULTS)
    return settings


def bag_of(request: web.Request) -> Flashbag | None:
    """The request's :class:`Flashbag`, or ``None`` outside every scope."""
    # The dict under the request, as in run_in_scope.
    bag: Flashbag | None = request._state.get(BAG_KEY)
    return bag


def get_flashbag(request: web.Request) -> Flashbag:
    """The request's :class:`Flashbag`; ``RuntimeError`` outside every scope."""
    bag = bag_of(request)
    if bag is None:
        raise RuntimeError(_NO_SCOPE)
    return bag


# aiohttp-session's own storages find a session by its cookie, and with no
# cookie load_session() makes a new, empty session. For them the scope skips
# the load when there is no cookie: nothing can be incoming.
_COOKIE_KEYED: Final = frozenset(
    {
        ("aiohttp_session", "SimpleCookieStorage.load_session"),
        ("aiohttp_session.cookie_storage", "EncryptedCookieStorage.load_session"),
        ("aiohttp_session.nacl_storage", "NaClCookieStorage.load_session"),
        ("aiohttp_session.redis_storage", "RedisStorage.load_session"),
        ("aiohttp_session.memcached_storage", "MemcachedStorage.load_session"),
    }
)
_cookie_keyed_types: dict[type, bool] = {}


def _is_cookie_keyed(kind: type[aiohttp_session.AbstractStorage]) -> bool:
    load = kind.load_session
    known = (load.__module__, load.__qualname__) in _COOKIE_KEYED
    _cookie_keyed_types[kind] = known
    return known


async def _fresh_session(request: web.Request, exc: Exception) -> Any:
    # A session the storage cannot make sense of (a tampered or truncated
    # cookie under SimpleCookieStorage, a wrong shape in Redis) is not a
    # reason for a 500 page: carry on with a fresh session, as
    # EncryptedCookieStorage does itself for a cookie it cannot decrypt.
    logger.warning(
        "Cannot load the session (%s: %s); starting a fresh one",
        type(exc).__name__,
        exc,
    )
    return await aiohttp_session.new_session(request)


async def run_in_scope(
    request: web.Request,
    handler: Callable[_P, Awaitable[_R]],
    *args: _P.args,
    **kwargs: _P.kwargs,
) -> _R:
    """Await ``handler(*args, **kwargs)`` inside the request's flash scope.

    With no ``args`` the handler gets the request, as a middleware's does:
    this very function is ``flashbag_middleware``. The one place where a scope
    opens and commits: the middleware, the decorator and the mixin all come
    here.
    """
    # web.Request's mapping methods run a Python __getitem__ that raises
    # KeyError for every missing key; on a path that runs for every scoped
    # request the plain dict underneath is measurably cheaper to ask.
    state: MutableMapping[Any, Any] = request._state
    if BAG_KEY in state:  # an outer scope runs the lifecycle
        if not args:
            return await handler(request)  # type: ignore[arg-type, call-arg]
        return await handler(*args, **kwargs)
    storage = state.get(_STORAGE_KEY)
    if storage is None:
        raise RuntimeError(_NO_SESSION)
    settings = _settings(request) if _settings_in_use else _DEFAULTS
    key = settings.session_key

    # Incoming is what the session holds now, when the scope opens, even if
    # the handler later replaces the session with new_session().
    session = state.get(_SESSION_KEY)
    cookie_keyed = _cookie_keyed_types.get(type(storage))
    if cookie_keyed is None:
        cookie_keyed = _is_cookie_keyed(type(storage))
    if session is None and not (cookie_keyed and storage.load_cookie(request) is None):
        try:
            session = await aiohttp_session.get_session(request)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            session = await _fresh_session(request, exc)
    raw = session[key] if session is not None and key in session else None
    bag = Flashbag(raw, key, settings.max_bytes)
    state[BAG_KEY] = bag

    result: Any = None
    raised: web.HTTPException | None = None
    try:
        if args:
            result = await handler(*args, **kwargs)
        else:  # a middleware's handler: no tuple to build and unpack
            result = await handler(request)  # type: ignore[arg-type, call-arg]
    except web.HTTPException as exc:  # a response too: its status counts
        raised = exc
    except BaseException:
        bag._conclude(UNCHANGED)
        raise

    if raw is None and bag._unwritten:
        # Nothing came in and nothing was written: whatever the ending, there
        # is nothing to store, so skip the lifecycle calls on this common path.
        bag._closed = True
    else:
        if raised is not None:
            ending = ending_of(request.method, raised.status, False)
        elif type(result) is _Response:
            # What nearly every page returns, and never sent yet: a
            # web.Response the handler sent itself makes aiohttp-session
            # refuse to save the session at all. So no `prepared` (a property
            # is a Python call) and no getattr.
            ending = ending_of(request.method, result.status, False)
        elif (status := getattr(result, "status", None)) is None:
            # A template context (aiohttp_jinja2.template outside us): a 200.
            ending = ending_of(request.method, 200, False)
        else:  # a stream or a WebSocket may be sent already
            ending = ending_of(request.method, status, result.prepared)
        stored = bag._conclude(ending)
        if stored is not None:
            # Looked up again: new_session() or invalidate() in the handler
            # must win over the session object the scope started with.
            session = state.get(_SESSION_KEY)
            if session is None:  # not loaded yet: there was no session cookie
                session = await aiohttp_session.get_session(request)
            # Only what changes the session is written, so a session that
            # is not changed is not saved again.
            data = None if stored is EMPTY else encode(stored)
            if data is None:
                # Mostly the flashes a page consumed, so there: no "in" first,
                # and no contextlib.suppress (a context manager).
                try:  # noqa: SIM105
                    del session[key]
                except KeyError:
                    pass
            # Not session.get(): Mapping.get raises and catches KeyError on a miss.
            elif (session[key] if key in session else None) != data:  # noqa: SIM401
                session[key] = data
    if raised is not None:
        raise raised
    return result  # type: ignore[no-any-return]


#: Opens a flash scope around every request of the application. Install it
#: after ``aiohttp_session.setup()`` so that it runs inside the session
#: middleware. It is run_in_scope itself, one coroutine less per request.
flashbag_middleware: Final[Middleware] = web.middleware(run_in_scope)  # type: ignore[assignment]


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
    Other requests of the application never touch flashes.
    """
    if not callable(handler):
        raise TypeError(f"with_flashbag wraps an async handler, got {handler!r}")

    @functools.wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> _R:
        # aiohttp calls handler(request): the common case, with nothing to
        # pack. View methods get (self,), handlers on a class (self, request).
        if len(args) == 1 and type(args[0]) is _Request and not kwargs:
            return await run_in_scope(args[0], handler)
        request = _request_in(args, handler)
        return await run_in_scope(request, handler, *args, **kwargs)

    return wrapper


def _request_in(args: tuple[Any, ...], handler: Callable[..., Any]) -> web.Request:
    """The request among a decorated handler's arguments, or TypeError."""
    if not args:
        raise TypeError(f"@with_flashbag on {handler.__qualname__}: no request")
    if isinstance(args[-1], web.BaseRequest):
        return args[-1]  # type: ignore[return-value]
    if isinstance(args[0], AbstractView):
        return args[0].request
    raise TypeError(
        f"@with_flashbag on {handler.__qualname__}: expected the request as "
        "the last positional argument, or a view as the first"
    )


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
