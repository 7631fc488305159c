"""What ``aiohttp_flashbag.testing`` hears: one record per outermost scope.

The scope tells :func:`notify` of every commit, whether anyone listens or
not, so recording changes nothing on the request's path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from ._flashbag import Flashbag, Flashes
from ._rule import Flash


@dataclass(frozen=True)
class FlashRecord:
    """One outermost scope that ended: what it showed, stored and dropped."""

    method: str
    path: str
    #: ``None`` when the handler raised something that is not an HTTP response
    status: int | None
    #: what this request's reads returned
    shown: Flashes
    #: what is kept for flashes after the commit
    stored: Flashes
    #: what gave way to ``max_bytes`` or to the cookie limit at this commit
    dropped: Flashes = field(default_factory=lambda: Flashes({}, []))


#: ``(app or None for every app, callback)``: told of every outermost scope
#: that ends (``aiohttp_flashbag.testing.record_flashes``).
listeners: list[tuple[web.Application | None, Callable[[FlashRecord], None]]] = []


def notify(
    request: web.Request,
    bag: Flashbag | None,
    status: int | None,
    stored: list[Flash],
    dropped: list[Flash],
) -> None:
    """Give the record of ``bag``'s scope (made only if someone listens) to
    the listeners of the request's apps; ``None``: the scope made no bag
    (nothing came in, nothing asked), and so showed and stored nothing.
    """
    if not listeners:
        return
    if bag is None:
        bag = Flashbag()
    record = FlashRecord(
        request.method,
        request.path,
        status,
        bag.shown(),
        bag.as_flashes(stored, later=True),
        bag.as_flashes(dropped, later=True),
    )
    apps = request.match_info.apps
    for app, listener in list(listeners):
        if app is None or app in apps:
            listener(record)
