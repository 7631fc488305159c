"""Flashes in templates, for ``aiohttp_jinja2.setup(context_processors=...)``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, overload

from aiohttp import web

from ._rule import Message
from ._scope import bag_of

__all__ = ("TemplateFlashbag", "context_processor")


class TemplateFlashbag:
    """What templates see as ``flashbag``.

    It looks the request's bag up only when a template asks, at render time:
    aiohttp_jinja2 runs context processors in a middleware, before the
    handler (and its scope) starts. Outside every scope it shows nothing and
    touches nothing, so a shared layout can always call it.
    """

    __slots__ = ("_request",)

    def __init__(self, request: web.Request) -> None:
        self._request = request

    def get(self, key: str, default: Any = None) -> Any:
        """``flashbag_get``: the incoming value, or ``default``."""
        bag = bag_of(self._request)
        return default if bag is None else bag.get(key, default)

    def __contains__(self, key: object) -> bool:
        bag = bag_of(self._request)
        return bag is not None and key in bag

    @overload
    def get_flashed_messages(
        self,
        *,
        with_categories: Literal[True],
        category_filter: Iterable[str] | str | None = (),
    ) -> list[Message]: ...

    @overload
    def get_flashed_messages(
        self,
        *,
        with_categories: bool = False,
        category_filter: Iterable[str] | str | None = (),
    ) -> list[Any]: ...

    def get_flashed_messages(
        self,
        *,
        with_categories: bool = False,
        category_filter: Iterable[str] | str | None = (),
    ) -> list[Any]:
        """Messages, as ``aiohttp_flashbag.get_flashed_messages``."""
        bag = bag_of(self._request)
        if bag is None:
            return []
        return bag.get_flashed_messages(
            with_categories=with_categories, category_filter=category_filter
        )


async def context_processor(request: web.Request) -> dict[str, Any]:
    """Give templates ``flashbag`` and ``get_flashed_messages``, read lazily."""
    view = TemplateFlashbag(request)
    return {"flashbag": view, "get_flashed_messages": view.get_flashed_messages}
