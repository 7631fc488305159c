"""The cookie guard counts the session cookie that is actually sent.

docs/lifecycle.rst, "Size": browsers drop a session cookie whose
``name=value`` is over 4096 bytes, and with it the whole session, a login
included; flashes must never cause that. What counts is the cookie that is
sent: where the app called ``setup()``, session writes made after the scope
ended (a middleware installed between the session middleware and the scope)
are counted too, whether or not the flashes changed. Flashes give way oldest
first, with a WARNING; the rest of the session stays. The guard's cost grows
no faster than the number of flashes.

tests/e2e/test_guard_sent_browser.py does the same in real Chromium.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp_session import AbstractStorage, SimpleCookieStorage, get_session
from aiohttp_session import setup as setup_session
from hypothesis import given, settings, target
from hypothesis import strategies as st

import aiohttp_flashbag as fb

from ..conftest import Client, FernetCookies
from ..support.sessions import (
    COOKIE_LIMIT,
    SCOPES,
    Site,
    build_app,
    cookie_bytes,
    flash_warnings,
    jar_value,
    sent_cookies,
    sent_value,
)
from ..unit.test_growth import counting

KEY = fb.DEFAULT_SESSION_KEY


class Cookies:
    """A cookie storage, and the means to read the session it sends."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.fernet = FernetCookies() if kind == "encrypted" else None
        self.storage: AbstractStorage = (
            self.fernet.storage if self.fernet is not None else SimpleCookieStorage()
        )

    def session(self, value: str | None) -> dict[str, Any]:
        if not value:
            return {}
        data = json.loads(value) if self.fernet is None else self.fernet.read(value)
        session: dict[str, Any] = data.get("session", {})
        return session


STORAGES = ["simple", "encrypted"]


# -- the app: a login, scoped steps, and a middleware outside the scope ------------


async def note_the_view(request: web.Request) -> None:
    size = int(request.headers.get("X-Viewed", "0"))
    if size:
        session = await get_session(request)
        session["viewed"] = [request.path, "v" * size]


@web.middleware
async def recently_viewed(request: web.Request, handler: Any) -> web.StreamResponse:
    """Notes the page in the session on the way out, after the scope ended."""
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException:
        await note_the_view(request)
        raise
    await note_the_view(request)
    return response


async def login(request: web.Request) -> web.Response:
    session = await get_session(request)
    session["user"] = {"name": "alice", "token": "t" * int(request.query["size"])}
    return web.Response(text="logged in")


async def whoami(request: web.Request) -> web.Response:
    user = (await get_session(request)).get("user")
    return web.json_response(user["name"] if user else None)


async def step(request: web.Request) -> web.StreamResponse:
    """Flashes ``X-Flash`` (``[[category, size], ...]``), ends as ``X-End`` says."""
    for category, size in json.loads(request.headers.get("X-Flash", "[]")):
        fb.flash(request, "m" * size, category)
    if request.headers.get("X-Keep"):
        fb.flashbag_keep(request)
    if request.headers.get("X-End", "200") == "303":
        raise web.HTTPSeeOther("/show")
    return web.Response(text="step")


async def show(request: web.Request) -> web.Response:
    user = (await get_session(request)).get("user")
    shown = fb.get_flashed_messages(request, with_categories=True)
    return web.json_response(
        {
            "user": user["name"] if user else None,
            "categories": [m.category for m in shown],
            "messages": [m.message for m in shown if len(m.message) < 20],
        }
    )


def guard_app(cookies: Cookies, kind: str, **settings: Any) -> web.Application:
    return build_app(
        cookies.storage,
        {"/step": step, "/show": show},
        kind=kind,
        outer=[recently_viewed],
        settings=settings,
        unscoped={"/login": login, "/whoami": whoami},
    )


def flashes(*items: tuple[str, int], end: str = "303") -> dict[str, str]:
    return {"X-Flash": json.dumps(items), "X-End": end}


async def viewed_leaving_room_for(cookies: Cookies, login_size: int, room: int) -> int:
    """The size of ``viewed`` that leaves ``room`` bytes of the cookie free."""
    user = {"name": "alice", "token": "t" * login_size}
    size = COOKIE_LIMIT
    while (
        await cookie_bytes(
            cookies.storage, {"user": user, "viewed": ["/step", "v" * size]}
        )
        > COOKIE_LIMIT - room
    ):
        size -= 10
    assert size > 500
    return size


