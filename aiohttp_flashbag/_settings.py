"""App-wide settings: one frozen, self-checking record per app.

``setup()`` builds it and keeps it on the app; a request finds the settings
of the nearest app on its route that has them, so sub-apps inherit them and
a sub-app's own ``setup()`` wins for its routes (docs/api.rst, "Settings").
"""

from __future__ import annotations

import inspect
import math
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from aiohttp import web

from ._lazy import Translate
from ._levels import LEVELS
from ._sessions import state
from .stores import FlashStore, SessionStore


def now() -> float:
    """The default clock: ``time.time()``, looked up when called, so that
    code which patches ``time.time`` moves it too.
    """
    return time.time()


@dataclass(frozen=True)
class Settings:
    """The settings of one app; the defaults are the documented ones."""

    session_key: str = "aiohttp_flashbag"
    max_bytes: int | None = 2048
    max_age: float | None = 600
    cache_control: str | None = "no-store"
    htmx_event: str | None = None
    unread: Literal["drop", "keep"] = "drop"
    store: FlashStore = field(default_factory=SessionStore)
    #: levels of categories (docs/translations.rst, "Levels and tags")
    levels: Mapping[str, int] = field(default_factory=lambda: LEVELS)
    #: messages of a lower level are neither stored nor shown
    min_level: int | None = None
    #: renders lazy messages when they are read
    translate: Translate | None = None
    #: seconds since the epoch; stamps flashes and ages them
    clock: Callable[[], float] = now
    #: the app called ``setup()``: its prepare hook runs for its responses
    hooked: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.session_key, str) or not self.session_key:
            raise TypeError(
                f"session_key must be a non-empty str, got {self.session_key!r}"
            )
        if self.max_bytes is not None and (
            type(self.max_bytes) is not int or self.max_bytes < 1
        ):
            raise ValueError(
                f"max_bytes must be a positive int or None, got {self.max_bytes!r}"
            )
        if self.max_age is not None and (
            not isinstance(self.max_age, (int, float))
            or isinstance(self.max_age, bool)
            or not (0 < self.max_age < math.inf)
        ):
            raise ValueError(
                "max_age must be a finite positive number of seconds or None "
                f"(never), got {self.max_age!r}"
            )
        for name in ("cache_control", "htmx_event"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise TypeError(
                    f"{name} must be a non-empty str or None, got {value!r}"
                )
        if self.cache_control is not None and not self.cache_control.isprintable():
            raise ValueError(
                "cache_control must be a header value, without line breaks or "
                f"other control characters, got {self.cache_control!r}"
            )
        if self.unread not in ("drop", "keep"):
            raise ValueError(f'unread must be "drop" or "keep", got {self.unread!r}')
        if not isinstance(self.store, FlashStore):
            raise TypeError(f"store must be a FlashStore or None, got {self.store!r}")
        self.store.check(self)
        if self.translate is not None and not callable(self.translate):
            raise TypeError(
                f"translate must be a callable or None, got {self.translate!r}"
            )
        if self.translate is not None and (
            inspect.iscoroutinefunction(self.translate)
            or inspect.iscoroutinefunction(type(self.translate).__call__)
        ):
            # Reads are synchronous: its coroutine would never be awaited.
            raise TypeError(
                "translate must return the text, not be an async def (reads "
                f"of flashes are synchronous), got {self.translate!r}"
            )


DEFAULTS: Final = Settings()
SETTINGS_KEY: Final = web.AppKey("aiohttp_flashbag_settings", Settings)


def settings_of(request: web.Request) -> Settings:
    """The settings of the nearest app on the route's path that has them."""
    for app in reversed(request.match_info.apps):
        settings = state(app, SETTINGS_KEY)
        if settings is not None:
            return settings  # type: ignore[no-any-return]
    return DEFAULTS


#: By root app: the store each session key's flashes were first used in,
#: and by which app (see :func:`check_route`), weakly: a strong reference to
#: the root app in its own entry would keep the entry, and the app, forever.
_in_use: weakref.WeakKeyDictionary[
    web.Application,
    dict[str, tuple[weakref.ReferenceType[web.Application], FlashStore]],
] = weakref.WeakKeyDictionary()


def check_route(request: web.Request, settings: Settings) -> None:
    """At a scoped request: ``RuntimeError`` when another app of the same
    tree used flashes under this session key in another store. A
    sub-application cannot see its parent at startup, so a sub-application's
    own ``setup()`` under a main application that never called it is caught
    here, when the second store is first used: its requests fail, and
    nothing of the other's is touched (docs/concurrency.rst, "Apps and
    sub-apps on different stores"). A main application that called
    ``setup()`` checked its whole tree at startup: nothing to do.
    """
    apps = request.match_info.apps
    if not apps or state(apps[0], SETTINGS_KEY) is not None:  # nowhere, or checked
        return
    used = _in_use.setdefault(apps[0], {})
    key, store = settings.session_key, settings.store
    if key not in used:  # the first use: remembered, nothing to compare
        used[key] = (weakref.ref(apps[-1]), store)
        return
    first_app, first_store = used[key]
    if first_store is not store and not first_store.same_place(store):
        names = {node: name for name, node, _, _ in _tree(apps[0])}
        earlier = first_app()  # alive: an app of the tree of apps[0]
        first = "another application" if earlier is None else names[earlier]
        raise RuntimeError(
            _conflict(first, first_store, names[apps[-1]], store, key)
            + "; call setup() on the main application too, so that this is "
            "found at startup."
        )


async def check_stores(app: web.Application) -> None:
    """At startup: ``RuntimeError`` when two apps of ``app``'s tree that have
    routes of their own keep flashes in different places under one session
    key, since each would take the other's entry for garbage and replace it
    (docs/concurrency.rst, "Mixed stores").
    """
    seen: dict[str, tuple[str, FlashStore]] = {}
    for name, _, settings, own_routes in _tree(app):
        if own_routes:
            store = settings.store
            first, earlier = seen.setdefault(settings.session_key, (name, store))
            if not earlier.same_place(store):
                raise RuntimeError(
                    _conflict(first, earlier, name, store, settings.session_key) + "."
                )


def _tree(
    node: web.Application,
    name: str = "the application",
    inherited: Settings | None = None,
) -> Iterator[tuple[str, web.Application, Settings, bool]]:
    """Each app of ``node``'s tree: its name in errors, the app, its settings
    (its own, else inherited), and whether it has routes of its own.
    """
    settings = node.get(SETTINGS_KEY, inherited or DEFAULTS)
    infos = [r.get_info() for r in node.router.resources()]
    yield name, node, settings, any("app" not in info for info in infos)
    for info in infos:
        if isinstance(info.get("app"), web.Application):
            yield from _tree(info["app"], _sub_app_name(info), settings)


def _sub_app_name(info: Mapping[str, object]) -> str:
    """How errors name a sub-application: by its prefix, or by its domain
    (``add_domain()``, whose rule tells it through ``get_info()``).
    """
    if "prefix" in info:
        return f"the sub-application at {info['prefix']!r}"
    rule = info.get("rule")
    get_info = getattr(rule, "get_info", None)
    domain = get_info().get("domain", rule) if callable(get_info) else rule
    return f"the sub-application for {domain!r}"


def _conflict(
    first: str, earlier: FlashStore, name: str, store: FlashStore, key: str
) -> str:
    return (
        f"{first} keeps flashes in {earlier!r} and {name} in {store!r}, both "
        f"under the session key {key!r}: each would destroy the other's "
        "flashes. Give one of them its own session_key in setup(), or the same "
        "store"
    )
