"""The contract on aiohttp-session's EncryptedCookieStorage (flashes in the
session, in a sealed cookie).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ..support.backends import EncryptedCookies
from .backends import Place
from .base import BaseTests


class TestEncryptedCookieStorage(BaseTests):
    @pytest.fixture
    async def place(self) -> AsyncIterator[Place]:
        place = Place(EncryptedCookies(), markup_trusted=True)
        await place.open()
        yield place
        await place.close()
