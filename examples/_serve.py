"""Shared by the examples: start-up (host, port, a fresh key) and form input."""

from __future__ import annotations

import argparse
import re
from collections.abc import Awaitable, Callable

from aiohttp import web
from cryptography import fernet

CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")
LONE_SURROGATES = re.compile("[\ud800-\udfff]")


async def read_form(request: web.Request, *fields: str) -> dict[str, str]:
    """The text a visitor typed into each of ``fields``, safe to flash and show.

    A body that does not decode (bytes that are not UTF-8, an unknown charset)
    is answered with a 400. In each field, lone surrogates (which no page and
    no session can encode; aiohttp makes them of undecodable bytes) become
    U+FFFD, control characters are dropped and white space at either end is
    stripped; a missing field or a file upload is "". Length is left to each
    form: a flash over ``max_bytes`` is a ``ValueError``, so check it first.
    """
    try:
        post = await request.post()
    except (ValueError, LookupError):  # UnicodeDecodeError, an unknown charset
        raise web.HTTPBadRequest(text="The form could not be read.") from None
    form = {}
    for field in fields:
        value = post.get(field)
        text = value if isinstance(value, str) else ""
        text = LONE_SURROGATES.sub("\ufffd", CONTROL_CHARACTERS.sub("", text))
        form[field] = text.strip()
    return form


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
