"""Loading the session: bad data is a fresh session, a bug is a 500.

docs/lifecycle.rst, "Bad input and faults": a session the storage cannot load
because its data is bad (a tampered cookie, JSON nested too deep to decode)
gives a fresh session and a WARNING, never a 500. Only aiohttp-session's own
storages with their default JSON decoder are known to fail so on bad data.
Anything else raised while loading (a custom storage's or custom decoder's
bug, a Redis client with ``decode_responses=True``) propagates unchanged, a
500 as without this library: never a silent fresh session that logs the
visitor out. So the visitor's cookie is not replaced, even by a request that
flashes.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp_session import (
    AbstractStorage,
    Session,
    SimpleCookieStorage,
    get_session,
)
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from aiohttp_session.redis_storage import RedisStorage
from cryptography.fernet import Fernet
from redis import asyncio as aioredis

import aiohttp_flashbag as fb

from .conftest import COOKIE, Client, CountingStorage, FernetCookies, make_app
from .sessions import (
    SCOPES,
    build_app,
    flash_warnings,
    jar_value,
    put_cookie,
    sent_cookies,
    show,
)

# -- the app -------------------------------------------------------------------


def catching(errors: list[BaseException]) -> Any:
    """The outermost middleware: notes what the app raised, and re-raises it."""

    @web.middleware
    async def catch(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPException:
            raise
        except Exception as exc:
            errors.append(exc)
            raise
        return response

    return catch


async def flash_page(request: web.Request) -> web.Response:
    """A page that flashes: it would store a flash in a fresh session."""
    fb.flash(request, "Saved", "success")
    return web.Response(text="page")


async def log_in(request: web.Request) -> web.Response:
    session = await get_session(request)
    session["user"] = "ann"
    return web.Response(text="logged in")


async def plain(request: web.Request) -> web.Response:
    """A handler without this library: it loads the session itself."""
    session = await get_session(request)
    return web.Response(text=str(session.get("user")))


class Loads:
    """An app of ``storage`` whose scoped page flashes, and a plain one.

    ``flashing`` is the scoped app; ``without`` serves ``/plain`` without
    this library, for what the same storage raises there.
    """

    def __init__(self, storage: AbstractStorage, kind: str) -> None:
        self.errors: list[BaseException] = []
        self.baseline: list[BaseException] = []
        self.flashing = build_app(
            storage,
            {"/page": flash_page, "/show": show},
            kind=kind,
            first=[catching(self.errors)],
        )
        self.without = build_app(
            storage, {"/plain": plain}, kind=None, first=[catching(self.baseline)]
        )

    async def expect_the_storages_own_error(
        self, aiohttp_client: Any, cookie: str
    ) -> None:
        """The scoped page fails as the plain one does, and sends no cookie."""
        plain_client: Client = await aiohttp_client(self.without)
        put_cookie(plain_client, cookie)
        resp = await plain_client.get("/plain")
        assert resp.status == 500
        (expected,) = self.baseline

        client: Client = await aiohttp_client(self.flashing)
        put_cookie(client, cookie)
        for path in ("/page", "/show", "/page"):
            resp = await client.get(path)
            assert resp.status == 500, (path, await resp.text())
            assert sent_cookies(resp) == [], path  # the visitor's cookie stays
            assert jar_value(client) == cookie
        assert len(self.errors) == 3
        for error in self.errors:
            assert type(error) is type(expected)
            assert str(error) == str(expected)


# -- anything else raised while loading propagates ---------------------------------


@pytest.fixture
async def redis_clients(
    redis_port: int,
) -> AsyncIterator[tuple[aioredis.Redis, aioredis.Redis]]:
    """A correct client, and one with ``decode_responses=True``."""
    good = aioredis.Redis(host="127.0.0.1", port=redis_port)
    bad = aioredis.Redis(host="127.0.0.1", port=redis_port, decode_responses=True)
    yield good, bad
    await good.aclose()
    await bad.aclose()


@pytest.mark.parametrize("kind", SCOPES)
async def test_a_redis_client_that_decodes_responses_is_a_500(
    aiohttp_client: Any,
    redis_clients: tuple[aioredis.Redis, aioredis.Redis],
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    """The session was written by a correct client; then the app is deployed
    with a misconfigured one. Its load fails on every session: taking that
    for bad data would log every visitor out.
    """
    good, bad = redis_clients
    cookie_name = f"S_{uuid.uuid4().hex}"  # the test's own records
    writer: Client = await aiohttp_client(
        build_app(
            RedisStorage(good, cookie_name=cookie_name),
            {"/login": log_in},
            kind=kind,
        )
    )
    assert (await writer.get("/login")).status == 200
    identity = next(m.value for m in writer.session.cookie_jar if m.key == cookie_name)
    record = await good.get(f"{cookie_name}_{identity}")
    assert record is not None
    assert json.loads(record)["session"] == {"user": "ann"}

    loads = Loads(RedisStorage(bad, cookie_name=cookie_name), kind)
    client: Client = await aiohttp_client(loads.flashing)
    client.session.cookie_jar.update_cookies(
        {cookie_name: identity}, response_url=client.make_url("/")
    )
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get("/page")
    assert resp.status == 500, await resp.text()
    assert not any(
        header.startswith(cookie_name + "=")
        for header in resp.headers.getall("Set-Cookie", [])
    )
    assert len(loads.errors) == 1
    assert not any("fresh" in w for w in flash_warnings(caplog))
    # the visitor's session is as the correct client wrote it
    assert await good.get(f"{cookie_name}_{identity}") == record
    # and the page fails as a handler without this library does
    plain_client: Client = await aiohttp_client(loads.without)
    plain_client.session.cookie_jar.update_cookies(
        {cookie_name: identity}, response_url=plain_client.make_url("/")
    )
    assert (await plain_client.get("/plain")).status == 500
    assert type(loads.errors[0]) is type(loads.baseline[0])


class DecoderBug(Exception):
    """What a custom decoder of the app raises."""


@pytest.mark.parametrize(
    "error",
    [ValueError("not my format"), KeyError("version"), TypeError("x"), DecoderBug()],
    ids=["ValueError", "KeyError", "TypeError", "own-exception"],
)
@pytest.mark.parametrize("kind", SCOPES)
async def test_a_custom_decoder_that_raises_is_a_500(
    aiohttp_client: Any, kind: str, error: Exception
) -> None:
    """An EncryptedCookieStorage given the app's own ``decoder=``."""

    def decoder(text: str) -> Any:
        data = json.loads(text)
        if data["session"].get("user") == "ann":
            raise error
        return data

    key = Fernet.generate_key()
    storage = EncryptedCookieStorage(base64.urlsafe_b64decode(key), decoder=decoder)
    token = Fernet(key).encrypt(
        json.dumps({"created": 1, "session": {"user": "ann"}}).encode()
    )
    await Loads(storage, kind).expect_the_storages_own_error(
        aiohttp_client, token.decode()
    )


