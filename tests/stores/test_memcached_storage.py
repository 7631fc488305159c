"""The contract on aiohttp-session's MemcachedStorage, on a real memcached
(flashes in the session, the session in memcached).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .backends import MemcachedSessions, Place
from .base import BaseTests


class TestMemcachedStorage(BaseTests):
    @pytest.fixture
    async def place(self, memcached_port: int) -> AsyncIterator[Place]:
        place = Place(MemcachedSessions(memcached_port), markup_trusted=True)
        await place.open()
        yield place
        await place.close()
