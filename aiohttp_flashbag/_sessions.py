"""What this library knows of aiohttp-session's storages: what kind a
storage is, and when a session that fails to load is bad data rather than a
bug (docs/lifecycle.rst, "Bad input and faults").
"""

from __future__ import annotations

import functools
import json
import sys
import weakref
from http.cookies import Morsel
from typing import Any, Final, NamedTuple

import aiohttp_session
from aiohttp import hdrs, web

from ._rule import logger

#: aiohttp-session's own storages, by module and class, and what they are.
_OWN_STORAGES: Final = (
    ("aiohttp_session", "SimpleCookieStorage", "plain cookie"),
    ("aiohttp_session.cookie_storage", "EncryptedCookieStorage", "sealed cookie"),
    ("aiohttp_session.nacl_storage", "NaClCookieStorage", "sealed cookie"),
    ("aiohttp_session.redis_storage", "RedisStorage", "server"),
    ("aiohttp_session.memcached_storage", "MemcachedStorage", "server"),
)
#: The kinds of storage whose cookie holds the session itself.
IN_COOKIE: Final = ("plain cookie", "sealed cookie")


def is_a(obj: object, cls: type) -> bool:
    """``isinstance`` for the classes of aiohttp and aiohttp-session on the
    request path: those are ABCs, whose instance check costs more than the
    rest of a scope's bookkeeping; their subclasses are real ones.
    """
    return cls in type(obj).__mro__


def state(holder: web.Request | web.Application, key: Any) -> Any:
    """The request's (or the app's) entry under ``key``, or ``None``.

    ``.get()`` raises and catches a ``KeyError`` for a missing key, the
    common case on the request path (no scope yet, no session loaded, an app
    without ``setup()``), which costs more than a scope's bookkeeping; a look
    at the keys does not.
    """
    return holder[key] if key in iter(holder) else None


class Kind(NamedTuple):
    """What a storage is (see :func:`storage_kind`)."""

    #: ``"plain cookie"``, ``"sealed cookie"`` (encrypted), ``"server"``, or
    #: ``"custom"``
    kind: str
    #: the aiohttp-session class it derives from (``None``: custom)
    base: type[aiohttp_session.AbstractStorage] | None
    #: it loads sessions with aiohttp-session's own code
    own_loading: bool


def storage_kind(storage: aiohttp_session.AbstractStorage) -> Kind:
    """What ``storage`` is."""
    return _kind_of(type(storage))


@functools.cache
def _kind_of(cls: type[aiohttp_session.AbstractStorage]) -> Kind:
    """Worked out once per class: its class checks are those of ABCs.

    Only modules already imported are looked at: a storage whose module
    nobody imported cannot be in use, and importing it here would pull in
    cryptography, PyNaCl, redis or aiomcache for nothing.
    """
    for module, name, kind in _OWN_STORAGES:
        if module in sys.modules:
            base = getattr(sys.modules[module], name)
            if issubclass(cls, base):
                # A subclass that loads the session or reads the cookie its
                # own way has code of its own.
                own = all(
                    getattr(cls, method) is getattr(base, method)
                    for method in ("load_session", "load_cookie")
                )
                return Kind(kind, base, own)
    return Kind("custom", None, False)


def known_empty(request: web.Request, storage: aiohttp_session.AbstractStorage) -> bool:
    """Is the request's session known to be empty without loading it? So
    when ``storage`` is one of aiohttp-session's cookie storages, with its
    own loading code, and the request brought no cookie of it.
    """
    kind = storage_kind(storage)
    return (
        kind.own_loading
        and kind.kind in IN_COOKIE
        and storage.cookie_name not in request.cookies
    )


def default_json(storage: aiohttp_session.AbstractStorage) -> bool:
    """Does ``storage`` encode and decode sessions with aiohttp-session's
    default ``json.dumps`` and ``json.loads``?

    aiohttp-session keeps the codec in private attributes and offers no
    public way to ask; this is the one place that reads them
    (tests/contract/test_faults.py pins it).
    """
    codec = (getattr(storage, "_encoder", None), getattr(storage, "_decoder", None))
    return codec == (json.dumps, json.loads)


def in_memcached(storage: aiohttp_session.AbstractStorage) -> bool:
    """Is ``storage`` aiohttp-session's ``MemcachedStorage`` (or a subclass)?"""
    module = sys.modules.get("aiohttp_session.memcached_storage")
    memcached = getattr(module, "MemcachedStorage", None)
    return memcached is not None and storage_kind(storage).base is memcached


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
    kind = storage_kind(storage)
    # A subclass that loads the session or reads the cookie its own way has
    # code of its own: its errors are its own.
    if not kind.own_loading or not default_json(storage):
        return ()
    if kind.kind == "server":
        if in_memcached(storage):
            # The cookie is the record's key, and aiomcache refuses a key
            # that memcached cannot hold (too long, white space in it).
            from aiomcache.exceptions import ValidationException

            return (ValueError, RecursionError, ValidationException)
        return (ValueError, RecursionError)
    return (ValueError, RecursionError, TypeError, AttributeError)


