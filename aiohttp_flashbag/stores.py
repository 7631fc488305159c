"""Where flashes live between requests.

A :class:`FlashStore` loads what came in for a request and commits what the
lifecycle rule decided. :class:`SessionStore`, the default, keeps flashes in
the aiohttp-session session under the session key (docs/lifecycle.rst,
"Writes" and "Size").
"""

from __future__ import annotations

import abc
import json
import math
import sys
import time
import weakref
from typing import Any, Final, NamedTuple

import aiohttp_session
from aiohttp import web

from ._rule import Flash, decode, encode, give_way, logger, warn_dropped, without

__all__ = ("Flash", "FlashStore", "Incoming", "RedisFlashStore", "SessionStore")

#: Browsers drop a cookie whose ``name=value`` is longer than this.
COOKIE_LIMIT: Final = 4096


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


#: Nothing came in.
NOTHING: Final = Incoming()


class FlashStore(abc.ABC):
    """Where flashes live; the session is the default (:class:`SessionStore`).

    A scope calls :meth:`load` when it opens and :meth:`commit` when the
    outermost scope ends, with the request's session at that time (a new
    one if the handler switched sessions).
    """

    @abc.abstractmethod
    async def load(
        self,
        request: web.Request,
        session: aiohttp_session.Session,
        key: str,
        max_age: float | None,
    ) -> Incoming:
        """The flashes that came in for this request."""

    @abc.abstractmethod
    async def commit(
        self,
        request: web.Request,
        session: aiohttp_session.Session,
        key: str,
        incoming: Incoming,
        stored: list[Flash] | None,
        max_bytes: int | None,
    ) -> bool:
        """Keep ``stored`` (``None``: give back what came in as it was), within
        ``max_bytes`` as the rule measures; returns whether the session changed.

        ``stored`` already fits ``max_bytes``; a store that other requests
        change meanwhile bounds the whole again, oldest carried flashes first.
        """


class SessionStore(FlashStore):
    """Flashes in the aiohttp-session session, under the session key.

    The session is written only when the stored flashes change, and an empty
    bag is removed from the session rather than stored.
    """

    async def load(
        self,
        request: web.Request,
        session: aiohttp_session.Session,
        key: str,
        max_age: float | None,
    ) -> Incoming:
        # The client can rewrite a plain JSON cookie: no Markup from there.
        trusted = not isinstance(
            request[aiohttp_session.STORAGE_KEY], aiohttp_session.SimpleCookieStorage
        )
        if key not in session:
            return NOTHING if trusted else Incoming(trusted=False)
        raw = session[key]
        loaded = decode(raw, time.time(), max_age)
        if loaded is None:
            logger.warning(
                "Ignoring unrecognised data under session key %r (of type %s); it is "
                "treated as no flashes and replaced at the next commit",
                key,
                type(raw).__name__,
            )
            return Incoming([], rewrite=True, trusted=trusted, found=True)
        return Incoming(loaded.flashes, loaded.rewrite, trusted, found=True)

    async def commit(
        self,
        request: web.Request,
        session: aiohttp_session.Session,
        key: str,
        incoming: Incoming,
        stored: list[Flash] | None,
        max_bytes: int | None,
    ) -> bool:
        # Flashes compare by identity: unchanged means the same flashes.
        if stored is None or (stored == incoming.flashes and not incoming.rewrite):
            return False
        return _put(session, key, stored)


# -- aiohttp-session's storages ---------------------------------------------------


#: aiohttp-session's own storages, by module and class, and what they are.
_OWN_STORAGES: Final = (
    ("aiohttp_session", "SimpleCookieStorage", "plain cookie"),
    ("aiohttp_session.cookie_storage", "EncryptedCookieStorage", "sealed cookie"),
    ("aiohttp_session.nacl_storage", "NaClCookieStorage", "sealed cookie"),
    ("aiohttp_session.redis_storage", "RedisStorage", "server"),
    ("aiohttp_session.memcached_storage", "MemcachedStorage", "server"),
)


def storage_kind(
    storage: aiohttp_session.AbstractStorage,
) -> tuple[str, type[aiohttp_session.AbstractStorage] | None]:
    """What ``storage`` is, and the aiohttp-session class it derives from:
    ``"plain cookie"``, ``"sealed cookie"`` (encrypted), ``"server"``, or
    ``"custom"`` with ``None``.

    Only modules already imported are looked at: a storage whose module
    nobody imported cannot be in use, and importing it here would pull in
    cryptography, PyNaCl, redis or aiomcache for nothing.
    """
    for module, name, kind in _OWN_STORAGES:
        if module in sys.modules:
            base = getattr(sys.modules[module], name)
            if isinstance(storage, base):
                return kind, base
    return "custom", None


def default_json(storage: aiohttp_session.AbstractStorage) -> bool:
    """Does ``storage`` encode and decode sessions with aiohttp-session's
    default ``json.dumps`` and ``json.loads``?

    aiohttp-session keeps the codec in private attributes and offers no
    public way to ask; this is the one place that reads them
    (tests/test_faults.py pins it).
    """
    codec = (getattr(storage, "_encoder", None), getattr(storage, "_decoder", None))
    return codec == (json.dumps, json.loads)


def bad_data_errors(
    storage: aiohttp_session.AbstractStorage,
) -> tuple[type[BaseException], ...]:
    """What ``storage.load_session()`` raises when the stored data is bad.

    Only aiohttp-session's own storages, with their own ``load_session`` and
    ``load_cookie`` and their default JSON decoder, are known to fail so:
    ``json.loads`` raises ``ValueError`` (or ``RecursionError`` on deep
    nesting), and a cookie that decodes to the wrong shape fails in
    ``Session()`` with ``TypeError`` or ``AttributeError``. Anything else is
    a bug or a misconfiguration.
    """
    kind, base = storage_kind(storage)
    # A subclass that loads the session or reads the cookie its own way has
    # code of its own: its errors are its own.
    if base is None or any(
        getattr(type(storage), name) is not getattr(base, name)
        for name in ("load_session", "load_cookie")
    ):
        return ()
    if not default_json(storage):
        return ()
    if kind == "server":
        return (ValueError, RecursionError)
    return (ValueError, RecursionError, TypeError, AttributeError)


