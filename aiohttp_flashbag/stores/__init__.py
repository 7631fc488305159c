"""Where flashes live between requests.

A :class:`FlashStore` loads what came in for a request and commits what the
lifecycle rule decided. :class:`SessionStore`, the default, keeps flashes in
the aiohttp-session session under the session key; :class:`RedisFlashStore`
keeps them in Redis, safe from concurrent requests (docs/concurrency.rst).
"""

from ._base import Committed, FlashStore, Incoming
from ._redis import RedisFlashStore
from ._session import SessionStore

__all__ = ("Committed", "FlashStore", "Incoming", "RedisFlashStore", "SessionStore")
