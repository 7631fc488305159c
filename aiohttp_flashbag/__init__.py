"""Flash messages for aiohttp.web, kept in the aiohttp-session session.

A value set in one request is read in the next one that opens a flash scope:
``@with_flashbag`` on a handler, ``FlashbagMixin`` on a class-based view, or
``flashbag_middleware`` for the whole application. Requests outside every
scope (assets, favicons, XHR polls) neither see nor consume flashes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, TypeVar, overload

from aiohttp import web

from ._doors import FlashbagMixin, flashbag_middleware, with_flashbag
from ._flashbag import Flashbag, FlashbagTypeError, Flashes
from ._lazy import LazyMessage, lazy
from ._levels import DEBUG, ERROR, INFO, SUCCESS, WARNING
from ._rule import JSON, JSONLike, Message
from ._scope import get_flashbag
from ._settings import DEFAULTS
from ._setup import setup
from ._shortcuts import debug, error, get_level, info, set_level, success, warning
from ._templates import TemplateFlashbag, context_processor

__version__ = "1.0.0.dev0"

# Plain comments, not ``#:`` doc comments: docs/api.rst describes these three
# (autodoc would show both texts).
# The session key flashes are kept under unless ``setup()`` says otherwise.
DEFAULT_SESSION_KEY: Final = DEFAULTS.session_key
# aiohttp-flashbag 0.0.3's name for the default session key.
SESSION_KEY: Final = DEFAULT_SESSION_KEY
# The bound on what is kept for flashes unless ``setup()`` says otherwise.
DEFAULT_MAX_BYTES: Final = DEFAULTS.max_bytes

__all__ = (
    "DEBUG",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_SESSION_KEY",
    "ERROR",
    "INFO",
    "JSON",
    "SESSION_KEY",
    "SUCCESS",
    "WARNING",
    "Flashbag",
    "FlashbagMixin",
    "FlashbagTypeError",
    "Flashes",
    "JSONLike",
    "LazyMessage",
    "Message",
    "TemplateFlashbag",
    "context_processor",
    "debug",
    "error",
    "flash",
    "flashbag_append",
    "flashbag_clear",
    "flashbag_get",
    "flashbag_keep",
    "flashbag_middleware",
    "flashbag_replace_all",
    "flashbag_set",
    "get_flashbag",
    "get_flashed_messages",
    "get_level",
    "info",
    "lazy",
    "set_level",
    "setup",
    "success",
    "warning",
    "with_flashbag",
)

_T = TypeVar("_T")


@overload
def flashbag_get(request: web.Request, key: str) -> JSON: ...


@overload
def flashbag_get(request: web.Request, key: str, default: _T) -> JSON | _T: ...


def flashbag_get(request: web.Request, key: str, default: Any = None) -> Any:
    """The value an earlier request set under ``key``, or ``default``.

    Marks ``key`` as read: a redirect no longer carries it on.
    """
    return get_flashbag(request).get(key, default)


def flashbag_set(request: web.Request, key: str, value: JSONLike) -> None:
    """Pass ``value`` (JSON data) on to the next scoped request under ``key``."""
    get_flashbag(request).set(key, value)


def flashbag_append(request: web.Request, key: str, value: JSONLike) -> None:
    """Append ``value`` to the list passed on under ``key``, creating it."""
    get_flashbag(request).append(key, value)


def flashbag_replace_all(request: web.Request, value: Mapping[str, JSONLike]) -> None:
    """Make ``value`` the whole set of values passed on (messages stay)."""
    get_flashbag(request).replace_all(value)


def flashbag_clear(request: web.Request) -> None:
    """Forget everything this request would pass on so far."""
    get_flashbag(request).clear()


def flashbag_keep(request: web.Request, *keys: str) -> None:
    """Pass the named incoming values (all flashes with no key) on as well."""
    get_flashbag(request).keep(*keys)


def flash(
    request: web.Request,
    message: JSONLike | LazyMessage,
    category: str = "message",
    *,
    now: bool = False,
    extra_tags: str = "",
) -> None:
    """Add ``message`` to the ordered message list.

    Reads in this request see it after the incoming messages; if none does,
    the next scoped request gets it. ``now=True``: for this request's reads
    only, never stored. ``extra_tags``: stored with it (``Message.tags``).
    ``message`` may be :func:`lazy`, rendered when read.
    """
    get_flashbag(request).flash(message, category, now=now, extra_tags=extra_tags)


@overload
def get_flashed_messages(
    request: web.Request,
    *,
    with_categories: Literal[True],
    category_filter: Iterable[str] | str | None = (),
) -> list[Message]: ...


@overload
def get_flashed_messages(
    request: web.Request,
    *,
    with_categories: bool = False,
    category_filter: Iterable[str] | str | None = (),
) -> list[Any]: ...


def get_flashed_messages(
    request: web.Request,
    *,
    with_categories: bool = False,
    category_filter: Iterable[str] | str | None = (),
) -> list[Any]:
    """The messages earlier requests flashed for this one, oldest first, then
    those this request flashed so far; they count as shown.

    ``with_categories=True`` gives ``(category, message)`` pairs;
    ``category_filter`` (a category, or an iterable of them; ``None``, as
    in Flask, for all; anything else is a :exc:`FlashbagTypeError`)
    returns and marks shown only those categories: for
    the others it is as if this call had not happened (a page still consumes
    them under ``unread="drop"``, the default).
    """
    return get_flashbag(request).get_flashed_messages(
        with_categories=with_categories, category_filter=category_filter
    )
