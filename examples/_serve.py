"""Command-line start-up shared by the examples: host, port, a fresh key."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable

from aiohttp import web
from cryptography import fernet


def new_secret_key() -> fernet.Fernet:
    """A key for EncryptedCookieStorage, new at every start.

    Sessions end when the demo restarts; a real app loads its key from its
    configuration.
    """
    return fernet.Fernet(fernet.Fernet.generate_key())


def serve(
    make_app: Callable[[], web.Application | Awaitable[web.Application]],
    description: str,
) -> None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    web.run_app(make_app(), host=args.host, port=args.port)