async def load_session(
    request: web.Request, storage: aiohttp_session.AbstractStorage
) -> aiohttp_session.Session:
    """The request's session, loaded now; a fresh one in place of one whose
    stored data is bad (:func:`bad_data_errors`).
    """
    try:
        return await aiohttp_session.get_session(request)
    except Exception as exc:
        if not isinstance(exc, bad_data_errors(storage)):
            raise  # a bug or a misconfiguration: as without this library
        # A session the storage cannot decode (a tampered cookie, JSON nested
        # too deep) is not worth a 500 page on every visit.
        logger.warning(
            "Cannot load the session (%s: %s); starting a fresh one",
            type(exc).__name__,
            exc,
        )
        return await aiohttp_session.new_session(request)


#: The storages already checked by :func:`check_storage`.
_storages_checked: weakref.WeakSet[aiohttp_session.AbstractStorage] = weakref.WeakSet()


def check_storage(storage: aiohttp_session.AbstractStorage) -> None:
    """WARNING, once per storage instance, for a server-side storage without
    ``max_age``: it keeps an emptied session's record forever, and flashes
    make sessions for anonymous visitors. Called when flashes change the
    session; each storage is looked at once.
    """
    if storage_kind(storage).kind != "server" or storage in _storages_checked:
        return
    _storages_checked.add(storage)
    if storage.max_age is None:
        logger.warning(
            "%s has no max_age: it keeps every session forever, including "
            "those that flashes make for anonymous visitors. Give it a max_age.",
            type(storage).__name__,
        )


async def save(
    request: web.Request,
    response: web.StreamResponse | None,
    session: aiohttp_session.Session,
) -> None:
    """The session changed: make sure it is saved, where aiohttp-session
    would not save it (it saves it for ``web.Response`` and HTTP exceptions).
    """
    storage = request[aiohttp_session.STORAGE_KEY]
    check_storage(storage)
    if response is None or is_a(response, web.Response):
        return
    try:
        if response.prepared:  # being prepared: its headers are built already
            await replace_cookie(request, response, storage, session)
        else:  # a download, a stream returned before it is sent
            await storage.save_session(request, response, session)
    except RecursionError:
        too_deep("saved")


def too_deep(what: str) -> None:
    """WARNING for a session nested so deep that it cannot be encoded here
    (a tampered plain cookie that ``json.loads`` took a few calls up the
    stack): it is left as it is, never a 500.
    """
    logger.warning(
        "The session cookie cannot be %s: the session is nested too deeply to "
        "be encoded (a tampered cookie?); it is left as it is",
        what,
    )


# -- the session cookie -------------------------------------------------------------


async def _saved_cookie(
    request: web.Request,
    storage: aiohttp_session.AbstractStorage,
    session: aiohttp_session.Session,
) -> Morsel[str] | None:
    """The session cookie a response gets when ``storage`` saves ``session``
    into it (``None``: none).
    """
    scratch = web.Response()
    await storage.save_session(request, scratch, session)
    return scratch.cookies.get(storage.cookie_name)


async def cookie_size(
    request: web.Request,
    storage: aiohttp_session.AbstractStorage,
    session: aiohttp_session.Session,
) -> int:
    """Bytes of ``name=value`` of the session cookie the storage would send
    for ``session`` (0: none), measured by letting it write one.
    """
    morsel = await _saved_cookie(request, storage, session)
    return 0 if morsel is None else wire_size(f"{morsel.key}={morsel.coded_value}")


def wire_size(text: str) -> int:
    """Bytes of ``text`` in a header: aiohttp sends header values as UTF-8
    (a custom encoder may leave non-ASCII text in a plain cookie).
    """
    return len(text) if text.isascii() else len(text.encode("utf-8", "replace"))


def sent_cookie(
    response: web.StreamResponse, storage: aiohttp_session.AbstractStorage
) -> str:
    """The ``name=value`` of the session cookie in ``response``'s headers."""
    prefix = storage.cookie_name + "="
    cookies = response.headers.getall(hdrs.SET_COOKIE, [])
    return next((c.split(";", 1)[0] for c in cookies if c.startswith(prefix)), "")


async def replace_cookie(
    request: web.Request,
    response: web.StreamResponse,
    storage: aiohttp_session.AbstractStorage,
    session: aiohttp_session.Session,
) -> None:
    """Save ``session`` into the ``Set-Cookie`` headers of a response whose
    headers are already built (it is being prepared).
    """
    morsel = await _saved_cookie(request, storage, session)
    prefix = storage.cookie_name + "="
    headers = response.headers
    for cookie in headers.popall(hdrs.SET_COOKIE, []):
        if not cookie.startswith(prefix):  # the other cookies stay as they are
            headers.add(hdrs.SET_COOKIE, cookie)
    if morsel is not None:
        headers.add(hdrs.SET_COOKIE, morsel.output(header="")[1:])
