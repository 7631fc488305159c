"""``setup()``: an app's settings, and the prepare hook that lets a scope see
its responses being prepared (docs/api.rst, "Settings").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from aiohttp import web

from ._lazy import Translate
from ._levels import checked_level, checked_levels
from ._scope import _prepared
from ._settings import DEFAULTS, SETTINGS_KEY, Settings, check_stores
from .stores import FlashStore


def setup(
    app: web.Application,
    *,
    session_key: str = DEFAULTS.session_key,
    max_bytes: int | None = DEFAULTS.max_bytes,
    max_age: float | None = DEFAULTS.max_age,
    cache_control: str | None = DEFAULTS.cache_control,
    htmx_event: str | None = DEFAULTS.htmx_event,
    unread: Literal["drop", "keep"] = DEFAULTS.unread,
    store: FlashStore | None = None,
    levels: Mapping[str, int] | None = None,
    min_level: int | str | None = None,
    translate: Translate | None = None,
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
    ``setup()`` wins for its routes. ``levels``: levels of categories, over
    Django's (``{"notice": 25}``). ``min_level``: a message of a lower level
    (an ``int``, or a category's) is neither stored nor shown (``None``:
    every message is kept). ``translate``: ``(request, message_id,
    parameters, context) -> str`` renders lazy messages when read (see
    docs/translations.rst).

    ``setup()`` also makes the scope see the response when it is prepared:
    a streamed response commits then, and the cookie guard measures the
    cookie that is sent, whatever wrote to the session.
    """
    if not isinstance(app, web.Application):
        raise TypeError(
            "aiohttp_flashbag.setup() takes the aiohttp.web.Application, got "
            f"{type(app).__name__}: {app!r}"
        )
    if app.frozen:
        raise RuntimeError(
            "aiohttp_flashbag.setup() must be called before the application "
            "starts (where the app is built, next to aiohttp_session.setup()); "
            "this one has already started, and its settings cannot change"
        )
    if app.pre_frozen:  # a sub-application added already: its signals are frozen
        raise RuntimeError(
            "aiohttp_flashbag.setup() of a sub-application must be called before "
            "it is added to its parent (before add_subapp() or add_domain()); "
            "this one is added already, and nothing was changed"
        )
    levels = checked_levels(levels)
    settings = Settings(
        session_key=session_key,
        max_bytes=max_bytes,
        max_age=max_age,
        cache_control=cache_control,
        htmx_event=htmx_event,
        unread=unread,
        store=DEFAULTS.store if store is None else store,
        levels=levels,
        min_level=checked_level(min_level, levels, "min_level"),
        translate=translate,
        hooked=True,
    )
    first = SETTINGS_KEY not in app
    app[SETTINGS_KEY] = settings
    if first:  # a second setup() changes settings, not the hook
        # aiohttp 3.10 types its signals' handlers wrongly; newer ones do not.
        app.on_response_prepare.append(_prepared)  # type: ignore[arg-type, unused-ignore]
        app.on_startup.append(check_stores)  # type: ignore[arg-type, unused-ignore]
