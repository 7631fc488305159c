"""The contract on ``RedisFlashStore`` (docs/concurrency.rst), on a real
redis-server: flashes in Redis, the session keeping only the visitor's id,
in a sealed cookie or in aiohttp-session's RedisStorage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ..support.backends import EncryptedCookies
from .backends import Place, RedisSessions, RedisStorePlace
from .base import BaseTests


class TestRedisFlashStoreOverEncryptedCookies(BaseTests):
    @pytest.fixture
    async def place(self, redis_port: int) -> AsyncIterator[Place]:
        place = RedisStorePlace(EncryptedCookies(), redis_port)
        await place.open()
        yield place
        await place.close()


class TestRedisFlashStoreOverRedisStorage(BaseTests):
    @pytest.fixture
    async def place(self, redis_port: int) -> AsyncIterator[Place]:
        place = RedisStorePlace(RedisSessions(redis_port), redis_port)
        await place.open()
        yield place
        await place.close()