class BuggyStorage(AbstractStorage):
    """A custom storage whose load_session raises."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error
        self.saved: list[Session] = []

    async def load_session(self, request: web.Request) -> Session:
        if self.load_cookie(request) is None:
            return Session(None, data=None, new=True)
        raise self.error

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        self.saved.append(session)
        self.save_cookie(response, "new-session")


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad"),
        json.JSONDecodeError("bad", "{", 0),
        RecursionError("deep"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    ],
    ids=["ValueError", "JSONDecodeError", "RecursionError", "UnicodeDecodeError"],
)
@pytest.mark.parametrize("kind", SCOPES)
async def test_a_custom_storage_whose_load_raises_is_a_500(
    aiohttp_client: Any, kind: str, error: Exception
) -> None:
    """Even an error that looks like bad data: the custom code decides."""
    storage = BuggyStorage(error)
    await Loads(storage, kind).expect_the_storages_own_error(
        aiohttp_client, "visitor-session"
    )
    assert storage.saved == []


class StrictSimpleCookieStorage(SimpleCookieStorage):
    """A subclass of aiohttp-session's storage with a load_session of its own."""

    async def load_session(self, request: web.Request) -> Session:
        session = await super().load_session(request)
        if "user" in session and not isinstance(session["user"], dict):
            raise ValueError("an old session layout")
        return session


@pytest.mark.parametrize("kind", SCOPES)
async def test_a_subclass_with_its_own_load_that_raises_is_a_500(
    aiohttp_client: Any, kind: str
) -> None:
    cookie = json.dumps({"created": 1, "session": {"user": "ann"}})
    await Loads(StrictSimpleCookieStorage(), kind).expect_the_storages_own_error(
        aiohttp_client, cookie
    )


class CookieReadingBug(SimpleCookieStorage):
    """A subclass that changes only how the cookie is read, with a bug."""

    def load_cookie(self, request: web.Request) -> Any:
        cookie = super().load_cookie(request)
        if cookie is None:
            return None
        return cookie + 1  # type: ignore[operator]  # the bug: TypeError


@pytest.mark.parametrize("kind", SCOPES)
async def test_a_subclass_with_its_own_load_cookie_that_raises_is_a_500(
    aiohttp_client: Any, kind: str
) -> None:
    """Only a storage's own, unchanged loading code is trusted to fail on bad
    data: a TypeError of the subclass's code is a bug, not a bad cookie.
    """
    cookie = json.dumps({"created": 1, "session": {"user": "ann"}})
    await Loads(CookieReadingBug(), kind).expect_the_storages_own_error(
        aiohttp_client, cookie
    )


# -- bad data of aiohttp-session's own storages is a fresh session -----------------


def nested_json(depth: int) -> str:
    """A session whose JSON is nested too deep for ``json.loads``."""
    return '{"created": 1, "session": {"user": "eve", "x": ' + (
        "[" * depth + "]" * depth + "}}"
    )


