"""Flashes in the aiohttp-session session, under the session key.

The default store. It owns what is particular to sessions kept in a cookie:
browsers drop a cookie over 4096 bytes, and with it the whole session, so
flashes give way until the cookie fits (docs/lifecycle.rst, "Size").
"""

from __future__ import annotations

import math
from typing import Final

import aiohttp_session
from aiohttp import web

from .. import _settings
from .._rule import Flash, fit, give_way, json_size, logger, warn_dropped, without
from .._sessions import (
    IN_COOKIE,
    cookie_size,
    default_json,
    in_memcached,
    is_a,
    replace_cookie,
    sent_cookie,
    state,
    storage_kind,
    too_deep,
    wire_size,
)
from .._stored import decode, encode
from ._base import Committed, FlashStore, Incoming, read_entry

#: Browsers drop a cookie whose ``name=value`` is longer than this.
COOKIE_LIMIT: Final = 4096
#: memcached keeps no item over 1 MB (unless started with a larger ``-I``),
#: and aiohttp-session's ``MemcachedStorage`` then fails to save the session;
#: the rest of the megabyte is room for the item's key and header.
MEMCACHED_RECORD: Final = 1024 * 1024 - 4096
#: Nothing came in.
NOTHING: Final = Incoming()
_UNTRUSTED: Final = Incoming(trusted=False)
#: No entry under the session key.
_ABSENT: Final = object()


def _nothing(request: web.Request) -> Incoming:
    """Nothing came in. The client can rewrite a plain JSON cookie: no
    Markup from there.
    """
    storage = request[aiohttp_session.STORAGE_KEY]
    if is_a(storage, aiohttp_session.SimpleCookieStorage):
        return _UNTRUSTED
    return NOTHING


class SessionStore(FlashStore):
    """Flashes in the aiohttp-session session, under the session key.

    The session is written only when the stored flashes change, and an empty
    bag is removed from the session rather than stored.
    """

    def __repr__(self) -> str:
        return "the session"

    def known(
        self,
        request: web.Request,
        session: aiohttp_session.Session | None,
        settings: _settings.Settings,
    ) -> Incoming | None:
        if session is not None and settings.session_key in session:
            return None
        if type(self).load is not SessionStore.load:
            return None  # a subclass's own load() decides
        return _nothing(request)

    async def load(
        self,
        request: web.Request,
        session: aiohttp_session.Session | None,
        settings: _settings.Settings,
    ) -> Incoming:
        if session is None or settings.session_key not in session:
            return _nothing(request)
        storage = request[aiohttp_session.STORAGE_KEY]
        trusted = not is_a(storage, aiohttp_session.SimpleCookieStorage)
        loaded = read_entry(session[settings.session_key], settings)
        if loaded is None:
            return Incoming([], rewrite=True, trusted=trusted, found=True)
        return Incoming(loaded.flashes, loaded.rewrite, trusted, found=True)

    async def commit(
        self,
        request: web.Request,
        response: web.StreamResponse | None,
        session: aiohttp_session.Session,
        settings: _settings.Settings,
        incoming: Incoming,
        stored: list[Flash] | None,
    ) -> Committed:
        key = settings.session_key
        # Flashes compare by identity: unchanged means the same flashes.
        changed = (
            stored is not None
            and (stored != incoming.flashes or incoming.rewrite)
            and _put(session, key, stored)
        )
        flashes = incoming.flashes if stored is None else stored
        if not flashes:
            return Committed(changed)
        if settings.max_bytes is None or settings.max_bytes > MEMCACHED_RECORD:
            dropped = _fit_record(request, session, key, flashes)
            if dropped:
                return Committed(True, dropped)
        if settings.hooked:  # setup()'s hook measures what is sent
            return Committed(changed)
        dropped = await fit_cookie(request, session, key, flashes)
        return Committed(changed or bool(dropped), dropped)

    async def prepared(
        self,
        request: web.Request,
        response: web.StreamResponse,
        settings: _settings.Settings,
        stored: list[Flash] | None,
    ) -> list[Flash]:
        """The cookie guard for what is sent: keep the session cookie within
        what a browser keeps, whatever wrote to the session.

        The cookie is measured as it is, and rebuilt only if flashes must
        give way.
        """
        session: aiohttp_session.Session | None = state(
            request, aiohttp_session.SESSION_KEY
        )
        key = settings.session_key
        if session is None or key not in session:
            return []
        storage = request[aiohttp_session.STORAGE_KEY]
        sent = wire_size(sent_cookie(response, storage))
        if sent <= COOKIE_LIMIT or storage_kind(storage).kind not in IN_COOKIE:
            return []
        if stored is not None and encode(stored) == session[key]:
            flashes = stored  # this request's own flashes give way last
        else:  # written by another request: read with their times
            loaded = decode(session[key], settings.clock(), None)
            flashes = [] if loaded is None else loaded.flashes
        dropped = await fit_cookie(request, session, key, flashes, sent)
        try:
            await replace_cookie(request, response, storage, session)
        except RecursionError:  # see fit_cookie()
            too_deep("measured")
            return []
        return dropped


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


