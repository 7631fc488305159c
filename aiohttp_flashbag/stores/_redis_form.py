"""What the Redis flash store keeps, as Python sees it: the visitor's id in
the session entry, what one request took, and the fields of the visitor's
hash as the scripts of ``_redis_lua`` take and settle them
(docs/concurrency.rst, "How it works"); and where a client keeps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import aiohttp_session

from .._rule import Flash, entry, logger
from .._stored import decode

if TYPE_CHECKING:
    import redis.asyncio

#: The session entry holds the id under this key: aiohttp-flashbag 0.0.3
#: reads the entry as its flashes, and no app names a flash so.
MARKER: Final = "__aiohttp_flashbag_redis__"
#: What ``secrets.token_urlsafe(16)`` makes: 128 random bits.
VISITOR_ID: Final = re.compile(r"[A-Za-z0-9_-]{22}")
_MESSAGE_FIELD: Final = re.compile(r"m[1-9][0-9]{0,18}")


def positive(name: str, value: Any, most: float = math.inf) -> float:
    """``value``, a number of seconds in (0, ``most``], as a float; else
    ``ValueError`` naming the setting.
    """
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not 0 < value <= most
    ):
        raise ValueError(
            f"{name} must be a positive number of seconds (at most {most:g}), "
            f"got {value!r}"
        )
    return float(value)


def refuse_old_redis_py(version: str) -> None:
    """``RuntimeError`` for a redis-py ``version`` before 4.5.4, which can
    give the answer of a cancelled command (a timeout, a client gone away)
    to the next command on the connection.
    """
    if tuple(int(n) for n in re.findall(r"\d+", version)[:3]) < (4, 5, 4):
        raise RuntimeError(
            "RedisFlashStore needs redis-py 4.5.4 or later: older versions can "
            "give the answer of a cancelled command to the next command on the "
            f"connection (one visitor's flashes to another); installed: {version}"
        )


def server_of(client: redis.asyncio.Redis) -> tuple[Any, ...]:
    """Where ``client``'s commands go: the server (an address, a socket's
    path, or a Sentinel service) and the database.
    """
    pool = client.connection_pool
    kwargs = pool.connection_kwargs
    service, db = getattr(pool, "service_name", None), int(kwargs.get("db") or 0)
    if "path" in kwargs:  # a Unix socket
        return service, kwargs["path"], db
    # redis-py's defaults, which a URL leaves out
    return service, kwargs.get("host", "localhost"), kwargs.get("port", 6379), db


@dataclass
class Taken:
    """What a scope took: the store's ``Incoming.state``."""

    #: the session the scope opened with, and the keys it had
    session: aiohttp_session.Session
    keys: tuple[str, ...]
    #: the id found (in the session, or through the cookie's map), if any
    visitor: str | None
    #: the id came from the session
    in_session: bool
    #: the key that maps the sent session cookie's hash to an id, if any
    cookie_map: str | None
    #: milliseconds the visitor's hash lives after a write
    ttl: int
    token: str = ""
    #: when the hash the take saw was made ('' if it did not say)
    birth: str = ""
    #: (field, version) of every flash the take leased
    taken: list[tuple[str, str]] = field(default_factory=list)
    #: the take's answer never came, or too late to use: its lease, if Redis
    #: ran it, holds flashes this request never saw (freed at the commit)
    lost: bool = False
    renewal: asyncio.TimerHandle | None = None
    renewing: asyncio.Task[None] | None = None
    settled: bool = False


def named(flash: Flash) -> str:
    """A flash as a log line names it: a value by its key, a message by its
    category and the start of its text.
    """
    if flash.message:
        return f"{flash.key!r} message {str(flash.value)[:40]!r}"
    return repr(flash.key)


def log_lost(stored: list[Flash], lease: float) -> None:
    """The ERROR of a commit that could not be written, naming this
    request's own flashes in ``stored`` (none: nothing is lost, no ERROR).
    """
    own = [named(f) for f in stored if f.own]
    if not own:
        return
    more = f" and {len(own) - 50} more" if len(own) > 50 else ""
    # A broken connection may have lost only the answer: the store cannot
    # tell whether Redis ran the commit.
    logger.error(
        "The Redis flash store could not store this request's flashes "
        "(or learn that it did): unless Redis ran the commit and only its "
        "answer was lost, these are lost: %s%s, and what the request took "
        "comes back to the visitor when its lease runs out (%g seconds)",
        ", ".join(own[:50]),
        more,
        lease,
    )


def warn_late(late: float, lease: float) -> None:
    """The WARNING for a take answered ``late`` (seconds), half the lease or
    more: a lease too short for this Redis would show no flash on any page.
    """
    logger.warning(
        "The Redis flash store got the answer to a take after %.3g seconds, "
        "half its lease=%g or more: the page showed none of the flashes, which "
        "wait for a later one. If this is frequent, the lease is too short for "
        "this Redis",
        late,
        lease,
    )


