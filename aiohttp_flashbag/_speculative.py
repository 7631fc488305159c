"""Speculative requests: a page fetched before the visitor goes there.

docs/lifecycle.rst, "Speculative requests": while flashes wait for the
visitor, a prefetch or a prerender of a scoped page is refused without
running the handler, so that the flashes are shown on the real visit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final, Protocol

from aiohttp import web

#: The status of a refused speculation (see docs/lifecycle.rst for why).
REFUSED_STATUS: Final = 503

#: Headers whose comma- or semicolon-separated tokens include ``prefetch``:
#: the standard one (speculation rules, ``<link rel=prefetch>``), Chromium's
#: legacy one and Turbo's hover prefetch.
_PREFETCH_HEADERS: Final = ("Sec-Purpose", "Purpose", "X-Sec-Purpose")
#: Older headers with one value each: Firefox's ``<link rel=prefetch>`` and
#: Safari's previews.
_EXACT_HEADERS: Final = (("X-Moz", "prefetch"), ("X-Purpose", "preview"))
#: All of them, in lower case.
_NAMES: Final = frozenset(
    name.lower() for name in (*_PREFETCH_HEADERS, *dict(_EXACT_HEADERS))
)


class _Headers(Protocol):
    def __iter__(self) -> Iterator[str]: ...

    def getall(self, key: str, default: Iterable[str]) -> Iterable[str]: ...


def _tokens(value: str) -> list[str]:
    return [token.strip().lower() for token in value.replace(";", ",").split(",")]


def is_speculative(headers: _Headers) -> bool:
    """Does the request say that the browser fetches it ahead of a visit?"""
    if _NAMES.isdisjoint(map(str.lower, headers)):
        return False  # one pass over the names, where each look-up is another
    for name in _PREFETCH_HEADERS:
        for value in headers.getall(name, ()):
            if "prefetch" in _tokens(value):
                return True
    for name, expected in _EXACT_HEADERS:
        for value in headers.getall(name, ()):
            if value.strip().lower() == expected:
                return True
    return False


def refusal() -> web.Response:
    """The answer to a speculative request while flashes wait.

    A 5xx leaves the stored flashes as they are (docs/lifecycle.rst, "The
    table"); browsers drop a speculation that is not answered with a 2xx
    and make a real request when the visitor navigates. The body is plain
    text, not HTML, so that Turbo, which reuses its hover prefetch on the
    click, loads the page afresh instead of rendering this answer.
    """
    return web.Response(
        status=REFUSED_STATUS,
        text="Not prefetched: flash messages wait for the visit itself.\n",
        headers={"Cache-Control": "no-store"},
    )
