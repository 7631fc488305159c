"""See flashes in tests, on every session storage, without decoding cookies.

::

    from aiohttp_flashbag.testing import record_flashes

    with record_flashes() as records:
        await client.post("/items", data={"name": ""})
    assert records[-1].stored.messages == [Message("error", "Name is required")]

With pytest, the ``flash_records`` fixture is such a list, recording for the
whole test (the plugin is registered through the ``pytest11`` entry point).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from ._flashbag import Flashes
from ._record import FlashRecord, listeners
from ._rule import Message

__all__ = ("FlashRecord", "Flashes", "Message", "record_flashes")


@contextmanager
def record_flashes(app: web.Application | None = None) -> Iterator[list[FlashRecord]]:
    """Collect a :class:`FlashRecord` for every outermost scope that ends.

    With ``app``, only requests routed by ``app`` (or its sub-apps) count, so
    tests that run at once in one process do not see each other's flashes;
    without, scopes of any application in the process count. Records come
    in the order the scopes end. ``shown`` is what the request's reads
    returned; ``stored`` is what is kept for flashes after the commit;
    ``dropped`` what gave way to ``max_bytes`` or to the cookie limit. With
    ``setup()``, a record is completed when the response is prepared, so
    ``stored`` and ``dropped`` include what the sent-cookie guard did.
    """
    records: list[FlashRecord] = []
    listener = (app, records.append)
    listeners.append(listener)
    try:
        yield records
    finally:
        listeners.remove(listener)
