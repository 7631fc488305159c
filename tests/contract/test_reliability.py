"""Nothing lost, nothing leaked, never a broken session.

The promises of docs/lifecycle.rst about sharing, size, bounded life, new sessions, the
responses aiohttp-session does not save, successive scopes, sub-app settings,
bad input and faults, tried over real HTTP as an attacker and a careless user
would. The cookie-size guard has its own file, tests/test_cookie_guard.py.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp_session import (
    AbstractStorage,
    Session,
    SimpleCookieStorage,
    get_session,
    new_session,
)
from aiohttp_session import setup as setup_session

import aiohttp_flashbag as fb
from aiohttp_flashbag import DEFAULT_SESSION_KEY as KEY
from aiohttp_flashbag import Message

from ..conftest import COOKIE, Client, make_app

# -- helpers -------------------------------------------------------------------


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


class Clock:
    """``time.time`` moved on by ``offset`` seconds (patched for the test)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = 0.0
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + self.offset)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


# -- nothing a caller gets back is shared ----------------------------------------


class TestNothingIsShared:
    async def test_mutating_everything_a_read_returns_changes_nothing(
        self, aiohttp_client: Any
    ) -> None:
        @fb.with_flashbag
        async def start(request: web.Request) -> web.Response:
            fb.flashbag_set(request, "form", {"name": "Ann", "tags": [1, 2]})
            fb.flash(request, {"text": "Saved", "ids": [1]}, "success")
            raise web.HTTPSeeOther("/show")

        @fb.with_flashbag
        async def meddle(request: web.Request) -> web.Response:
            bag = fb.get_flashbag(request)
            form: Any = fb.flashbag_get(request, "form")
            form["name"] = "Eve"
            form["tags"].append(666)
            again = fb.flashbag_get(request, "form")
            messages = fb.get_flashed_messages(request)
            messages[0]["ids"].append(666)
            messages.append("forged")
            pairs = fb.get_flashed_messages(request, with_categories=True)
            pairs[0].message["text"] = "forged"
            pairs.append(Message("error", "forged"))
            incoming = bag.incoming
            incoming.values["form"]["tags"].append(777)
            incoming.values.setdefault("leak", {"from": "meddle"})
            incoming.messages[0].message["ids"].append(777)
            incoming.messages.append(Message("error", "forged"))
            draft = {"lines": ["a"]}
            fb.flashbag_set(request, "draft", draft)
            draft["lines"].append("forged")
            item = {"n": [1]}
            fb.flashbag_append(request, "items", item)
            item["n"].append(2)
            mapping = {"m": [1]}
            fb.get_flashbag(request).set("m", mapping["m"])
            mapping["m"].append(2)
            outgoing = bag.outgoing
            outgoing.values["draft"]["lines"].append("forged")
            outgoing.values["items"].append({"n": [3]})
            outgoing.values.setdefault("leak", 1)
            outgoing.messages.append(Message("error", "forged"))
            fb.flashbag_keep(request)  # all incoming goes on, as it came in
            return web.json_response(
                {
                    "again": again,
                    "after": fb.flashbag_get(request, "form"),
                    "messages": [
                        list(m)
                        for m in fb.get_flashed_messages(request, with_categories=True)
                    ],
                    "incoming": bag.incoming.values,
                    "outgoing": bag.outgoing.values,
                    "out_messages": bag.outgoing.messages,
                    "leak": fb.flashbag_get(request, "leak"),
                    "leak_in": "leak" in bag,
                }
            )

        client: Client = await aiohttp_client(
            make_app(
                [
                    ("POST", "/", start),
                    ("GET", "/meddle", meddle),
                    ("GET", "/show", show),
                ]
            )
        )
        other: Client = await aiohttp_client(client.server)
        await client.post("/", allow_redirects=False)
        seen = await (await client.get("/meddle")).json()
        original_form = {"name": "Ann", "tags": [1, 2]}
        original_message = ["success", {"text": "Saved", "ids": [1]}]
        assert seen == {
            "again": original_form,
            "after": original_form,
            "messages": [original_message],
            "incoming": {"form": original_form},
            "outgoing": {"draft": {"lines": ["a"]}, "items": [{"n": [1]}], "m": [1]},
            "out_messages": [],
            "leak": None,
            "leak_in": False,
        }
        # the next request of the same visitor: what was stored, untouched
        assert await (await client.get("/show")).json() == {
            "user": None,
            "values": {
                "form": original_form,
                "draft": {"lines": ["a"]},
                "items": [{"n": [1]}],
                "m": [1],
            },
            "messages": [original_message],
        }
        # another visitor sees nothing of it
        assert await (await other.get("/show")).json() == {
            "user": None,
            "values": {},
            "messages": [],
        }

    async def test_the_empty_incoming_of_one_visitor_is_not_anothers(
        self, aiohttp_client: Any
    ) -> None:
        """Issue item 1: the incoming of a request with nothing incoming."""

        @fb.with_flashbag
        async def careless(request: web.Request) -> web.Response:
            incoming = fb.get_flashbag(request).incoming
            incoming.values.setdefault("form", {"name": "Ann"})
            incoming.messages.append(Message("message", "for Ann"))
            return web.Response(text="ok")

        @fb.with_flashbag
        async def flash_and_redirect(request: web.Request) -> web.Response:
            found = fb.flashbag_get(request, "form")
            fb.flash(request, f"found {found!r}")
            fb.flashbag_keep(request)
            raise web.HTTPSeeOther("/show")

        app = make_app(
            [
                ("GET", "/careless", careless),
                ("POST", "/", flash_and_redirect),
                ("GET", "/show", show),
            ]
        )
        ann: Client = await aiohttp_client(app)
        bob: Client = await aiohttp_client(ann.server)
        assert (await ann.get("/careless")).status == 200
        assert COOKIE not in (await ann.get("/careless")).cookies
        resp = await bob.post("/", allow_redirects=False)
        assert set_cookie_session(resp) is not None
        stored = json.dumps(set_cookie_session(resp))
        assert "Ann" not in stored
        assert await (await bob.get("/show")).json() == {
            "user": None,
            "values": {},
            "messages": [["message", "found None"]],
        }


