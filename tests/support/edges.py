"""Helpers of the contract tests that check rules from the outside: the session
in the client's jar, a stored bag planted by hand, an echoing page."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

import aiohttp_flashbag as fb

from ..conftest import COOKIE, stored_bag

MARKER = "__aiohttp_flashbag__"


def cookie_of(client: Any) -> str | None:
    found = [m for m in client.session.cookie_jar if m.key == COOKIE]
    assert len(found) <= 1, found
    return str(found[0].value) if found else None


def bag_in_jar(client: Any) -> Any:
    raw = cookie_of(client)
    return None if raw is None else stored_bag(raw)


def raw_bag_in_jar(client: Any) -> Any:
    raw = cookie_of(client)
    if raw is None:
        return None
    return json.loads(raw).get("session", {}).get(fb.DEFAULT_SESSION_KEY)


def plant(client: Any, session: Mapping[str, Any]) -> None:
    """Put a SimpleCookieStorage session in the client's jar, as a browser
    (or an attacker) would send it.
    """
    value = json.dumps({"created": int(time.time()), "session": dict(session)})
    client.session.cookie_jar.update_cookies(
        {COOKIE: value}, response_url=client.make_url("/")
    )


async def echo(request: web.Request) -> web.Response:
    values = {k: fb.flashbag_get(request, k) for k in ("a", "b", "k")}
    return web.json_response(
        {"values": values, "messages": fb.get_flashed_messages(request)}
    )


async def set_and_redirect(request: web.Request) -> web.Response:
    fb.flashbag_set(request, "a", "A")
    fb.flash(request, "hello")
    raise web.HTTPFound("/page")