def assert_sent_fits(resp: aiohttp.ClientResponse) -> None:
    sent = sent_cookies(resp)
    assert sent, "the session cookie is sent"
    sizes = [len(name_value.encode()) for name_value in sent]
    assert max(sizes) <= COOKIE_LIMIT, sizes


def is_suffix(short: list[str], long: list[str]) -> bool:
    return short == long[len(long) - len(short) :]


# -- a middleware outside the scope writes: the flashes give way ---------------------


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("kind", SCOPES)
async def test_flashes_give_way_to_what_an_outer_middleware_writes(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, kind: str, storage: str
) -> None:
    cookies = Cookies(storage)
    client: Client = await aiohttp_client(guard_app(cookies, kind))
    await client.get("/login?size=300")
    resp = await client.get(
        "/step",
        headers=flashes(("old0", 500), ("old1", 500), ("old2", 500)),
        allow_redirects=False,
    )
    assert_sent_fits(resp)  # the flashes alone fit beside the login

    viewed = await viewed_leaving_room_for(cookies, 300, room=600)
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get(
            "/step",
            headers={**flashes(("new", 200)), "X-Viewed": str(viewed)},
            allow_redirects=False,
        )
    assert resp.status == 303
    assert_sent_fits(resp)
    session = cookies.session(sent_value(resp))
    assert session["user"]["name"] == "alice"
    assert session["viewed"] == ["/step", "v" * viewed]  # the app's own data stays
    warnings = flash_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "4096" in warnings[0]
    assert "'old0'" in warnings[0]
    assert "'new'" not in warnings[0]

    # the browser kept the cookie: the login and the newest flashes are there
    shown = await (await client.get("/show")).json()
    assert shown["user"] == "alice"
    assert shown["categories"][-1:] == ["new"]
    assert is_suffix(shown["categories"], ["old0", "old1", "old2", "new"])
    assert "old0" not in shown["categories"]


@pytest.mark.parametrize("end", ["303", "HEAD", "keep"])
@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("kind", SCOPES)
async def test_flashes_give_way_when_they_did_not_change(
    aiohttp_client: Any,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    storage: str,
    end: str,
) -> None:
    """The scope carries or keeps the flashes as they came in (nothing to
    write for the flashes); the outer middleware grows the session.
    """
    cookies = Cookies(storage)
    client: Client = await aiohttp_client(guard_app(cookies, kind))
    await client.get("/login?size=300")
    resp = await client.get(
        "/step",
        headers=flashes(("old0", 500), ("old1", 500), ("old2", 500)),
        allow_redirects=False,
    )
    assert_sent_fits(resp)

    viewed = await viewed_leaving_room_for(cookies, 300, room=900)
    headers = {"X-Viewed": str(viewed)}
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        if end == "HEAD":
            resp = await client.head("/step", headers=headers)
        elif end == "keep":
            resp = await client.get("/step", headers={**headers, "X-Keep": "1"})
        else:
            resp = await client.get(
                "/step", headers={**headers, "X-End": "303"}, allow_redirects=False
            )
    assert resp.status == (303 if end == "303" else 200)
    assert_sent_fits(resp)
    session = cookies.session(sent_value(resp))
    assert session["user"]["name"] == "alice"
    assert session["viewed"] == ["/step", "v" * viewed]
    assert any("4096" in w and "'old0'" in w for w in flash_warnings(caplog))

    shown = await (await client.get("/show")).json()
    assert shown["user"] == "alice"
    assert shown["categories"]  # the newest still fit
    assert is_suffix(shown["categories"], ["old0", "old1", "old2"])
    assert "old0" not in shown["categories"]


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("kind", [k for k in SCOPES if k != "middleware"])
async def test_the_flashes_kept_by_the_guard_keep_their_time(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, kind: str, storage: str
) -> None:
    """An unscoped request grows the session: the guard drops the oldest
    flashes, and those it keeps are stored with the time they were set, so
    they do not expire before ``max_age`` (docs/lifecycle.rst, "Size").
    """
    cookies = Cookies(storage)
    client: Client = await aiohttp_client(guard_app(cookies, kind))
    await client.get("/login?size=300")
    resp = await client.get(
        "/step",
        headers=flashes(("old0", 500), ("old1", 500), ("old2", 500)),
        allow_redirects=False,
    )
    assert_sent_fits(resp)
    viewed = await viewed_leaving_room_for(cookies, 300, room=900)
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get("/whoami", headers={"X-Viewed": str(viewed)})
    assert_sent_fits(resp)
    assert any("'old0'" in w for w in flash_warnings(caplog))
    stored = cookies.session(sent_value(resp))[KEY]
    times = [m[0] for m in stored_messages(stored)]
    assert times
    assert all(t > time.time() - 60 for t in times), times

    shown = await (await client.get("/show")).json()
    assert shown["categories"]  # the newest still fit, and have not expired
    assert is_suffix(shown["categories"], ["old0", "old1", "old2"])


