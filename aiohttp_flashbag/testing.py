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

from ._flashbag import Flashes
from ._lifecycle import Message
from ._scope import FlashRecord, listeners

__all__ = ("FlashRecord", "Flashes", "Message", "record_flashes")


@contextmanager
def record_flashes() -> Iterator[list[FlashRecord]]:
    """Collect a :class:`FlashRecord` for every outermost scope that ends.

    Scopes of any application in the process count, in the order they end.
    ``shown`` is what the request's reads returned; ``stored`` is what the
    session holds for flashes after the commit.
    """
    records: list[FlashRecord] = []
    listeners.append(records.append)
    try:
        yield records
    finally:
        listeners.remove(records.append)