async def load_session(
    request: web.Request, storage: aiohttp_session.AbstractStorage
) -> aiohttp_session.Session:
    """The request's session, or a fresh one when its stored data is bad."""
    try:
        return await aiohttp_session.get_session(request)
    except Exception as exc:
        if not isinstance(exc, bad_data_errors(storage)):
            raise
        # A session the storage cannot decode (a tampered cookie, JSON
        # nested too deep) is not worth a 500 page on every visit.
        logger.warning(
            "Cannot load the session (%s: %s); starting a fresh one",
            type(exc).__name__,
            exc,
        )
        return await aiohttp_session.new_session(request)


_storages_seen: weakref.WeakSet[aiohttp_session.AbstractStorage] = weakref.WeakSet()


def check_storage(storage: aiohttp_session.AbstractStorage, kind: str) -> None:
    """WARNING, once per storage instance, for a server-side storage without
    ``max_age``: it keeps an emptied session's record forever, and flashes
    make sessions for anonymous visitors. Called when flashes change the
    session.
    """
    if kind == "server" and storage.max_age is None and storage not in _storages_seen:
        _storages_seen.add(storage)
        logger.warning(
            "%s has no max_age: it keeps every session forever, including "
            "those that flashes make for anonymous visitors. Give it a max_age.",
            type(storage).__name__,
        )


# -- the cookie guard ---------------------------------------------------------------


def _cookie_bound(
    storage: aiohttp_session.AbstractStorage, kind: str, plain: int
) -> int | None:
    """An upper bound of the session cookie's ``name=value`` for ``plain``
    bytes of session JSON, or ``None`` when it cannot be bounded.
    """
    name = len(storage.cookie_name) + 1
    if not default_json(storage):
        return None
    if kind == "plain cookie":
        return name + 4 * plain + 2  # quoting turns a byte into 4 at most
    # Fernet: 57 bytes and a padded block around the text; NaCl: 40.
    return name + math.ceil((plain + 16 + 57) / 3) * 4 + 2


#: The kinds of storage whose cookie holds the session itself.
IN_COOKIE: Final = ("plain cookie", "sealed cookie")


async def cookie_size(
    request: web.Request,
    storage: aiohttp_session.AbstractStorage,
    session: aiohttp_session.Session,
) -> int:
    """Bytes of ``name=value`` of the session cookie the storage would send
    for ``session`` (0: none), measured by letting it write one.
    """
    morsel = (await saved_cookie(request, storage, session)).get(storage.cookie_name)
    return 0 if morsel is None else len(morsel.key) + 1 + len(morsel.coded_value)


async def saved_cookie(
    request: web.Request,
    storage: aiohttp_session.AbstractStorage,
    session: aiohttp_session.Session,
) -> Any:
    """The cookies a response gets when ``storage`` saves ``session`` into it."""
    scratch = web.Response()
    await storage.save_session(request, scratch, session)
    return scratch.cookies


async def fit_cookie(
    request: web.Request,
    session: aiohttp_session.Session,
    key: str,
    flashes: list[Flash],
    kind: str,
    size: int | None = None,
) -> list[Flash]:
    """Drop flashes, oldest first, until the session cookie fits what a
    browser keeps: the rest of the session (a login) is never lost because of
    flashes. ``size``: the bytes of ``name=value`` of the cookie as it is;
    ``None``: bounded from the session's JSON, and measured only near the
    limit. Returns the flashes kept (and in the session).
    """
    storage: aiohttp_session.AbstractStorage = request[aiohttp_session.STORAGE_KEY]
    if size is None:
        data = {"created": session.created, "session": dict(session)}
        bound = _cookie_bound(storage, kind, len(json.dumps(data)))
        if bound is not None and bound <= COOKIE_LIMIT:
            return flashes
        size = await cookie_size(request, storage, session)
    if size <= COOKIE_LIMIT:
        return flashes

    async def fits(kept: list[Flash]) -> bool:
        _put(session, key, kept)
        return await cookie_size(request, storage, session) <= COOKIE_LIMIT

    # The fewest flashes to drop, in the order they give way, found by
    # bisection: a few measurements whatever the number of flashes.
    order = give_way(flashes)
    if not await fits([]):
        logger.warning(
            "The session itself is too large for a cookie (over %d bytes) even "
            "without flashes; no flashes are stored",
            COOKIE_LIMIT,
        )
        return []
    low, high = 1, len(order)  # dropping `high` flashes fits, `low - 1` not
    while low < high:
        middle = (low + high) // 2
        if await fits(without(flashes, order[:middle])):
            high = middle
        else:
            low = middle + 1
    warn_dropped(
        [f.key for f in order[:low]],
        f"to keep the session cookie within {COOKIE_LIMIT} bytes",
    )
    kept = without(flashes, order[:low])
    _put(session, key, kept)
    return kept


def _put(session: aiohttp_session.Session, key: str, flashes: list[Flash]) -> bool:
    """Put ``flashes`` in the session (an empty bag is removed); whether that
    changed it.
    """
    data = encode(flashes)
    if data is not None:
        session[key] = data
    elif key in session:
        del session[key]
    else:
        return False
    return True


# Last: the Redis store is a FlashStore, defined above.
from ._redis import RedisFlashStore  # noqa: E402