def stored_messages(stored: Any) -> list[list[Any]]:
    """The message entries of a stored bag, ``[set_at, category, message]``."""
    if isinstance(stored, dict):  # the current form wraps the list
        (stored,) = stored.values()
    messages: list[list[Any]] = stored[2]
    return messages


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("kind", SCOPES)
async def test_a_session_too_large_by_itself_loses_its_flashes_only(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, kind: str, storage: str
) -> None:
    cookies = Cookies(storage)
    client: Client = await aiohttp_client(guard_app(cookies, kind))
    await client.get("/login?size=300")
    await client.get("/step", headers=flashes(("old0", 300)), allow_redirects=False)
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get(
            "/step",
            headers={**flashes(("new", 100)), "X-Viewed": "5000"},
            allow_redirects=False,
        )
    # too large for a browser whatever happens, but not because of flashes
    session = cookies.session(sent_value(resp))
    assert session["user"]["name"] == "alice"
    assert session["viewed"] == ["/step", "v" * 5000]
    assert KEY not in session
    assert any("session itself" in w for w in flash_warnings(caplog))


@pytest.mark.parametrize("hooked", [True, False], ids=["setup", "no setup"])
async def test_data_that_is_no_flash_gives_way_under_its_own_name(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, hooked: bool
) -> None:
    """docs/sizes.rst, "The cookie guard": what is under the session key but
    is no flash data gives way too, and the WARNING says so; it does not
    count flashes that were never there.
    """

    @fb.with_flashbag
    async def scoped(request: web.Request) -> web.Response:
        return web.Response(text="scoped")

    async def write(request: web.Request) -> web.Response:
        session = await get_session(request)
        session["user"] = "u" * 3900
        session[KEY] = "g" * 600  # not this library's form
        if not hooked:
            return await scoped(request)
        return web.Response(text="unscoped")

    app = web.Application()
    setup_session(app, SimpleCookieStorage())
    if hooked:
        fb.setup(app)
    app.router.add_get("/", write)
    client: Client = await aiohttp_client(app)
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get("/")
    assert resp.status == 200
    session = json.loads(sent_value(resp) or "{}")
    assert session["session"] == {"user": "u" * 3900}
    warnings = flash_warnings(caplog)
    assert not any("Dropped 0" in w for w in warnings), warnings
    assert any(KEY in w for w in warnings), warnings


# -- generated: every cookie sent fits, the login is never lost --------------------


@pytest.fixture(scope="module", params=STORAGES)
def site(request: pytest.FixtureRequest) -> Iterator[tuple[Site, Cookies]]:
    cookies = Cookies(request.param)
    served = Site(guard_app(cookies, "decorator", max_bytes=None))
    yield served, cookies
    served.close()


