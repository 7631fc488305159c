"""The contract on aiohttp-session's RedisStorage, on a real redis-server
(flashes in the session, the session in Redis).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .backends import Place, RedisSessions
from .base import BaseTests


class TestRedisStorage(BaseTests):
    @pytest.fixture
    async def place(self, redis_port: int) -> AsyncIterator[Place]:
        place = Place(RedisSessions(redis_port), markup_trusted=True)
        await place.open()
        yield place
        await place.close()