# -- max_bytes bounds the stored bag ---------------------------------------------


class TestMaxBytes:
    async def test_the_bound_is_the_stored_bag_as_json_dumps_encodes_it(
        self, aiohttp_client: Any
    ) -> None:
        """Default separators and ASCII escapes, as aiohttp-session stores it:
        a bag of exactly ``max_bytes`` is stored, one byte more gives way.
        """

        @fb.with_flashbag
        async def fill(request: web.Request) -> web.Response:
            n = int(request.query["n"])
            value: dict[str, Any] = {"s": "é" + "a" * n, "l": [1, 2, 3]}
            value["q"] = 'say "hi"'
            fb.flashbag_set(request, "v", value)
            return web.Response(text="set")

        client: Client = await aiohttp_client(
            make_app([("GET", "/", fill)], max_bytes=600)
        )

        async def stored(n: int) -> Any:
            session = set_cookie_session(await client.get(f"/?n={n}"))
            return None if session is None else session.get(KEY)

        low, high = 0, 600  # stored at `low`, not at `high`
        assert await stored(low) is not None
        assert await stored(high) is None
        while high - low > 1:
            middle = (low + high) // 2
            if await stored(middle) is None:
                high = middle
            else:
                low = middle
        assert len(json.dumps(await stored(low))) == 600  # the last that fits

    async def test_a_write_over_the_bound_is_accepted_and_gives_way_at_the_commit(
        self, aiohttp_client: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A form that flashes what the visitor typed never fails for its
        size: this request's reads see the write; at the commit it gives way,
        with a WARNING naming it, and the rest is stored.
        """
        big = "x" * 3000

        @fb.with_flashbag
        async def overflow(request: web.Request) -> web.Response:
            bag = fb.get_flashbag(request)
            fb.flashbag_set(request, "small", "s")
            fb.flash(request, "hello")
            fb.flashbag_append(request, "list", 1)
            fb.flashbag_set(request, "big", big)
            fb.flash(request, big, "huge")
            seen = bag.outgoing
            return web.json_response(
                {"big": seen.values["big"] == big, "messages": len(seen.messages)}
            )

        client: Client = await aiohttp_client(
            make_app([("GET", "/", overflow), ("GET", "/show", show)])
        )
        with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
            resp = await client.get("/")
        assert resp.status == 200
        assert await resp.json() == {"big": True, "messages": 2}
        assert "max_bytes=2048" in caplog.text
        assert "value 'big'" in caplog.text
        assert "message 'huge'" in caplog.text
        session = session_in(client)
        assert len(json.dumps(session[KEY])) <= 2048
        shown = await (await client.get("/show")).json()
        assert shown["values"] == {"small": "s", "list": [1]}
        assert shown["messages"] == [["message", "hello"]]

    async def test_carried_and_kept_flashes_give_way_oldest_first_at_commit(
        self, aiohttp_client: Any, clock: Clock, caplog: pytest.LogCaptureFixture
    ) -> None:
        @fb.with_flashbag
        async def step(request: web.Request) -> web.Response:
            for key in request.query.getall("keep", []):
                fb.flashbag_keep(request, key)
            for key in request.query.getall("read", []):
                fb.flashbag_get(request, key)
            for key in request.query.getall("set", []):
                fb.flashbag_set(request, key, key * 900)
            if "flash" in request.query:
                fb.flash(request, request.query["flash"] * 300, "info")
            if "page" in request.query:
                return web.Response(text="page")
            raise web.HTTPSeeOther("/show")

        client: Client = await aiohttp_client(
            make_app([("GET", "/", step), ("GET", "/show", show)])
        )

        async def go(query: str) -> None:
            clock.offset += 5
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
                resp = await client.get("/?" + query, allow_redirects=False)
            assert resp.status in (200, 303)
            assert len(json.dumps(session_in(client)[KEY])) <= 2048

        await go("set=a&flash=m")  # a: 900 bytes, an "info" message: 300
        await go("set=b")  # a, the message and b: 2100 is over
        assert len(flash_warnings(caplog)) == 1
        assert "'a'" in flash_warnings(caplog)[0]  # the oldest, a value
        assert "'b'" not in flash_warnings(caplog)[0]
        await go("set=c")  # the message (category 'info') is next, then b
        assert "'info'" in flash_warnings(caplog)[0]
        assert "'b'" not in flash_warnings(caplog)[0]
        assert "'c'" not in flash_warnings(caplog)[0]
        # a page that reads c and keeps it; d is set: c kept, stays
        await go("read=c&keep=c&set=d&page=1")
        assert flash_warnings(caplog) == []
        # e is set by this request: kept c is older than d, and gives way
        await go("keep=c&keep=d&set=e&page=1")
        assert "'c'" in flash_warnings(caplog)[0]
        assert "'d'" not in flash_warnings(caplog)[0]
        shown = await (await client.get("/show")).json()
        assert shown["values"] == {"d": "d" * 900, "e": "e" * 900}
        assert shown["messages"] == []

    async def test_what_this_request_set_is_never_dropped_for_max_bytes(
        self, aiohttp_client: Any, clock: Clock
    ) -> None:
        @fb.with_flashbag
        async def step(request: web.Request) -> web.Response:
            fb.flashbag_keep(request)
            key = request.query["set"]
            fb.flashbag_set(request, key, key * 1900)
            raise web.HTTPSeeOther("/show")

        client: Client = await aiohttp_client(
            make_app([("GET", "/", step), ("GET", "/show", show)])
        )
        await client.get("/?set=a", allow_redirects=False)
        clock.offset += 5
        await client.get("/?set=b", allow_redirects=False)
        shown = await (await client.get("/show")).json()
        assert shown["values"] == {"b": "b" * 1900}


# -- bounded life ------------------------------------------------------------------


@fb.with_flashbag
async def life(request: web.Request) -> web.Response:
    """``?set=1`` sets; ``?keep=1`` reads and keeps; ``?carry=1`` redirects."""
    if "set" in request.query:
        fb.flashbag_set(request, "a", "value")
        fb.flash(request, "message")
    if "keep" in request.query:
        fb.flashbag_get(request, "a")
        fb.get_flashed_messages(request)
        fb.flashbag_keep(request)
    if "set" in request.query or "carry" in request.query:
        raise web.HTTPSeeOther("/show")
    return web.Response(text="page")


def life_app(**settings: Any) -> web.Application:
    return make_app([("GET", "/", life), ("GET", "/show", show)], **settings)


NOTHING: dict[str, Any] = {"user": None, "values": {}, "messages": []}
SET = {"user": None, "values": {"a": "value"}, "messages": [["message", "message"]]}


class TestBoundedLife:
    async def test_a_flash_lives_max_age_seconds_and_carrying_does_not_renew_it(
        self, aiohttp_client: Any, clock: Clock
    ) -> None:
        client: Client = await aiohttp_client(life_app())
        other: Client = await aiohttp_client(client.server)
        await client.get("/?set=1", allow_redirects=False)
        await other.get("/?set=1", allow_redirects=False)
        for offset in (200, 400, 590):
            clock.offset = offset
            resp = await client.get("/?carry=1", allow_redirects=False)
            assert resp.status == 303
        clock.offset = 590
        assert await (await other.get("/show")).json() == SET  # still alive
        clock.offset = 610
        assert await (await client.get("/show")).json() == NOTHING
        assert KEY not in session_in(client)  # dropped and removed

    async def test_keeping_does_not_renew_a_flash(
        self, aiohttp_client: Any, clock: Clock
    ) -> None:
        client: Client = await aiohttp_client(life_app())
        await client.get("/?set=1", allow_redirects=False)
        for offset in (100, 300, 590):
            clock.offset = offset
            await client.get("/?keep=1")
            assert KEY in session_in(client)
        clock.offset = 610
        assert await (await client.get("/show")).json() == NOTHING

    async def test_an_expired_flash_is_dropped_whatever_the_page_does(
        self, aiohttp_client: Any, clock: Clock
    ) -> None:
        client: Client = await aiohttp_client(life_app(max_age=60))
        await client.get("/?set=1", allow_redirects=False)
        clock.offset = 61
        # a HEAD consumes nothing and a redirect carries unread flashes: an
        # expired one is gone all the same
        await client.head("/?carry=1", allow_redirects=False)
        await client.get("/?keep=1")
        assert await (await client.get("/show")).json() == NOTHING

    async def test_max_age_none_keeps_flashes_forever(
        self, aiohttp_client: Any, clock: Clock
    ) -> None:
        client: Client = await aiohttp_client(life_app(max_age=None))
        await client.get("/?set=1", allow_redirects=False)
        clock.offset = 10**7
        assert await (await client.get("/show")).json() == SET

    @pytest.mark.parametrize(
        "entry",
        [
            {"a": "value"},  # aiohttp-flashbag 0.0.3
            [1, {"a": "value"}, [["message", "message"]]],  # the previous form
        ],
        ids=["0.0.3", "version-1"],
    )
    async def test_data_stored_without_a_time_is_read_as_set_now(
        self, aiohttp_client: Any, clock: Clock, entry: Any
    ) -> None:
        expected = SET if isinstance(entry, list) else {**SET, "messages": []}
        client: Client = await aiohttp_client(life_app())
        clock.offset = 10**6  # long after the data was written
        put_session(client, {"user": "ann", KEY: entry})
        assert await (await client.get("/show")).json() == {**expected, "user": "ann"}

        # carried unread at T, it is stamped T: gone max_age after that
        put_session(client, {"user": "ann", KEY: entry})
        await client.get("/?carry=1", allow_redirects=False)
        clock.offset += 590
        await client.get("/?carry=1", allow_redirects=False)
        clock.offset += 20
        assert await (await client.get("/show")).json() == {**NOTHING, "user": "ann"}


# -- a new session -----------------------------------------------------------------


@pytest.mark.parametrize("switch", ["new_session", "invalidate"])
@pytest.mark.parametrize("end", ["303", "200", "400", "HEAD"])
async def test_a_new_session_starts_clean(
    aiohttp_client: Any, switch: str, end: str
) -> None:
    @fb.with_flashbag
    async def login(request: web.Request) -> web.Response:
        (await get_session(request))["user"] = "alice"
        fb.flashbag_set(request, "draft", "alice's draft")
        fb.flash(request, "Welcome alice")
        raise web.HTTPSeeOther("/show")  # never followed

    @fb.with_flashbag
    async def logout(request: web.Request) -> web.Response:
        fb.flashbag_keep(request)  # a careless handler keeps everything
        fb.flashbag_set(request, "before", 1)
        fb.flash(request, "flashed before")
        if switch == "new_session":
            await new_session(request)
        else:
            (await get_session(request)).invalidate()
        fb.flashbag_set(request, "after", 2)
        fb.flash(request, "Logged out")
        if end == "303":
            raise web.HTTPSeeOther("/show")
        return web.Response(status=int(end) if end != "HEAD" else 200)

    client: Client = await aiohttp_client(
        make_app(
            [
                ("POST", "/login", login),
                ("*", "/logout", logout),
                ("GET", "/show", show),
            ]
        )
    )
    await client.post("/login", allow_redirects=False)
    method = "HEAD" if end == "HEAD" else "POST"
    await client.request(method, "/logout", allow_redirects=False)
    assert await (await client.get("/show")).json() == {
        "user": None,
        "values": {"before": 1, "after": 2},
        "messages": [["message", "flashed before"], ["message", "Logged out"]],
    }


# -- responses aiohttp-session does not save ---------------------------------------


def download_app(tmp_path: Path) -> web.Application:
    path = tmp_path / "report.csv"
    path.write_text("a,b\n1,2\n")

    @fb.with_flashbag
    async def start(request: web.Request) -> web.Response:
        (await get_session(request))["user"] = "ann"
        fb.flashbag_set(request, "old", 1)
        fb.flash(request, "old message")
        raise web.HTTPSeeOther("/show")

    @fb.with_flashbag
    async def download(request: web.Request) -> web.StreamResponse:
        if "flash" in request.query:
            fb.flashbag_set(request, "new", 2)
            fb.flash(request, "Download started")
        if request.query.get("kind") == "stream":
            return web.StreamResponse(headers={"Content-Length": "0"})
        return web.FileResponse(path)

    return make_app(
        [("POST", "/", start), ("GET", "/download", download), ("GET", "/show", show)]
    )


@pytest.mark.parametrize("kind", ["file", "stream"])
class TestDownloads:
    async def test_a_flash_set_before_a_download_is_stored(
        self, aiohttp_client: Any, tmp_path: Path, kind: str
    ) -> None:
        client: Client = await aiohttp_client(download_app(tmp_path))
        await client.post("/", allow_redirects=False)
        resp = await client.get(f"/download?kind={kind}&flash=1")
        assert resp.status == 200
        await resp.read()
        assert COOKIE in resp.cookies
        assert await (await client.get("/show")).json() == {
            "user": "ann",
            "values": {"new": 2},  # "old" was consumed by the download
            "messages": [["message", "Download started"]],
        }

    async def test_a_download_consumes_incoming_flashes(
        self, aiohttp_client: Any, tmp_path: Path, kind: str
    ) -> None:
        client: Client = await aiohttp_client(download_app(tmp_path))
        await client.post("/", allow_redirects=False)
        resp = await client.get(f"/download?kind={kind}")
        await resp.read()
        assert await (await client.get("/show")).json() == {**NOTHING, "user": "ann"}
        assert session_in(client) == {"user": "ann"}

    async def test_a_download_that_changes_no_flash_writes_no_session(
        self, aiohttp_client: Any, tmp_path: Path, kind: str
    ) -> None:
        client: Client = await aiohttp_client(download_app(tmp_path))
        resp = await client.get(f"/download?kind={kind}")  # an anonymous visitor
        await resp.read()
        assert COOKIE not in resp.cookies
        assert len(client.session.cookie_jar) == 0
        await client.post("/", allow_redirects=False)
        await client.get("/show")  # nothing incoming any more
        resp = await client.get(f"/download?kind={kind}")  # a logged-in one
        await resp.read()
        assert COOKIE not in resp.cookies


# -- a second scope in one request -------------------------------------------------


async def test_a_scope_after_an_ended_one_is_a_new_scope(aiohttp_client: Any) -> None:
    """An error middleware calls a decorated error page after the handler's
    scope has ended: the page sees what that scope stored and commits its own.
    """

    @fb.with_flashbag
    async def error_page(request: web.Request, status: int) -> web.Response:
        fb.flash(request, f"Error {status}", "error")
        if status == 404:  # shows what came in, its own message too
            shown = fb.get_flashed_messages(request, with_categories=True)
            return web.json_response([list(m) for m in shown], status=404)
        raise web.HTTPSeeOther("/show")

    @web.middleware
    async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except web.HTTPClientError as exc:
            return await error_page(request, status=exc.status)
        except ZeroDivisionError:
            return await error_page(request, status=500)

    @fb.with_flashbag
    async def failing(request: web.Request) -> web.Response:
        fb.flash(request, f"from {request.path}")
        if request.path == "/broken":
            raise ZeroDivisionError  # nothing of this request is stored
        if request.path == "/missing":
            raise web.HTTPNotFound()
        raise web.HTTPForbidden()

    app = make_app(
        [
            ("POST", "/start", start_with_a_flash),
            ("GET", "/missing", failing),
            ("GET", "/forbidden", failing),
            ("GET", "/broken", failing),
            ("GET", "/show", show),
        ]
    )
    app.middlewares.append(errors)  # inside the session middleware
    client: Client = await aiohttp_client(app)

    await client.post("/start", allow_redirects=False)
    resp = await client.get("/missing")
    assert resp.status == 404
    assert await resp.json() == [
        ["message", "from /missing"],  # stored by the handler's scope
        ["error", "Error 404"],
    ]
    # the handler's scope consumed the earlier flash, the error page the rest
    assert await (await client.get("/show")).json() == NOTHING

    await client.post("/start", allow_redirects=False)
    resp = await client.get("/forbidden")  # the error page redirects
    assert await resp.json() == {
        **NOTHING,
        "messages": [["message", "from /forbidden"], ["error", "Error 403"]],
    }

    await client.post("/start", allow_redirects=False)
    resp = await client.get("/broken")  # the error page redirects
    assert await resp.json() == {
        **NOTHING,
        "messages": [["message", "earlier"], ["error", "Error 500"]],
    }


@fb.with_flashbag
async def start_with_a_flash(request: web.Request) -> web.Response:
    fb.flash(request, "earlier")
    raise web.HTTPSeeOther("/show")


# -- sub-app settings --------------------------------------------------------------


@pytest.mark.parametrize("scope", ["parent middleware", "sub middleware", "decorator"])
async def test_a_sub_apps_own_setup_wins_for_its_routes(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, scope: str
) -> None:
    async def setter(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "big", "x" * 200)  # gives way over max_bytes=100
        fb.flashbag_set(request, "small", 1)
        return web.Response(text="accepted")

    scoped = fb.with_flashbag(setter) if scope == "decorator" else setter
    app = make_app(
        [("GET", "/", scoped)],
        middleware=scope == "parent middleware",
        session_key="parent_key",
        max_bytes=1000,
    )
    sub = web.Application()
    if scope == "sub middleware":
        sub.middlewares.append(fb.flashbag_middleware)
    fb.setup(sub, session_key="sub_key", max_bytes=100)
    sub.router.add_get("/", scoped)
    app.add_subapp("/sub", sub)
    if scope == "sub middleware":
        app.router.add_get("/parent", fb.with_flashbag(setter))
    client: Client = await aiohttp_client(app)

    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get("/sub/")
    assert "over max_bytes=100" in caplog.text
    session = set_cookie_session(resp)
    assert session is not None
    assert list(session) == ["sub_key"]
    assert "big" not in json.dumps(session["sub_key"])
    caplog.clear()

    resp = await client.get("/" if scope != "sub middleware" else "/parent")
    assert "max_bytes" not in caplog.text  # the parent's own settings
    session = set_cookie_session(resp)
    assert session is not None
    assert set(session) == {"sub_key", "parent_key"}
    assert "big" in json.dumps(session["parent_key"])


# -- bad input ---------------------------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


LONE = "\ud800"
BAD_CALLS: dict[str, Callable[[web.Request], None]] = {
    "value": lambda r: fb.flashbag_set(r, "k", "a" + LONE),
    "nested value": lambda r: fb.flashbag_set(r, "k", {"x": [1, {"y": LONE}]}),
    "nested key": lambda r: fb.flashbag_set(r, "k", {"x" + LONE: 1}),
    "key": lambda r: fb.flashbag_set(r, LONE, 1),
    "appended": lambda r: fb.flashbag_append(r, "k", [LONE]),
    "append key": lambda r: fb.flashbag_append(r, "k" + LONE, 1),
    "replace_all key": lambda r: fb.flashbag_replace_all(r, {"ok": 1, LONE: 1}),
    "replace_all value": lambda r: fb.flashbag_replace_all(r, {"ok": [LONE]}),
    "message": lambda r: fb.flash(r, "Hello " + LONE),
    "now message": lambda r: fb.flash(r, "Hello " + LONE, now=True),
    "nested message": lambda r: fb.flash(r, {"text": [LONE]}),
    "category": lambda r: fb.flash(r, "Hello", "info" + LONE),
    "keep": lambda r: fb.flashbag_keep(r, "k" + LONE),
    "33 levels": lambda r: fb.flashbag_set(r, "k", nested(33)),
    "1000 levels": lambda r: fb.flashbag_set(r, "k", nested(1000)),
    "100000 levels": lambda r: fb.flashbag_set(r, "k", nested(100_000)),
    "deep dict": lambda r: fb.flashbag_set(r, "k", {"a": {"b": nested(40)}}),
    "deep message": lambda r: fb.flash(r, nested(50)),
    "deep append": lambda r: fb.flashbag_append(r, "k", nested(32)),
    "deep replace_all": lambda r: fb.flashbag_replace_all(r, {"k": nested(33)}),
}


def cycle() -> Any:
    value: list[Any] = [1]
    value.append(value)
    return value


BAD_CALLS["cycle"] = lambda r: fb.flashbag_set(r, "k", cycle())


@pytest.mark.parametrize("name", list(BAD_CALLS))
async def test_bad_input_is_refused_at_the_call(aiohttp_client: Any, name: str) -> None:
    @fb.with_flashbag
    async def handler(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "ok", 1)
        fb.flash(request, "fine")
        before = fb.get_flashbag(request).outgoing
        try:
            BAD_CALLS[name](request)
        except TypeError as exc:
            assert fb.get_flashbag(request).outgoing == before
            return web.Response(text=f"TypeError: {exc}")
        return web.Response(text="accepted")

    client: Client = await aiohttp_client(
        make_app([("GET", "/", handler), ("GET", "/show", show)])
    )
    resp = await client.get("/")
    assert resp.status == 200
    text = await resp.text()
    assert text.startswith("TypeError: ")
    assert "flash" in text  # names the call
    assert "Recursion" not in text
    assert await (await client.get("/show")).json() == {
        **NOTHING,
        "values": {"ok": 1},
        "messages": [["message", "fine"]],
    }
    assert (await client.get("/show")).status == 200  # and the page after it


async def test_32_levels_of_nesting_are_accepted(aiohttp_client: Any) -> None:
    @fb.with_flashbag
    async def handler(request: web.Request) -> web.Response:
        fb.flashbag_set(request, "k", nested(32))
        fb.flashbag_append(request, "l", nested(31))
        raise web.HTTPSeeOther("/show")

    client: Client = await aiohttp_client(
        make_app([("GET", "/", handler), ("GET", "/show", show)])
    )
    shown = await (await client.get("/")).json()
    assert shown["values"] == {"k": nested(32), "l": [nested(31)]}


def test_the_error_names_the_call_and_the_key() -> None:
    bag = fb.Flashbag()
    with pytest.raises(TypeError, match=r"flashbag_set\('draft'\)"):
        bag.set("draft", {"text": LONE})
    with pytest.raises(TypeError, match=r"flashbag_set\('draft'\).*32"):
        bag.set("draft", nested(33))
    with pytest.raises(TypeError, match=r"flash\('warning'\)"):
        bag.flash(LONE, "warning")
    assert bag.outgoing == ({}, [])


# -- faults ------------------------------------------------------------------------


def login_app(storage: AbstractStorage | None = None, **kwargs: Any) -> web.Application:
    @fb.with_flashbag
    async def page(request: web.Request) -> web.Response:
        if "flash" in request.query:
            fb.flash(request, "new")
        return web.Response(text="page")

    return make_app(
        [("GET", "/", page), ("GET", "/show", show)], storage=storage, **kwargs
    )


# Too deep for json.loads on every supported Python (3.13 decodes 3,000).
@pytest.mark.parametrize("depth", [20_000, 100_000])
async def test_json_nested_too_deep_in_a_simple_cookie_is_a_fresh_session(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, depth: int
) -> None:
    @fb.with_flashbag
    async def page(request: web.Request) -> web.Response:
        assert len(request.cookies[COOKIE]) > 2 * depth  # it did arrive
        fb.flash(request, "new")
        return web.Response(text="page")

    # aiohttp refuses header lines over 8190 bytes unless told otherwise
    app = web.Application(handler_args={"max_field_size": 4 * depth})
    setup_session(app, SimpleCookieStorage())
    app.router.add_get("/", page)
    app.router.add_get("/show", show)
    client: Client = await aiohttp_client(app)
    tampered: SimpleCookie = SimpleCookie()
    tampered[COOKIE] = '{"created": 1, "session": {"user": "eve", "x": ' + (
        "[" * depth + "]" * depth + "}}"
    )
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get(
            "/", headers={"Cookie": f"{COOKIE}={tampered[COOKIE].coded_value}"}
        )
    assert resp.status == 200, await resp.text()
    assert any("fresh" in message for message in flash_warnings(caplog))
    session = set_cookie_session(resp)
    assert session is not None
    assert "user" not in session
    assert await (await client.get("/show")).json() == {
        **NOTHING,
        "messages": [["message", "new"]],
    }


@pytest.mark.parametrize(
    "garbage",
    [None, "garbage", 42, [3, {}, []], [2, {"k": "not an entry"}, []], {"1": 1}],
    ids=["null", "str", "int", "version-3", "bad-entry", "dict-ok"],
)
@pytest.mark.parametrize("end", ["page", "redirect", "reads"])
async def test_garbage_under_the_session_key_is_warned_once_and_removed(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, garbage: Any, end: str
) -> None:
    ours = isinstance(garbage, dict)  # 0.0.3's form: read, not garbage

    @fb.with_flashbag
    async def page(request: web.Request) -> web.Response:
        if end == "reads":
            fb.flashbag_get(request, "k")
            fb.get_flashed_messages(request)
            fb.get_flashed_messages(request)
        if end == "redirect":
            raise web.HTTPSeeOther("/elsewhere")
        return web.Response(text="page")

    client: Client = await aiohttp_client(make_app([("GET", "/", page)]))
    put_session(client, {"user": "ann", KEY: garbage})
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get("/", allow_redirects=False)
    assert resp.status in (200, 303)
    warnings = flash_warnings(caplog)
    if ours:
        assert warnings == []
        if end == "redirect":
            return
    else:
        assert len(warnings) == 1, warnings
        assert repr(KEY) in warnings[0]
    assert set_cookie_session(resp) == {"user": "ann"}


async def test_garbage_is_left_alone_by_a_failed_request_and_warned_again(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    @fb.with_flashbag
    async def fail(request: web.Request) -> web.Response:
        return web.Response(status=500)

    client: Client = await aiohttp_client(
        make_app([("GET", "/fail", fail), ("GET", "/show", show)])
    )
    put_session(client, {"user": "ann", KEY: "garbage"})
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.get("/fail")
        assert COOKIE not in resp.cookies
        assert len(flash_warnings(caplog)) == 1
        assert await (await client.get("/show")).json() == {**NOTHING, "user": "ann"}
        assert len(flash_warnings(caplog)) == 2
    assert session_in(client) == {"user": "ann"}


#: with_flashbag, untyped: these tests pass it what type checkers refuse
decorate: Any = fb.with_flashbag


class TestDecorator:
    def test_a_plain_function_is_refused_when_decorated(self) -> None:
        def handler(request: web.Request) -> web.Response:
            return web.Response()

        with pytest.raises(TypeError, match="async def"):
            decorate(handler)

    def test_a_staticmethod_object_is_refused_when_decorated(self) -> None:
        async def handler(request: web.Request) -> web.Response:
            return web.Response()

        with pytest.raises(TypeError, match="staticmethod"):
            decorate(staticmethod(handler))

    @pytest.mark.parametrize(
        "thing",
        [
            lambda request: web.Response(),
            print,
            web.Response,
        ],
        ids=["lambda", "builtin", "class"],
    )
    def test_other_callables_are_refused_when_decorated(self, thing: Any) -> None:
        with pytest.raises(TypeError, match="async def"):
            decorate(thing)

    def test_an_async_generator_is_refused_when_decorated(self) -> None:
        async def handler(request: web.Request) -> Any:
            yield web.Response()

        with pytest.raises(TypeError, match="async def"):
            decorate(handler)

    async def test_below_staticmethod_it_works(self, aiohttp_client: Any) -> None:
        class Handlers:
            @staticmethod
            @fb.with_flashbag
            async def start(request: web.Request) -> web.Response:
                fb.flash(request, "static")
                raise web.HTTPSeeOther("/show")

        client: Client = await aiohttp_client(
            make_app([("GET", "/", Handlers.start), ("GET", "/show", show)])
        )
        assert (await (await client.get("/")).json())["messages"] == [
            ["message", "static"]
        ]


class BuggyStorage(AbstractStorage):
    """A custom storage with a bug in load_session."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error

    async def load_session(self, request: web.Request) -> Session:
        raise self.error

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        raise AssertionError("never saved")


class BuggySimpleCookieStorage(SimpleCookieStorage):
    """A subclass of aiohttp-session's storage whose own load_session has a bug."""

    async def load_session(self, request: web.Request) -> Session:
        return self.missing_attribute  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("error", [AttributeError("x"), KeyError("x"), TypeError("x")])
async def test_a_bug_in_a_custom_storage_is_not_hidden(
    aiohttp_client: Any, error: BaseException
) -> None:
    client: Client = await aiohttp_client(login_app(BuggyStorage(error)))
    resp = await client.get("/")
    assert resp.status == 500


async def test_a_bug_in_a_subclassed_storage_is_not_hidden(
    aiohttp_client: Any,
) -> None:
    client: Client = await aiohttp_client(login_app(BuggySimpleCookieStorage()))
    put_session(client, {"user": "ann"})
    resp = await client.get("/")
    assert resp.status == 500


@pytest.mark.parametrize(
    "error",
    [json.JSONDecodeError("bad", "{", 0), RecursionError("deep"), ValueError("bad")],
    ids=["json", "recursion", "value"],
)
async def test_a_decode_error_of_a_custom_storage_propagates(
    aiohttp_client: Any, error: BaseException
) -> None:
    """Only aiohttp-session's own storages are known to fail so on bad data;
    a custom storage's error may be a bug, and a fresh session would log the
    visitor out (docs/lifecycle.rst, "Bad input and faults").
    """

    class Undecodable(BuggyStorage):
        def __init__(self) -> None:
            super().__init__(error)
            self.saved: list[Session] = []

        async def save_session(
            self, request: web.Request, response: web.StreamResponse, session: Session
        ) -> None:
            self.saved.append(session)

    storage = Undecodable()
    client: Client = await aiohttp_client(login_app(storage))
    resp = await client.get("/?flash=1")
    assert resp.status == 500
    assert storage.saved == []
