"""The contract on aiohttp-session's SimpleCookieStorage (flashes in the
session, in a cookie the client can read and rewrite).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ..support.backends import SimpleCookies
from .backends import Place
from .base import BaseTests


class TestSimpleCookieStorage(BaseTests):
    @pytest.fixture
    async def place(self) -> AsyncIterator[Place]:
        # docs/safe-html.rst: the client can forge this cookie, so Markup
        # comes back as plain text.
        place = Place(SimpleCookies(), markup_trusted=False)
        await place.open()
        yield place
        await place.close()
