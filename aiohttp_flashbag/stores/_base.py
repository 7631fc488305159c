"""The seam between the scope and where flashes live."""

from __future__ import annotations

import abc
from typing import Any, NamedTuple

import aiohttp_session
from aiohttp import web

from .. import _settings
from .._rule import Flash, logger
from .._stored import Loaded, decode


class Incoming(NamedTuple):
    """What a store loaded for one request."""

    #: the flashes, keyed values first, then messages
    flashes: list[Flash] = []  # noqa: RUF012 - a NamedTuple field, never changed
    #: the store holds them in another form (an older format, a time or a
    #: flash dropped when read): write them back even if they only travel on
    rewrite: bool = False
    #: ``Markup`` read from the store can be trusted (the client cannot
    #: forge it)
    trusted: bool = True
    #: the session held an entry under the session key
    found: bool = False
    #: what the store needs to commit (the Redis store's visitor id, say)
    state: Any = None
    #: the store needs its commit even if nothing came in (a lease to free)
    settle: bool = False

    @property
    def came(self) -> bool:
        """Is there anything to commit, whatever the request does?"""
        return self.found or self.settle or bool(self.flashes)


class Committed(NamedTuple):
    """What a store's commit did."""

    #: the session changed (a flash, or the store's own entry)
    changed: bool = False
    #: the flashes that gave way to the storage's own limits
    dropped: list[Flash] = []  # noqa: RUF012 - a NamedTuple field, never changed


class FlashStore(abc.ABC):
    """Where flashes live; the session is the default (``SessionStore``).

    A scope calls :meth:`load` when it opens and :meth:`commit` when the
    outermost scope ends, with the request's session at that time (a new
    one if the handler switched sessions). The store owns its storage's
    limits: what it could not keep, it returns.
    """

    @abc.abstractmethod
    async def load(
        self,
        request: web.Request,
        session: aiohttp_session.Session | None,
        settings: _settings.Settings,
    ) -> Incoming:
        """The flashes that came in for this request. ``session`` is
        ``None`` when the request brought no session (a cookie storage, and
        no cookie): it is empty, and not loaded unless the store loads it
        (``aiohttp_session.get_session``).
        """

    @abc.abstractmethod
    async def commit(
        self,
        request: web.Request,
        response: web.StreamResponse | None,
        session: aiohttp_session.Session,
        settings: _settings.Settings,
        incoming: Incoming,
        stored: list[Flash] | None,
    ) -> Committed:
        """Keep ``stored`` (``None``: leave what came in as it was): whether
        the session changed, and the flashes that gave way to the storage's
        own limits.

        ``stored`` already fits ``max_bytes``; ``response`` is the response
        not yet sent, if there is one (``None`` for a crash).
        """

    def known(
        self,
        request: web.Request,
        session: aiohttp_session.Session | None,
        settings: _settings.Settings,
    ) -> Incoming | None:
        """What :meth:`load` would return, when the store can tell without
        awaiting anything (nothing came in, say); ``None``: the scope awaits
        :meth:`load`. By default the store cannot tell.
        """
        return None

    def check(self, settings: _settings.Settings) -> None:
        """Refuse (``ValueError``) settings this store cannot keep; called
        when ``setup()`` builds them. Every setting fits the default.
        """
        return None

    def same_place(self, other: FlashStore) -> bool:
        """Do ``other``'s flashes live where this store's do? (By default:
        a store of the same class.)
        """
        return type(other) is type(self)

    async def prepared(
        self,
        request: web.Request,
        response: web.StreamResponse,
        settings: _settings.Settings,
        stored: list[Flash] | None,
    ) -> list[Flash]:
        """Called when a response of an app that called ``setup()`` is
        prepared, whatever wrote to the session (unless the request opened
        no scope and loaded no session); ``stored`` is what this request's
        scope stored, if it committed. Returns the flashes that gave way
        (none by default).
        """
        return []


def read_entry(raw: Any, settings: _settings.Settings, what: str = "") -> Loaded | None:
    """The flashes of a session entry in any form this library or 0.0.3
    wrote; ``None``, with a WARNING, for anything else (``what`` says more
    of what it is not).
    """
    loaded = decode(raw, settings.clock(), settings.max_age)
    if loaded is None:
        logger.warning(
            "Ignoring unrecognised data under session key %r (of type %s%s); it "
            "is treated as no flashes and replaced at the next commit",
            settings.session_key,
            type(raw).__name__,
            what,
        )
    return loaded
