"""The flash scope: aiohttp in, the lifecycle rule, aiohttp out.

:func:`run_in_scope` opens a scope (the session → the store → the request's
:class:`Flashbag`), runs the handler, and commits (:func:`_commit`): how the
request ended → the rule's decision (``Flashbag.close``) → the store → the
response's headers. The middleware, the decorator and the view mixin are
three doors into it; scopes nest, and only the outermost one commits.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final, ParamSpec, TypeAlias, TypeVar, cast

import aiohttp_session
from aiohttp import web
from aiohttp.abc import AbstractView

from . import _htmx
from ._flashbag import Flashbag
from ._record import notify
from ._rule import Ending, Flash, ending_of, logger, without
from ._sessions import is_a, known_empty, load_session, save, state
from ._settings import Settings, check_route, settings_of
from ._speculative import is_speculative, refusal
from .stores import Incoming

_P = ParamSpec("_P")
#: A commit to await (see ``_close``).
Commit: TypeAlias = Coroutine[Any, Any, None]
_R = TypeVar("_R")


# -- warnings once per handler -------------------------------------------------------

_WARNINGS: Final = {
    "late": "%s changed flashes after it prepared its response: the changes "
    "were not stored; make them before prepare()",
    "sent": "%s used flashes on a response it prepared itself, and nothing can "
    "be stored once a response is sent: call aiohttp_flashbag.setup(app) so "
    "that the scope commits when the response is prepared",
    "context": "%s: @with_flashbag got a template context, not a response, so it "
    "cannot mark the page (Cache-Control, htmx); put @with_flashbag above "
    "@aiohttp_jinja2.template",
}
#: The handlers already warned about, by warning (once per handler).
_warned: dict[str, weakref.WeakSet[Any]] = {
    what: weakref.WeakSet() for what in _WARNINGS
}


def _warn_once(request: web.Request, what: str) -> None:
    handler = request.match_info.handler
    try:
        if handler in _warned[what]:
            return
        _warned[what].add(handler)
    except TypeError:  # a handler that cannot be weakly referred to: each time
        pass
    name = getattr(handler, "__qualname__", None)
    module = getattr(handler, "__module__", None)
    logger.warning(_WARNINGS[what], f"{module}.{name}" if name else repr(handler))


# -- the scope -----------------------------------------------------------------


class _Scope:
    """The request's scope: its bag, and what the commit needs besides.

    The bag is made when something asks for it (a read, a write, a template)
    or when something came in: a scope into which nothing came and that
    nothing asked ends as it began, without one.
    """

    __slots__ = (
        "ended",
        "incoming",
        "made",
        "min_level",
        "pending",
        "session",
        "settings",
    )

    def __init__(
        self,
        request: web.Request,
        settings: Settings,
        session: aiohttp_session.Session | None,
        incoming: Incoming,
        min_level: int | None,
    ) -> None:
        self.settings = settings
        #: the request's minimum level (set_level() lasts for the request)
        self.min_level = min_level
        #: the one the scope opened with; ``None``: known empty, not loaded
        self.session = session
        self.incoming = incoming
        #: the bag, once made
        self.made: Flashbag | None = None
        #: how a scope ended before its bag was made: ``None`` while open, else
        #: whether the handler had prepared its response (streamed)
        self.ended: bool | None = None
        #: with setup(), records are completed when the response is prepared:
        #: ``(bag, status, stored, dropped)`` of this scope and of earlier
        #: scopes of the request
        self.pending: list[
            tuple[Flashbag | None, int | None, list[Flash], list[Flash]]
        ] = []
        if incoming.came:
            self.bag(request)

    def bag(self, request: web.Request) -> Flashbag:
        """The scope's bag, made now if it is not yet; one made after the
        scope ended starts ended too.
        """
        bag = self.made
        if bag is None:
            settings, incoming = self.settings, self.incoming
            bag = self.made = Flashbag(
                incoming.flashes, trust_markup=incoming.trusted, clock=settings.clock
            )
            bag.levels, bag.min_level = settings.levels, self.min_level
            bag.request, bag.translate = weakref.ref(request), settings.translate
            bag.report_late = _report_late
            if self.ended is not None:
                bag.close(Ending.UNCHANGED, None, streamed=self.ended)
        return bag

    def level(self) -> int | None:
        """The request's minimum level, as set_level() left it."""
        return self.min_level if self.made is None else self.made.min_level

    def is_open(self) -> bool:
        """Has the scope not ended yet?"""
        return self.ended is None if self.made is None else self.made.is_open


# aiohttp 3.14 added typed request keys and warns about plain str ones.
SCOPE_KEY: Final[Any] = (
    web.RequestKey("aiohttp_flashbag", _Scope)
    if hasattr(web, "RequestKey")
    else "aiohttp_flashbag.scope"
)


def bag_of(request: web.Request) -> Flashbag | None:
    """The request's :class:`Flashbag`, or ``None`` outside every scope."""
    scope: _Scope | None = state(request, SCOPE_KEY)
    return None if scope is None else scope.bag(request)