async def expect_a_fresh_session(
    client: Client,
    caplog: pytest.LogCaptureFixture,
    *,
    logger: str | None,
    cookie: str | None = None,
) -> None:
    """The scoped page is a 200 with a fresh session, logged at WARNING.

    ``cookie``: the session cookie, sent by hand (the client's jar would not
    take one over 4096 bytes).
    """
    headers = {} if cookie is None else {"Cookie": f"{COOKIE}={cookie}"}
    with caplog.at_level(logging.WARNING):
        resp = await client.get("/page", headers=headers)
    assert resp.status == 200, await resp.text()
    warnings = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and (logger is None or r.name == logger)
    ]
    assert warnings, "a fresh session is logged at WARNING"
    # the flash went into the fresh session, and the next page shows it
    shown = await (await client.get("/show")).json()
    assert shown["messages"] == [["success", "Saved"]]


@pytest.mark.parametrize("kind", SCOPES)
async def test_a_tampered_encrypted_cookie_is_a_fresh_session(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    storage = EncryptedCookieStorage(base64.urlsafe_b64decode(Fernet.generate_key()))
    app = build_app(storage, {"/page": flash_page, "/show": show}, kind=kind)
    client: Client = await aiohttp_client(app)
    other_key = Fernet(Fernet.generate_key())
    put_cookie(client, other_key.encrypt(b'{"session": {"user": "eve"}}').decode())
    await expect_a_fresh_session(client, caplog, logger=None)


@pytest.mark.parametrize("kind", SCOPES)
async def test_json_too_deep_in_an_encrypted_cookie_is_a_fresh_session(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    key = Fernet.generate_key()
    storage = EncryptedCookieStorage(base64.urlsafe_b64decode(key))
    token = Fernet(key).encrypt(nested_json(20_000).encode()).decode()
    app = build_app(
        storage,
        {"/page": flash_page, "/show": show},
        kind=kind,
        max_field_size=2 * len(token),
    )
    client: Client = await aiohttp_client(app)
    await expect_a_fresh_session(
        client, caplog, logger="aiohttp_flashbag", cookie=token
    )


@pytest.mark.parametrize("kind", SCOPES)
async def test_json_too_deep_in_redis_is_a_fresh_session(
    aiohttp_client: Any,
    redis_clients: tuple[aioredis.Redis, aioredis.Redis],
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    good, _ = redis_clients
    cookie_name = f"S_{uuid.uuid4().hex}"
    storage = RedisStorage(good, cookie_name=cookie_name, max_age=60)
    app = build_app(storage, {"/page": flash_page, "/show": show}, kind=kind)
    client: Client = await aiohttp_client(app)
    await good.set(f"{cookie_name}_visitor", nested_json(100_000))
    client.session.cookie_jar.update_cookies(
        {cookie_name: "visitor"}, response_url=client.make_url("/")
    )
    await expect_a_fresh_session(client, caplog, logger="aiohttp_flashbag")


@pytest.mark.parametrize("kind", SCOPES)
async def test_a_simple_cookie_that_is_not_a_session_is_a_fresh_session(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    app = build_app(
        SimpleCookieStorage(), {"/page": flash_page, "/show": show}, kind=kind
    )
    client: Client = await aiohttp_client(app)
    put_cookie(client, '{"session": "text"}')
    await expect_a_fresh_session(client, caplog, logger="aiohttp_flashbag")


# -- no cookie, no load ----------------------------------------------------------------


@pytest.mark.parametrize(
    "storage",
    [SimpleCookieStorage, lambda: FernetCookies().storage],
    ids=["plain cookie", "sealed cookie"],
)
async def test_a_request_without_a_session_cookie_loads_no_session(
    aiohttp_client: Any, storage: Any
) -> None:
    """docs/architecture.rst, "The walk of a request": with one of
    aiohttp-session's cookie storages and no session cookie in the request,
    the session is known to be empty: a scope loads it only when it stores
    flashes, and what it stores reaches the next request.
    """
    counting = CountingStorage(storage())

    async def unrelated(request: web.Request) -> web.Response:
        return web.Response(text=f"{fb.flashbag_get(request, 'error')}")

    async def flash(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "error", "Name is required")
        raise web.HTTPSeeOther("/")

    app = make_app(
        [("GET", "/", unrelated), ("GET", "/flash", flash)],
        storage=counting.storage,
        middleware=True,
    )
    client: Client = await aiohttp_client(app)
    resp = await client.get("/")
    assert (await resp.text(), counting.loads, counting.saves) == ("None", 0, 0)
    assert COOKIE not in resp.cookies
    resp = await client.get("/flash", allow_redirects=False)
    assert resp.status == 303
    assert (counting.loads, counting.saves) == (1, 1)  # loaded at the commit
    resp = await client.get("/")
    assert (await resp.text(), counting.loads) == ("Name is required", 2)
