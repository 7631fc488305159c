"""The flash scope: aiohttp in, the lifecycle rule, aiohttp out.

:func:`run_in_scope` opens a scope (the session → the request's
:class:`Flashbag`), runs the handler, and commits: the response → how the
request ended → the rule's decision (``Flashbag.close``) → the store. The
middleware, the decorator and the view mixin are three doors into it;
scopes nest, and only the outermost one commits.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeVar

import aiohttp_session
from aiohttp import hdrs, web
from aiohttp.abc import AbstractView

from ._flashbag import Flashbag, Flashes
from ._rule import Ending, Flash, decode, encode, ending_of, logger, warn_dropped
from .stores import (
    COOKIE_LIMIT,
    IN_COOKIE,
    FlashStore,
    Incoming,
    RedisFlashStore,
    SessionStore,
    check_storage,
    fit_cookie,
    load_session,
    saved_cookie,
    storage_kind,
)

DEFAULT_SESSION_KEY: Final = "aiohttp_flashbag"
DEFAULT_MAX_BYTES: Final = 2048
#: htmx and common proxies refuse longer headers; messages that do not fit
#: stay unseen.
HX_TRIGGER_LIMIT: Final = 4096

_P = ParamSpec("_P")
_R = TypeVar("_R")


@dataclass(frozen=True)
class Settings:
    session_key: str = DEFAULT_SESSION_KEY
    max_bytes: int | None = DEFAULT_MAX_BYTES
    max_age: float | None = 600
    cache_control: str | None = "no-store"
    htmx_event: str | None = None
    unread: str = "drop"
    store: FlashStore = field(default_factory=SessionStore)


_DEFAULTS: Final = Settings()
SETTINGS_KEY: Final = web.AppKey("aiohttp_flashbag_settings", Settings)

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
    max_age: float | None = 600,
    cache_control: str | None = "no-store",
    htmx_event: str | None = None,
    unread: str = "drop",
    store: FlashStore | None = None,
) -> None:
    """Set options for ``app`` and its sub-applications; defaults apply without it.

    ``session_key``: the session entry for flashes. ``max_bytes``: the bound,
    in bytes of JSON, on what is kept for flashes (``None``: no bound).
    ``max_age``: seconds after which an unread flash is dropped (``None``:
    never). ``cache_control``: the ``Cache-Control`` header of a response
    that showed a flash (``None``: headers are left alone). ``htmx_event``:
    the ``HX-Trigger`` event that delivers messages to htmx requests
    (``None``: off). ``unread``: ``"drop"``, a page consumes what it did not
    show, or ``"keep"``, a flash lives until a read shows it. ``store``:
    where flashes live (``None``: the session). A sub-application's own
    ``setup()`` wins for its routes.

    With the session store, ``setup()`` also makes the cookie guard measure
    the cookie that is sent, so that session writes made after the scope
    ended (an outer middleware) count too.
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
        or not 0 < max_age < math.inf
    ):
        raise ValueError(
            f"max_age must be a finite positive number or None, got {max_age!r}"
        )
    for name, value in (("cache_control", cache_control), ("htmx_event", htmx_event)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise TypeError(f"{name} must be a non-empty str or None, got {value!r}")
    if unread not in ("drop", "keep"):
        raise ValueError(f'unread must be "drop" or "keep", got {unread!r}')
    if store is None:
        store = SessionStore()
    elif not isinstance(store, FlashStore):
        raise TypeError(f"store must be a FlashStore or None, got {store!r}")
    if isinstance(store, RedisFlashStore):
        store.check_settings(max_age)
    first = SETTINGS_KEY not in app
    app[SETTINGS_KEY] = Settings(
        session_key,
        max_bytes,
        max_age,
        cache_control,
        htmx_event,
        unread,
        store,
    )
    if first:  # a second setup() changes settings, not the hook
        # aiohttp 3.10 types its signals' handlers wrongly; newer ones do not.
        app.on_response_prepare.append(
            _guard_sent_cookie  # type: ignore[arg-type, unused-ignore]
        )
        from ._redis import refuse_mixed_stores  # loaded by .stores

        app.on_startup.append(refuse_mixed_stores)


def _settings(request: web.Request) -> Settings:
    """The settings of the nearest app on the route's path that has them."""
    for app in reversed(request.match_info.apps):
        if SETTINGS_KEY in app:
            return app[SETTINGS_KEY]
    return _DEFAULTS


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


#: ``(app or None for every app, callback)``: told of every outermost scope
#: that ends (aiohttp_flashbag.testing.record_flashes).
listeners: list[tuple[web.Application | None, Callable[[FlashRecord], None]]] = []


def _record(
    request: web.Request, bag: Flashbag, status: int | None, stored: list[Flash]
) -> None:
    apps = request.match_info.apps
    record = FlashRecord(
        request.method,
        request.path,
        status,
        bag.shown(),
        bag.as_flashes(stored, later=True),
    )
    for app, listener in list(listeners):
        if app is None or app in apps:
            listener(record)


# -- warnings once per handler -------------------------------------------------------

#: The handlers already warned about, by warning (once per handler).
_warned: dict[str, weakref.WeakSet[Any]] = {
    "sent": weakref.WeakSet(),
    "context": weakref.WeakSet(),
}


def _warn_once(request: web.Request, what: str, text: str) -> None:
    handler = request.match_info.handler
    if handler not in _warned[what]:
        _warned[what].add(handler)
        logger.warning(text, f"{handler.__module__}.{handler.__qualname__}")


# -- the scope -----------------------------------------------------------------


def bag_of(request: web.Request) -> Flashbag | None:
    """The request's :class:`Flashbag`, or ``None`` outside every scope."""
    bag: Flashbag | None = request.get(BAG_KEY)
    return bag


def get_flashbag(request: web.Request) -> Flashbag:
    """The request's :class:`Flashbag`; ``RuntimeError`` outside every scope."""
    bag: Flashbag | None = request.get(BAG_KEY)
    if bag is None:
        raise RuntimeError(_NO_SCOPE)
    return bag


async def run_in_scope(
    request: web.Request,
    handler: Callable[_P, Awaitable[_R]],
    *args: _P.args,
    **kwargs: _P.kwargs,
) -> _R:
    """Await ``handler(*args, **kwargs)`` inside the request's flash scope."""
    outer: Flashbag | None = request.get(BAG_KEY)
    if outer is not None and outer.is_open:  # the outer scope commits
        return await handler(*args, **kwargs)
    storage = request.get(aiohttp_session.STORAGE_KEY)
    if storage is None:
        raise RuntimeError(_NO_SESSION)
    settings = _settings(request)
    session = await load_session(request, storage)
    incoming = await settings.store.load(
        request, session, settings.session_key, settings.max_age
    )
    bag = Flashbag(
        incoming.flashes,
        max_bytes=settings.max_bytes,
        trust_markup=incoming.trusted,
    )
    request[BAG_KEY] = bag
    try:
        response = await handler(*args, **kwargs)
    except web.HTTPException as exc:  # a response too: its status counts
        await _commit(request, settings, bag, incoming, session, exc)
        raise
    except BaseException:
        await _commit(request, settings, bag, incoming, session, None)
        raise
    await _commit(request, settings, bag, incoming, session, response)
    return response


async def _commit(
    request: web.Request,
    settings: Settings,
    bag: Flashbag,
    incoming: Incoming,
    opened_with: aiohttp_session.Session,
    response: Any,
) -> None:
    """Store what the lifecycle rule decides for how the request ended.

    ``response`` is what the handler returned or raised as an HTTP
    response, ``None`` for any other exception.
    """
    key = settings.session_key
    if isinstance(response, web.StreamResponse):  # HTTPException included
        status: int | None = response.status
        sent = response.prepared
        headers = None if sent else response.headers
    else:  # a crash (None), or a template context: a page not made yet
        status, sent, headers = (None if response is None else 200), False, None
    if sent and bag.written:
        _warn_once(
            request,
            "sent",
            "%s set flashes after its response was sent (prepare()): they were "
            "not stored; set them before prepare()",
        )
    if status is not None and headers is None and not sent:
        _warn_once(
            request,
            "context",
            "%s: @with_flashbag got a template context, not a response, so it "
            "cannot mark the page (Cache-Control, htmx); put @with_flashbag "
            "above @aiohttp_jinja2.template",
        )
    if (
        not incoming.found
        and not incoming.flashes  # a store may find flashes elsewhere
        and not bag.written
        and not listeners
    ):
        bag.is_open = False  # nothing came in, nothing goes out: nothing to decide
        return
    redirect = headers is not None and (
        "HX-Redirect" in headers  # htmx follows these whatever the status
        or "HX-Location" in headers
        or headers.get("HX-Refresh") == "true"
    )
    ending = ending_of(request.method, None if sent else status, redirect=redirect)
    session: aiohttp_session.Session = request[aiohttp_session.SESSION_KEY]
    # new_session() replaces the session; invalidate() empties it.
    new_session = incoming.found and (session is not opened_with or key not in session)
    if (
        settings.htmx_event is not None
        and headers is not None
        and ending is Ending.PAGE
        and request.headers.get("HX-Request") == "true"
        and _deliver(headers, settings.htmx_event, bag.unseen(new_session=new_session))
    ):
        bag.showed = True
    stored, dropped = bag.close(
        ending, new_session=new_session, keep_unread=settings.unread == "keep"
    )
    if dropped:
        warn_dropped([f.key for f in dropped], f"over max_bytes={settings.max_bytes}")
    changed = await settings.store.commit(
        request, session, key, incoming, stored, settings.max_bytes
    )
    kept = incoming.flashes if stored is None else stored
    if kept:
        storage = request[aiohttp_session.STORAGE_KEY]
        kind = storage_kind(storage)[0]
        if kind in IN_COOKIE and isinstance(settings.store, SessionStore):
            fitted = await fit_cookie(request, session, key, kept, kind)
            changed, kept = changed or fitted is not kept, fitted
        if changed:  # a session for an anonymous visitor, perhaps
            check_storage(storage, kind)
    if (
        changed
        and isinstance(response, web.StreamResponse)
        and not isinstance(response, web.Response)
        and not sent
    ):
        # aiohttp-session saves the session for web.Response and HTTP
        # exceptions only: a download would lose the flashes.
        storage = request[aiohttp_session.STORAGE_KEY]
        await storage.save_session(request, response, session)
    bag.stored = kept
    if headers is not None and settings.cache_control is not None and bag.showed:
        # A one-time, personal page: no cache may keep it, shared ones included.
        headers["Cache-Control"] = settings.cache_control
        headers.popall("CDN-Cache-Control", None)
        headers.popall("Surrogate-Control", None)
    if listeners:
        _record(request, bag, status, kept)


def _deliver(headers: Any, event: str, unseen: list[Flash]) -> bool:
    """Add ``event`` with the unseen messages to ``HX-Trigger``, keeping what
    is there, while the header fits ``HX_TRIGGER_LIMIT`` bytes; the messages
    delivered count as shown. Were any delivered?
    """
    triggers: dict[str, Any] = {}
    for value in headers.getall("HX-Trigger", []):
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
    detail = list(earlier) if isinstance(earlier, list) else []
    triggers[event] = detail
    size = len(json.dumps(triggers))
    for flash in unseen:
        item = {"category": flash.key, "message": flash.value}
        grown = size + len(json.dumps(item)) + (2 if detail else 0)
        if grown > HX_TRIGGER_LIMIT:
            break
        detail.append(item)
        flash.shown, size = True, grown
    delivered = len(detail) > len(earlier or ())
    if delivered:
        headers["HX-Trigger"] = json.dumps(triggers)
    return delivered


async def _guard_sent_cookie(
    request: web.Request, response: web.StreamResponse
) -> None:
    """Keep the session cookie that is sent within what a browser keeps,
    whatever wrote to the session (installed by :func:`setup`).

    It runs when the response's headers are built: the cookie is measured
    as it is, and rebuilt only if flashes must give way.
    """
    session: aiohttp_session.Session | None = request.get(aiohttp_session.SESSION_KEY)
    storage = request.get(aiohttp_session.STORAGE_KEY)
    if session is None or storage is None:
        return
    prefix = storage.cookie_name + "="
    headers = response.headers
    cookies = headers.getall(hdrs.SET_COOKIE, [])
    sent = next((c.split(";", 1)[0] for c in cookies if c.startswith(prefix)), "")
    settings = _settings(request)
    key = settings.session_key
    if (
        len(sent) <= COOKIE_LIMIT
        or key not in session
        or not isinstance(settings.store, SessionStore)
    ):
        return
    kind = storage_kind(storage)[0]
    if kind not in IN_COOKIE:
        return
    bag = bag_of(request)
    if bag is not None and encode(bag.stored) == session[key]:
        flashes = bag.stored  # this request's own flashes give way last
    else:
        loaded = decode(session[key], 0, None)
        flashes = [] if loaded is None else loaded.flashes
    await fit_cookie(request, session, key, flashes, kind, len(sent))
    morsel = (await saved_cookie(request, storage, session)).get(storage.cookie_name)
    headers.popall(hdrs.SET_COOKIE)
    for cookie in cookies:
        if not cookie.startswith(prefix):
            headers.add(hdrs.SET_COOKIE, cookie)
    if morsel is not None:
        headers.add(hdrs.SET_COOKIE, morsel.output(header="")[1:])


# -- the middleware ------------------------------------------------------------


@web.middleware
async def flashbag_middleware(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """Open a flash scope around every request of the application.

    Install it after ``aiohttp_session.setup()`` so that it runs inside the
    session middleware.
    """
    return await run_in_scope(request, handler, request)


# -- the decorator -------------------------------------------------------------


def with_flashbag(
    handler: Callable[_P, Awaitable[_R]],
) -> Callable[_P, Coroutine[Any, Any, _R]]:
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
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if args and isinstance(args[-1], web.BaseRequest):  # what aiohttp passes
            request: web.Request = args[-1]  # type: ignore[assignment]
        else:
            request = _view_request(args, handler)
        return await run_in_scope(request, handler, *args, **kwargs)

    return wrapper


def _view_request(args: tuple[Any, ...], handler: Callable[..., Any]) -> web.Request:
    """The request of a decorated view method, or TypeError."""
    if args and isinstance(args[0], AbstractView):
        return args[0].request
    raise TypeError(
        f"@with_flashbag on {handler.__qualname__}: expected the request as "
        "the last positional argument, or a view as the first"
    )


# -- the mixin -----------------------------------------------------------------


class _Awaiting:
    """Await an ``__await__`` generator (the view's own dispatch)."""

    __slots__ = ("_gen",)

    def __init__(self, gen: Generator[Any, None, web.StreamResponse]) -> None:
        self._gen = gen

    def __await__(self) -> Generator[Any, None, web.StreamResponse]:
        return self._gen


async def _dispatch(
    view_await: Callable[[], Generator[Any, None, web.StreamResponse]],
) -> web.StreamResponse:
    # The view's own dispatch starts only here, once the scope is open.
    return await _Awaiting(view_await())


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