ENDS = st.sampled_from(["303", "200", "HEAD", "keep"])
STEPS = st.lists(
    st.tuples(
        st.lists(
            st.tuples(st.sampled_from(["info", "error"]), st.integers(1, 1200)),
            max_size=3,
        ),
        ENDS,
        st.integers(0, 2000),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=40)
@given(login_size=st.integers(50, 600), steps=STEPS)
def test_every_cookie_sent_fits_and_the_login_stays(
    site: tuple[Site, Cookies],
    login_size: int,
    steps: list[tuple[list[tuple[str, int]], str, int]],
) -> None:
    served, cookies = site
    largest = 0

    async def visit() -> None:
        nonlocal largest
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as client:
            async with client.get(served.url(f"/login?size={login_size}")) as resp:
                assert resp.status == 200
            for items, end, viewed in steps:
                headers = {
                    "X-Flash": json.dumps(items),
                    "X-End": end,
                    "X-Viewed": str(viewed),
                    "X-Keep": "1" if end == "keep" else "",
                }
                method = "HEAD" if end == "HEAD" else "GET"
                async with client.request(
                    method, served.url("/step"), headers=headers, allow_redirects=False
                ) as resp:
                    await resp.read()
                    for name_value in sent_cookies(resp):
                        size = len(name_value.encode())
                        assert size <= COOKIE_LIMIT, (size, items, end, viewed)
                        largest = max(largest, size)
                session = cookies.session(jar_value(client))
                assert session["user"]["name"] == "alice"
                async with client.get(served.url("/whoami")) as resp:
                    assert await resp.json() == "alice"

    served.run(visit())
    target(float(largest), label="largest session cookie sent")


# -- the guard's cost ----------------------------------------------------------------


@fb.with_flashbag
async def many(request: web.Request) -> web.Response:
    """Flashes ``n`` messages, one call each."""
    for n in range(int(request.query["n"])):
        fb.flash(request, f"message {n}")
    raise web.HTTPSeeOther("/show")


@fb.with_flashbag
async def many_values(request: web.Request) -> web.Response:
    """Sets ``n`` keyed values in one call: the request's own cost is linear."""
    count = int(request.query["n"])
    fb.flashbag_replace_all(request, {f"k{n}": f"value {n}" for n in range(count)})
    raise web.HTTPSeeOther("/show")


def many_app(cookies: Cookies) -> web.Application:
    app = build_app(cookies.storage, {"/show": show}, settings={"max_bytes": None})
    app.router.add_get("/many", many)
    app.router.add_get("/many-values", many_values)
    return app


async def flash_many(
    client: Client, n: int, path: str = "/many"
) -> aiohttp.ClientResponse:
    """One request setting ``n`` flashes, for a new visitor."""
    client.session.cookie_jar.clear()
    resp = await client.get(f"{path}?n={n}", allow_redirects=False)
    assert resp.status == 303
    return resp


def count_builds(monkeypatch: pytest.MonkeyPatch, cookies: Cookies) -> list[int]:
    """Counts the session cookies the storage builds (each one encrypts the
    whole session): ``[count]``, set back to 0 by the caller."""
    builds = [0]
    build = cookies.storage.save_session

    async def save_session(*args: Any) -> None:
        builds[0] += 1
        await build(*args)

    monkeypatch.setattr(cookies.storage, "save_session", save_session)
    return builds


async def test_two_thousand_flashes_fit_with_a_few_cookies_built(
    aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/sizes.rst, "The cookie guard": 2,000 flashes over the cookie's
    room are cut to fit by a bisection, a few cookies built whatever the
    number of flashes (counted, not timed), and the newest stay, in order.
    """
    cookies = Cookies("encrypted")
    builds = count_builds(monkeypatch, cookies)
    client: Client = await aiohttp_client(many_app(cookies))
    await flash_many(client, 10)  # warm up
    builds[0] = 0
    resp = await flash_many(client, 2000)
    assert_sent_fits(resp)
    assert builds[0] <= 2 * 11 + 4, builds  # log2(2000) < 11 steps
    # the newest messages stayed, in order
    messages = (await (await client.get("/show")).json())["messages"]
    assert len(messages) > 10
    assert messages == [f"message {n}" for n in range(2000 - len(messages), 2000)]


async def test_the_guards_cost_grows_no_faster_than_the_flashes(
    aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four times the flashes, all but about a hundred dropped: two more
    cookies built at most (a bisection, never one a dropped flash), and
    about four times the calls (counted with ``sys.setprofile``). The
    values are set in one call, so that only the guard's cost could grow
    faster than the flashes.
    """
    cookies = Cookies("encrypted")
    builds = count_builds(monkeypatch, cookies)
    client: Client = await aiohttp_client(many_app(cookies))

    async def counted(n: int) -> tuple[int, int]:
        builds[0] = 0
        with counting() as calls:
            resp = await flash_many(client, n, "/many-values")
        assert_sent_fits(resp)
        return builds[0], calls()

    await counted(100)  # warm up
    small_builds, small_calls = await counted(1000)
    large_builds, large_calls = await counted(4000)
    assert large_builds <= small_builds + 4, (small_builds, large_builds)
    assert large_calls / small_calls <= 5, (small_calls, large_calls)
