"""Django's shortcuts and per-request level (docs/coming-from.rst, "Django")."""

from __future__ import annotations

from aiohttp import web

from ._lazy import LazyMessage
from ._levels import checked_level
from ._rule import JSONLike
from ._scope import get_flashbag

__all__ = ("debug", "error", "get_level", "info", "set_level", "success", "warning")


def debug(
    request: web.Request,
    message: JSONLike | LazyMessage,
    *,
    now: bool = False,
    extra_tags: str = "",
) -> None:
    """``flash(request, message, "debug")``: level ``DEBUG`` (10)."""
    get_flashbag(request).flash(message, "debug", now=now, extra_tags=extra_tags)


def info(
    request: web.Request,
    message: JSONLike | LazyMessage,
    *,
    now: bool = False,
    extra_tags: str = "",
) -> None:
    """``flash(request, message, "info")``: level ``INFO`` (20)."""
    get_flashbag(request).flash(message, "info", now=now, extra_tags=extra_tags)


def success(
    request: web.Request,
    message: JSONLike | LazyMessage,
    *,
    now: bool = False,
    extra_tags: str = "",
) -> None:
    """``flash(request, message, "success")``: level ``SUCCESS`` (25)."""
    get_flashbag(request).flash(message, "success", now=now, extra_tags=extra_tags)


def warning(
    request: web.Request,
    message: JSONLike | LazyMessage,
    *,
    now: bool = False,
    extra_tags: str = "",
) -> None:
    """``flash(request, message, "warning")``: level ``WARNING`` (30)."""
    get_flashbag(request).flash(message, "warning", now=now, extra_tags=extra_tags)


def error(
    request: web.Request,
    message: JSONLike | LazyMessage,
    *,
    now: bool = False,
    extra_tags: str = "",
) -> None:
    """``flash(request, message, "error")``: level ``ERROR`` (40)."""
    get_flashbag(request).flash(message, "error", now=now, extra_tags=extra_tags)


def set_level(request: web.Request, level: int | str | None) -> None:
    """Set the minimum level of this request's messages (an ``int`` or a
    category, whose level counts); ``None``: no minimum.

    A message flashed afterwards below it is neither stored nor shown;
    messages flashed before stay. Other requests keep ``setup(min_level=...)``.
    """
    bag = get_flashbag(request)
    bag.min_level = checked_level(level, bag.levels, "set_level")


def get_level(request: web.Request) -> int | None:
    """The minimum level of this request's messages; ``None``: no minimum."""
    return get_flashbag(request).min_level