def visitor_id(entry: Any) -> str | None:
    """The id in a session entry, or ``None`` if it is not the store's."""
    if type(entry) is dict and len(entry) == 1:
        found = entry.get(MARKER)
        if isinstance(found, str) and VISITOR_ID.fullmatch(found):
            return found
    return None


def text(raw: Any) -> str:
    """A reply item as text (the client may or may not decode responses)."""
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def read_taken(
    reply: list[Any], now: float, max_age: float | None
) -> tuple[list[Flash], list[tuple[str, str]]]:
    """The flashes a take returned, keyed values first, then messages, and
    the (field, version) of every flash it leased; those older than
    ``max_age`` at ``now`` are not among them. Data that is not the store's
    is logged (by field name: never the visitor's id).
    """
    if text(reply[1]) == "foreign" or reply[2]:
        logger.warning(
            "Ignoring data in the Redis flash store that is not its own (%s); "
            "it is treated as no flashes and removed",
            "another type, or a value the store never writes there"
            if text(reply[1]) == "foreign"
            else "fields " + ", ".join(sorted(repr(text(f)) for f in reply[2])),
        )
    taken: list[tuple[str, str]] = []
    values: list[Flash] = []
    messages: list[tuple[int, Flash]] = []
    unrecognised: list[str] = []
    for i in range(3, len(reply) - 1, 2):
        name, content = text(reply[i]), text(reply[i + 1])
        version, _, raw = content.partition("|")
        taken.append((name, version))
        try:
            item = json.loads(raw)
            if _MESSAGE_FIELD.fullmatch(name):
                loaded = decode([2, {}, [item]], now, max_age)
            elif name.startswith("v"):
                key = json.loads(name[1:])
                if type(key) is not str:
                    raise ValueError(name)
                loaded = decode([2, {key: item}, []], now, max_age)
            else:
                raise ValueError(name)
        except (ValueError, RecursionError):
            loaded = None
        if loaded is None:
            unrecognised.append(name)
            continue
        for flash in loaded.flashes:  # none if expired or refused
            flash.ref = (name, version, raw)
            if flash.message:
                messages.append((int(version), flash))
            else:
                values.append(flash)
    if unrecognised:
        logger.warning(
            "Ignoring %d unrecognised field(s) of a visitor's flashes in Redis: "
            "%s; they are treated as no flashes and dropped",
            len(unrecognised),
            ", ".join(map(repr, sorted(unrecognised))),
        )
    values.sort(key=lambda f: (f.set_at, f.ref[0]))  # within a second, by key
    messages.sort(key=lambda pair: pair[0])
    return [*values, *(flash for _, flash in messages)], taken


def settle_args(stored: list[Flash], taken: list[tuple[str, str]]) -> list[Any]:
    """SETTLE's (kind, field, version, entry) for each flash: ``stored``
    kept or written, and what of ``taken`` it does not keep, consumed.
    """
    # A flash with a ref was taken from Redis; one without is this request's
    # own, or read from the session (it moves to Redis).
    kept = {flash.ref[0] for flash in stored if flash.ref is not None}
    args: list[Any] = []
    for flash in stored:
        item = json.dumps(entry(flash))
        if flash.ref is not None:
            name, version, raw = flash.ref
            args += ("k", name, version, "" if item == raw else item)
        elif flash.message:
            args += ("m", "", "", item)
        else:
            args += ("v", "v" + json.dumps(flash.key), "", item)
    for name, version in taken:
        if name not in kept:
            args += ("c", name, version, "")
    return args


def dropped_flashes(dropped: list[Any], stored: Sequence[Flash] = ()) -> list[Flash]:
    """What SETTLE says gave way: a field's name and its entry by turns;
    the flash of ``stored`` that the request kept there, if it is the one
    that gave way (so the scope knows it is not stored). A field of the
    store's shape that holds no flash (data of another) gave way too, and
    is named nowhere.
    """
    kept = {flash.ref[0]: flash for flash in stored if flash.ref is not None}
    flashes = []
    for i in range(0, len(dropped) - 1, 2):
        name, raw = text(dropped[i]), text(dropped[i + 1])
        mine = kept.get(name)
        if mine is not None and raw in (mine.ref[2], json.dumps(entry(mine))):
            flashes.append(mine)
            continue
        with contextlib.suppress(ValueError, TypeError, LookupError):
            item = json.loads(raw)
            message = name[0] == "m"
            # with its Markup mark and options, so it is named at its size
            last = item[-1] if message and len(item) > 3 else None
            options = item.pop() if type(last) is dict else None
            safe = len(item) == 4 - (not message)
            if message:
                flash = Flash(item[1], item[2], item[0], True, safe, options)
            else:
                flash = Flash(json.loads(name[1:]), item[1], item[0], False, safe)
            flashes.append(flash)
    return flashes