def get_flashbag(request: web.Request) -> Flashbag:
    """The request's :class:`Flashbag`; ``RuntimeError`` outside every scope."""
    try:
        scope: _Scope = request[SCOPE_KEY]  # one look-up: every read and write
    except (KeyError, TypeError):
        if not is_a(request, web.BaseRequest):
            raise TypeError(_not_a_request(request)) from None
        raise RuntimeError(
            "No flash scope is open for this request. Open one in one of three "
            "ways: decorate the handler with @aiohttp_flashbag.with_flashbag "
            "(below the route decorator, such as @routes.get(...), which "
            "registers the function it is given), derive the view from "
            "aiohttp_flashbag.FlashbagMixin (before web.View), or install "
            "aiohttp_flashbag.flashbag_middleware for the whole application."
        ) from None
    bag = scope.made  # (made already, most of the time)
    return bag if bag is not None else scope.bag(request)


def _not_a_request(given: object) -> str:
    hint = (
        "; in a class-based view, pass self.request"
        if isinstance(given, AbstractView)
        else ""
    )
    return (
        "aiohttp_flashbag's functions take the request (aiohttp.web.Request), "
        f"got {type(given).__name__}: {given!r}{hint}"
    )


async def run_in_scope(
    request: web.Request,
    handler: Callable[_P, Awaitable[_R]],
    /,  # the handler may take a ``request`` keyword of its own
    *args: _P.args,
    **kwargs: _P.kwargs,
) -> _R:
    """Await ``handler(*args, **kwargs)`` inside the request's flash scope."""
    outer: _Scope | None = state(request, SCOPE_KEY)
    if outer is not None and outer.is_open():  # the outer scope commits
        return await handler(*args, **kwargs)
    try:
        storage = request[aiohttp_session.STORAGE_KEY]
    except KeyError:
        raise RuntimeError(
            "aiohttp_flashbag keeps flashes in the aiohttp_session session, but "
            "the session middleware has not run for this request. Call "
            "aiohttp_session.setup(app, storage) first, and only then append "
            "aiohttp_flashbag.flashbag_middleware, so that the session "
            "middleware is the outer one."
        ) from None
    settings = settings_of(request)
    check_route(request, settings)
    # The session the scope opens with: loaded already (an earlier scope, an
    # outer middleware), known empty (no cookie: loaded by the commit, if it
    # writes), or loaded now.
    session = state(request, aiohttp_session.SESSION_KEY)
    if session is None and not known_empty(request, storage):
        session = await load_session(request, storage)
    incoming = settings.store.known(request, session, settings)
    if incoming is None:
        incoming = await settings.store.load(request, session, settings)
    # A later scope of the request keeps the level set_level() gave it.
    level = settings.min_level if outer is None else outer.level()
    request[SCOPE_KEY] = scope = _Scope(request, settings, session, incoming, level)
    if outer is not None:  # an earlier scope of this request has ended
        scope.pending = outer.pending
    if incoming.flashes and is_speculative(request.headers):
        # docs/lifecycle.rst, "Speculative requests": a 5xx, so it consumes
        # nothing, and the handler never runs.
        refused = refusal()
        await _commit(request, scope, refused, refused.status)
        return cast(_R, refused)
    try:
        response = await handler(*args, **kwargs)
    except BaseException as exc:  # an HTTP exception is a response: its status counts
        commit = _end(request, scope, exc if is_a(exc, web.HTTPException) else None)
        if commit is not None:
            await commit
        raise
    commit = _end(request, scope, response)
    if commit is not None:
        await commit
    return response


def _end(request: web.Request, scope: _Scope, outcome: Any) -> Commit | None:
    """The outermost scope ends with ``outcome`` (what the handler returned
    or raised as an HTTP response, ``None`` for any other exception): it
    ends here, or returns its commit to await; nothing, when it has
    committed already or commits when the response is prepared.
    """
    bag = scope.made
    # Committed already, when the handler prepared its response:
    if bag is None:
        if scope.ended is not None:
            return None
    elif bag.streamed:
        return None
    response = outcome if is_a(outcome, web.StreamResponse) else None
    if is_a(response, web.WebSocketResponse):  # it leaves flashes unchanged
        return _close(request, scope, None, outcome.status, sent=True)
    elif response is not None and response.prepared:
        # Without setup() nothing saw the response being prepared.
        if bag is not None and (bag.written or bag.showed):
            _warn_once(request, "sent")
        return _close(request, scope, None, response.status, sent=True)
    elif outcome is not None and response is None:  # a template context
        _warn_once(request, "context")  # a page not made yet: it will be a 200
        return _close(request, scope, None, 200)
    elif response is None:  # a crash
        return _close(request, scope, None, None)
    # With setup(), a FileResponse commits when it is prepared: its status (a
    # 304, a 206) is known only then.
    elif not scope.settings.hooked or not is_a(response, web.FileResponse):
        return _close(request, scope, response, response.status)
    return None


