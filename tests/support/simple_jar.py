"""A SimpleCookieStorage session in the client's jar, read and written by
hand; a page that shows everything incoming; a clock to move."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from aiohttp import web
from aiohttp_session import (
    get_session,
)

import aiohttp_flashbag as fb

from ..conftest import COOKIE, Client
from .sessions import Clock


def session_in(client: Client) -> dict[str, Any]:
    """The session the client's SimpleCookieStorage cookie now holds."""
    for morsel in client.session.cookie_jar:
        if morsel.key == COOKIE and morsel.value:
            session: dict[str, Any] = json.loads(morsel.value).get("session", {})
            return session
    return {}


def put_session(client: Client, session: dict[str, Any]) -> None:
    """Give the client a SimpleCookieStorage cookie holding ``session``."""
    data = {"created": int(time.time()), "session": session}
    client.session.cookie_jar.update_cookies(
        {COOKIE: json.dumps(data)}, response_url=client.make_url("/")
    )


def set_cookie_session(resp: Any) -> dict[str, Any] | None:
    """The session a response's Set-Cookie holds (``None``: no Set-Cookie)."""
    morsel = resp.cookies.get(COOKIE)
    if morsel is None:
        return None
    if not morsel.value:
        return {}
    session: dict[str, Any] = json.loads(morsel.value).get("session", {})
    return session


def flash_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "aiohttp_flashbag" and r.levelno == logging.WARNING
    ]


@fb.with_flashbag
async def show(request: web.Request) -> web.Response:
    """Everything incoming, as the next page would show it (consumes it)."""
    bag = fb.get_flashbag(request)
    session = await get_session(request)
    return web.json_response(
        {
            "user": session.get("user"),
            "values": {key: fb.flashbag_get(request, key) for key in bag.incoming[0]},
            "messages": [
                list(m) for m in fb.get_flashed_messages(request, with_categories=True)
            ],
        }
    )


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


NOTHING: dict[str, Any] = {"user": None, "values": {}, "messages": []}