async def fit_cookie(
    request: web.Request,
    session: aiohttp_session.Session,
    key: str,
    flashes: list[Flash],
    size: int | None = None,
) -> list[Flash]:
    """Drop flashes, oldest first, until the session cookie fits what a
    browser keeps: the rest of the session (a login) is never lost because of
    flashes. ``size``: the bytes of ``name=value`` of the cookie as it is;
    ``None``: bounded from the session's JSON, and measured only near the
    limit. Returns the flashes that gave way (none where the session is not
    kept in the cookie); the others are in the session.

    A session nested so deep that it cannot be encoded here (a tampered
    plain cookie that ``json.loads`` took a few calls up the stack) cannot
    be measured: the flashes stay as they are, with a WARNING, never a 500.
    """
    before = session.get(key, _ABSENT)
    try:
        return await _fit_cookie(request, session, key, flashes, size)
    except RecursionError:
        if session.get(key, _ABSENT) is not before:  # put back as it was
            if before is _ABSENT:
                del session[key]
            else:
                session[key] = before
        too_deep("measured")
        return []


async def _fit_cookie(
    request: web.Request,
    session: aiohttp_session.Session,
    key: str,
    flashes: list[Flash],
    size: int | None,
) -> list[Flash]:
    storage: aiohttp_session.AbstractStorage = request[aiohttp_session.STORAGE_KEY]
    kind = storage_kind(storage).kind
    if kind not in IN_COOKIE:
        return []
    if size is None:
        data = {"created": session.created, "session": dict(session)}
        bound = _cookie_bound(storage, kind, json_size(data))
        if bound is not None and bound <= COOKIE_LIMIT:
            return []
        size = await cookie_size(request, storage, session)
    if size <= COOKIE_LIMIT:
        return []

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
        return flashes
    if not flashes:  # what was under the key is no flash data
        logger.warning(
            "Removed data that is not flashes from the session under %r to keep "
            "the session cookie within %d bytes",
            key,
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
        order[:low],
        f"to keep the session cookie within {COOKIE_LIMIT} bytes",
    )
    kept = without(flashes, order[:low])
    _put(session, key, kept)
    return without(flashes, kept)  # in their stored order


def _fit_record(
    request: web.Request,
    session: aiohttp_session.Session,
    key: str,
    flashes: list[Flash],
) -> list[Flash]:
    """With ``MemcachedStorage``, drop flashes until the session's record
    fits what memcached keeps (``MEMCACHED_RECORD``), in the order flashes
    give way to ``max_bytes``; the flashes that gave way.
    """
    if not in_memcached(request[aiohttp_session.STORAGE_KEY]):
        return []
    rest = {k: v for k, v in session.items() if k != key}
    # The record aiohttp-session writes, without the flashes' entry and with
    # room for its key: '"key": ' and ', ' beside the other entries.
    outside = json_size({"created": session.created, "session": rest})
    room = MEMCACHED_RECORD - outside - json_size(key) - 4
    why = f"to keep the session within the {MEMCACHED_RECORD} bytes memcached keeps"
    kept, dropped = fit(flashes, room, why)
    if dropped:
        _put(session, key, kept)
    return dropped


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