def _report_late(request: web.Request | None) -> None:
    """A write came after the scope committed at ``prepare()``: the WARNING,
    once per handler, at the write itself (in the handler, or in an outer
    middleware once it has returned).
    """
    if request is not None:
        _warn_once(request, "late")


def _close(
    request: web.Request,
    scope: _Scope,
    response: web.StreamResponse | None,
    status: int | None,
    sent: bool = False,
) -> Commit | None:
    """The scope ends: here, when there is nothing to store (nothing came in,
    a store may find flashes elsewhere than under the session key, and
    nothing was written); else the commit to await.
    """
    bag, incoming = scope.made, scope.incoming
    if bag is None or (not incoming.came and not bag.written):
        streamed = response is not None and response.prepared
        if bag is None:
            scope.ended = streamed  # a bag made later starts ended
        else:
            bag.close(Ending.UNCHANGED, None, streamed=streamed)
        _record(request, scope, bag, status, sent, [], [])
        return None
    return _commit(request, scope, response, status, sent)


async def _commit(
    request: web.Request,
    scope: _Scope,
    response: web.StreamResponse | None,
    status: int | None,
    sent: bool = False,
) -> None:
    """Store what the lifecycle rule decides for how the request ended:
    ``status`` (``None``: a crash; ``sent``: a response sent before the
    scope could store anything), and ``response`` when the scope can still
    mark it.
    """
    settings, incoming, bag = scope.settings, scope.incoming, scope.bag(request)
    headers = None if response is None else response.headers
    streamed = response is not None and response.prepared
    redirect = headers is not None and _htmx.redirects(headers)
    ending = ending_of(request.method, None if sent else status, redirect=redirect)
    # The session the handler left (loaded now if known empty at the opening)
    session: aiohttp_session.Session | None = state(
        request, aiohttp_session.SESSION_KEY
    )
    if session is None:
        session = await aiohttp_session.get_session(request)
    # new_session() replaces the session; invalidate() empties it.
    new_session = incoming.found and (
        session is not scope.session or settings.session_key not in session
    )
    delivered: list[Flash] = []
    if (
        settings.htmx_event is not None
        and headers is not None
        and ending is Ending.PAGE
        and _htmx.listens(request.headers)
    ):
        unseen = bag.unseen(new_session=new_session)
        delivered = _htmx.deliver(headers, settings.htmx_event, bag, unseen)
    stored, dropped = bag.close(
        ending,
        settings.max_bytes,
        new_session=new_session,
        keep_unread=settings.unread == "keep",
        delivered=delivered,
        streamed=streamed,
    )
    committed = await settings.store.commit(
        request, response, session, settings, incoming, stored
    )
    if committed.changed:
        await save(request, response, session)
    bag.stored = incoming.flashes if stored is None else stored
    if committed.dropped:
        bag.stored = without(bag.stored, committed.dropped)
    if headers is not None and settings.cache_control is not None and bag.showed:
        # A one-time, personal page: no cache may keep it, shared ones included.
        headers["Cache-Control"] = settings.cache_control
        headers.popall("CDN-Cache-Control", None)
        headers.popall("Surrogate-Control", None)
    _record(
        request, scope, bag, status, sent, bag.stored, [*dropped, *committed.dropped]
    )


def _record(
    request: web.Request,
    scope: _Scope,
    bag: Flashbag | None,
    status: int | None,
    sent: bool,
    stored: list[Flash],
    dropped: list[Flash],
) -> None:
    """Give the scope's record to the listeners (:func:`notify`), or, with
    setup(), keep it until the response is prepared: the cookie guard may
    still drop flashes. One that needs no completing waits behind earlier
    ones all the same, so that records come in the order their scopes ended.
    """
    if scope.settings.hooked and (scope.pending or (status is not None and not sent)):
        scope.pending.append((bag, status, stored, dropped))  # see _prepared
    else:
        notify(request, bag, status, stored, dropped)


async def _prepared(request: web.Request, response: web.StreamResponse) -> None:
    """A response of an app that called ``setup()`` is being prepared.

    A scope still open commits now (the handler prepared its own response);
    the store then checks what is sent, and the record is completed.
    """
    scope: _Scope | None = state(request, SCOPE_KEY)
    if scope is None:  # (no session loaded: nothing wrote to it)
        if state(request, aiohttp_session.SESSION_KEY) is not None:
            settings = settings_of(request)
            await settings.store.prepared(request, response, settings, None)
        return
    if scope.is_open() and not is_a(response, web.WebSocketResponse):
        commit = _close(request, scope, response, response.status)
        if commit is not None:
            await commit
    bag = scope.made
    stored = None if scope.is_open() else [] if bag is None else bag.stored
    dropped = await scope.settings.store.prepared(
        request, response, scope.settings, stored
    )
    if dropped and bag is not None:
        bag.stored = without(bag.stored, dropped)
    pending, scope.pending = scope.pending, []
    for ended, status, kept, earlier in pending:
        if dropped:
            kept, earlier = without(kept, dropped), [*earlier, *dropped]
        notify(request, ended, status, kept, earlier)
