"""The flash lifecycle of docs/lifecycle.rst, one test per rule, over HTTP.

``BaseTests`` is the contract; it is subclassed once per place flashes can
live (``tests/stores/test_*.py``), as Django's messages tests subclass their
``BaseTests`` once per storage. A subclass gives the ``place`` fixture: a
``backends.Place`` opened for the test. Docstrings name the section of
docs/lifecycle.rst that each test holds the library to.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp_session
import pytest
from aiohttp import web
from markupsafe import Markup

import aiohttp_flashbag as fb
from aiohttp_flashbag import Flashes, Message

from ..support.sessions import Clock, flash_warnings
from .backends import Place
from .site import (
    DOORS,
    NOTHING,
    SEED_MESSAGES,
    SEED_VALUES,
    SEEDED,
    Site,
    Sites,
    page,
    redirect,
)

PAGES = ("200", "400", "404", "400-raised", "404-raised", "json", "file", "stream")
RETURNED = pytest.mark.filterwarnings(
    "ignore:returning HTTPException:DeprecationWarning"
)
REDIRECT_FORMS = [
    *(pytest.param(status, "raised") for status in (301, 302, 303, 307, 308)),
    *(
        pytest.param(status, "returned", marks=RETURNED)
        for status in (301, 302, 303, 307, 308)
    ),
    pytest.param(302, "response"),
]
FAILURES = ("crash", "500", "500-raised", "502", "503-raised")


def failure(ending: str) -> web.StreamResponse:
    """How a request ends that leaves the stored bag unchanged."""
    if ending == "crash":
        raise ZeroDivisionError("the handler crashed")
    if ending == "500-raised":
        raise web.HTTPInternalServerError()
    if ending == "503-raised":
        raise web.HTTPServiceUnavailable()
    return web.Response(status=int(ending), text="failed")


class BaseTests:
    """The contract, run on the subclass's ``place``."""

    @pytest.fixture
    async def sites(self, place: Place, aiohttp_client: Any) -> AsyncIterator[Sites]:
        with contextlib.ExitStack() as stack:
            yield Sites(place, aiohttp_client, stack)

    # -- The table: redirects --------------------------------------------------

    @pytest.mark.parametrize("door", DOORS)
    async def test_a_redirect_carries_unread_flashes_and_adds_outgoing(
        self, sites: Sites, door: str
    ) -> None:
        """'The table': a redirect passes on the incoming flashes that were
        not shown, with outgoing over them (carried messages first).
        """
        seen: list[Any] = []

        async def form(request: web.Request) -> web.StreamResponse:
            seen.append(fb.flashbag_get(request, "a"))
            fb.flashbag_set(request, "c", 3)
            fb.flash(request, "three", "success")
            return redirect()

        site = await sites.open({"/form": form}, door=door)
        await site.seed()
        assert (await site.send("POST", "/form")).status == 303
        assert seen == [1]
        assert await site.show() == {
            "values": {"b": 2, "c": 3},
            "messages": [*SEED_MESSAGES, ["success", "three"]],
        }

    @pytest.mark.parametrize(("status", "form"), REDIRECT_FORMS)
    async def test_every_redirect_carries(
        self, sites: Sites, status: int, form: str
    ) -> None:
        """'The table': a status of 300 to 399, raised or returned."""

        async def handler(request: web.Request) -> web.StreamResponse:
            fb.flash(request, "new")
            return redirect(status, form)

        site = await sites.open({"/redirect": handler})
        await site.seed()
        assert (await site.send("POST", "/redirect")).status == status
        assert await site.show() == {
            "values": SEED_VALUES,
            "messages": [*SEED_MESSAGES, ["message", "new"]],
        }

    @pytest.mark.parametrize("door", DOORS)
    async def test_a_chain_of_redirects_carries_them_on(
        self, sites: Sites, door: str
    ) -> None:
        """'The table': a flash set before a redirect travels through any
        chain of redirects, to the first page.
        """

        async def first(request: web.Request) -> web.StreamResponse:
            fb.flashbag_set(request, "x", 1)
            raise web.HTTPFound("/second")

        async def second(request: web.Request) -> web.StreamResponse:
            fb.flash(request, "second")
            fb.flashbag_set(request, "b", "new")  # outgoing wins per key
            return redirect(307)

        site = await sites.open({"/first": first, "/second": second}, door=door)
        await site.seed()
        assert (await site.send("POST", "/first")).status == 302
        assert (await site.send("POST", "/second")).status == 307
        assert await site.show() == {
            "values": {"a": 1, "b": "new", "x": 1},
            "messages": [*SEED_MESSAGES, ["message", "second"]],
        }

    @pytest.mark.parametrize("door", ["decorator", "mixin"])
    async def test_an_unscoped_request_neither_sees_nor_consumes(
        self, sites: Sites, door: str
    ) -> None:
        """'Words': a request outside every scope never loads, reads,
        consumes or writes flashes.
        """
        site = await sites.open(door=door)
        await site.seed()
        writes = await site.writes()
        for _ in range(3):
            resp = await site.send("GET", "/asset")
            assert await resp.text() == "unscoped"
            assert not site.sets_cookie(resp)
        assert await site.writes() == writes
        assert await site.show() == SEEDED

    # -- The table: pages ------------------------------------------------------

    async def _page_after_seed(self, site: Site, ending: str) -> None:
        await site.seed()
        resp = await site.send("GET", f"/page/{ending}")
        assert resp.status == (int(ending[:3]) if ending[:3].isdigit() else 200)

    def _page_route(self) -> dict[str, Any]:
        async def handler(request: web.Request) -> web.StreamResponse:
            assert fb.flashbag_get(request, "a") == 1
            fb.flashbag_set(request, "c", 3)
            fb.flash(request, "new")
            return page(request.match_info["ending"])

        return {"/page/{ending}": handler}

    @pytest.mark.parametrize(
        ("door", "ending"),
        [
            *(("decorator", ending) for ending in PAGES),
            ("mixin", "404-raised"),
            ("mixin", "file"),
            ("middleware", "404-raised"),
            ("middleware", "stream"),
        ],
    )
    async def test_a_page_consumes_what_it_did_not_show(
        self, sites: Sites, door: str, ending: str
    ) -> None:
        """'The table' and 'Unread flashes': under ``unread="drop"`` (the
        default) any page that is not a redirect, whatever its class, keeps
        only outgoing.
        """
        site = await sites.open(self._page_route(), door=door)
        await self._page_after_seed(site, ending)
        assert await site.show() == {
            "values": {"c": 3},
            "messages": [["message", "new"]],
        }

    @pytest.mark.parametrize("ending", PAGES)
    async def test_unread_keep_passes_on_what_no_read_returned(
        self, sites: Sites, ending: str
    ) -> None:
        """'Unread flashes': under ``unread="keep"`` a page consumes only what
        a read showed.
        """
        site = await sites.open(self._page_route(), settings={"unread": "keep"})
        await self._page_after_seed(site, ending)
        assert await site.show() == {
            "values": {"b": 2, "c": 3},
            "messages": [*SEED_MESSAGES, ["message", "new"]],
        }

    @pytest.mark.parametrize("door", DOORS)
    async def test_head_consumes_nothing(self, sites: Sites, door: str) -> None:
        """'The table': a ``HEAD`` request keeps incoming, shown or not, and
        sets outgoing over it; its own shown messages are passed on too.
        """
        seen: list[Any] = []

        async def handler(request: web.Request) -> web.StreamResponse:
            seen.append(fb.flashbag_get(request, "a"))
            fb.flashbag_set(request, "a", "new")
            fb.flash(request, "head")
            seen.append(fb.get_flashed_messages(request))
            return web.Response(text="page")

        site = await sites.open({"/page": handler}, door=door)
        await site.seed()
        assert (await site.send("HEAD", "/page")).status == 200
        assert seen == [1, ["one", "two", "head"]]
        assert await site.show() == {
            "values": {"a": "new", "b": 2},
            "messages": [*SEED_MESSAGES, ["message", "head"]],
        }

    @pytest.mark.parametrize(
        ("door", "ending"),
        [
            *(("decorator", ending) for ending in FAILURES),
            ("mixin", "crash"),
            ("middleware", "crash"),
            ("middleware", "503-raised"),
        ],
    )
    async def test_a_failure_leaves_the_stored_bag_unchanged(
        self, sites: Sites, door: str, ending: str
    ) -> None:
        """'The table': an exception that is not an HTTP response, or a
        status of 500 or more: as far as flashes go, the request never
        happened.
        """

        async def handler(request: web.Request) -> web.StreamResponse:
            fb.get_flashed_messages(request)
            fb.flashbag_get(request, "a")
            fb.flashbag_set(request, "x", 1)
            fb.flash(request, "lost")
            return failure(ending)

        site = await sites.open({"/fail": handler}, door=door)
        await site.seed()
        saves = site.counting.saves
        resp = await site.send("POST", "/fail")
        assert resp.status == (500 if ending == "crash" else int(ending[:3]))
        assert not site.sets_cookie(resp)
        assert site.counting.saves == saves
        assert await site.show() == SEEDED

    # -- The table: keep and clear ---------------------------------------------

    async def test_keep_passes_on_the_named_values(self, sites: Sites) -> None:
        """'The table': ``flashbag_keep(request, *keys)`` keeps the named
        incoming values for the next request as well, shown or not; outgoing
        still wins.
        """

        async def handler(request: web.Request) -> web.StreamResponse:
            fb.flashbag_get(request, "a")
            fb.flashbag_get(request, "b")
            fb.flashbag_keep(request, "a", "c", "absent")
            fb.flashbag_set(request, "c", 30)
            return page("200")

        site = await sites.open({"/page": handler})
        await site.seed({"a": 1, "b": 2, "c": 3})
        await site.send("GET", "/page")
        assert await site.show() == {"values": {"a": 1, "c": 30}, "messages": []}

    async def test_keep_with_no_key_passes_on_everything(self, sites: Sites) -> None:
        """'The table': ``flashbag_keep(request)`` keeps every incoming value
        and message.
        """

        async def handler(request: web.Request) -> web.StreamResponse:
            fb.get_flashed_messages(request)
            fb.flashbag_get(request, "a")
            fb.flashbag_keep(request)
            fb.flashbag_set(request, "a", "new")
            return page("200")

        site = await sites.open({"/page": handler})
        await site.seed()
        await site.send("GET", "/page")
        assert await site.show() == {
            "values": {"a": "new", "b": 2},
            "messages": SEED_MESSAGES,
        }

    async def test_clear_forgets_what_this_request_would_pass_on(
        self, sites: Sites
    ) -> None:
        """'The table': ``flashbag_clear(request)`` forgets outgoing values
        and messages (``now`` ones too), keeps, and the redirect's carrying
        of unread incoming flashes; reads still see incoming, and later
        calls add again.
        """
        seen: list[Any] = []

        async def handler(request: web.Request) -> web.StreamResponse:
            fb.flashbag_set(request, "x", 1)
            fb.flash(request, "lost")
            fb.flash(request, "lost now", now=True)
            fb.flashbag_keep(request, "a")
            fb.flashbag_keep(request)
            fb.flashbag_clear(request)
            seen.append(fb.flashbag_get(request, "a"))
            seen.append(fb.get_flashed_messages(request))
            fb.flashbag_set(request, "y", 2)
            fb.flash(request, "again")
            return redirect()

        site = await sites.open({"/form": handler})
        await site.seed()
        await site.send("POST", "/form")
        assert seen == [1, ["one", "two"]]
        assert await site.show() == {
            "values": {"y": 2},
            "messages": [["message", "again"]],
        }

    async def test_clear_under_unread_keep_forgets_the_unread_ones(
        self, sites: Sites
    ) -> None:
        """'Unread flashes': under ``"keep"``, ``flashbag_clear()`` also
        forgets the unread incoming flashes this request would pass on.
        """

        async def handler(request: web.Request) -> web.StreamResponse:
            fb.flashbag_clear(request)
            fb.flash(request, "again")
            return page("200")

        site = await sites.open({"/page": handler}, settings={"unread": "keep"})
        await site.seed()
        await site.send("GET", "/page")
        assert await site.show() == {
            "values": {},
            "messages": [["message", "again"]],
        }

    # -- Messages of this request -----------------------------------------------

    @pytest.mark.parametrize("ending", ["redirect", "page", "HEAD"])
    async def test_now_messages_are_never_stored(
        self, sites: Sites, ending: str
    ) -> None:
        """'Messages of this request': ``flash(..., now=True)`` is for this
        request's reads only.
        """
        seen: list[Any] = []

        async def handler(request: web.Request) -> web.StreamResponse:
            fb.flash(request, "soon", "info", now=True)
            seen.append(fb.get_flashed_messages(request))
            fb.flash(request, "later")
            return redirect() if ending == "redirect" else page("200")

        site = await sites.open({"/page": handler})
        await site.send("HEAD" if ending == "HEAD" else "POST", "/page")
        assert seen == [["soon"]]
        assert await site.show() == {
            "values": {},
            "messages": [["message", "later"]],
        }

    @pytest.mark.parametrize("ending", ["redirect", "page"])
    async def test_a_message_flashed_and_shown_is_not_passed_on(
        self, sites: Sites, ending: str
    ) -> None:
        """'Messages of this request': it has been seen."""

        async def handler(request: web.Request) -> web.StreamResponse:
            fb.flash(request, "shown")
            fb.get_flashed_messages(request)
            fb.flash(request, "unread")
            return redirect() if ending == "redirect" else page("400")

        site = await sites.open({"/form": handler})
        await site.seed()
        await site.send("POST", "/form")
        assert await site.show() == {
            "values": SEED_VALUES if ending == "redirect" else {},
            "messages": [["message", "unread"]],
        }

    async def test_reads_return_incoming_then_own_messages(self, sites: Sites) -> None:
        """'Messages of this request': the incoming messages, oldest first,
        followed by the messages this request has flashed so far.
        """
        seen: list[Any] = []

        async def handler(request: web.Request) -> web.StreamResponse:
            fb.flash(request, "mine", "success")
            seen.append(fb.get_flashed_messages(request, with_categories=True))
            return page("400")

        site = await sites.open({"/form": handler})
        await site.seed()
        await site.send("POST", "/form")
        assert seen == [[*map(tuple, SEED_MESSAGES), ("success", "mine")]]
        assert all(isinstance(m, Message) for m in seen[0])

    @pytest.mark.parametrize("unread", ["drop", "keep"])
    async def test_a_category_filter_never_deletes_other_categories(
        self, sites: Sites, unread: str
    ) -> None:
        """'Messages of this request' and 'Unread flashes': what a filtered
        read did not return is not shown (a redirect carries it; under
        ``unread="keep"`` a page keeps it).
        """
        seen: list[Any] = []

        async def handler(request: web.Request) -> web.StreamResponse:
            seen.append(fb.get_flashed_messages(request, category_filter=["error"]))
            return redirect() if unread == "drop" else page("200")

        site = await sites.open({"/page": handler}, settings={"unread": unread})
        await site.seed()
        await site.send("POST", "/page")
        assert seen == [["two"]]
        assert await site.show() == {
            "values": SEED_VALUES,
            "messages": [["info", "one"]],
        }

    async def test_keyed_reads_read_incoming_only(self, sites: Sites) -> None:
        """'Messages of this request': a handler reads the previous request's
        value and sets the next one under the same key.
        """
        seen: list[Any] = []

        async def handler(request: web.Request) -> web.StreamResponse:
            count = fb.flashbag_get(request, "count", 0)
            assert isinstance(count, int)
            fb.flashbag_set(request, "count", count + 1)
            fb.flashbag_set(request, "fresh", True)
            seen.append(
                (
                    count,
                    fb.flashbag_get(request, "count"),
                    fb.flashbag_get(request, "fresh"),
                )
            )
            return redirect()

        site = await sites.open({"/count": handler})
        await site.seed({"count": 1}, [])
        await site.send("POST", "/count")
        assert seen == [(1, 1, None)]
        assert await site.show() == {
            "values": {"count": 2, "fresh": True},
            "messages": [],
        }

    async def test_values_are_returned_as_copies(self, sites: Sites) -> None:
        """'Messages of this request': changing what a read returned, what
        was set, or what ``incoming`` returned changes nothing stored.
        """
        seen: list[Any] = []

        async def handler(request: web.Request) -> web.StreamResponse:
            value = fb.flashbag_get(request, "list")
            assert isinstance(value, list)
            value.append(2)
            seen.append(fb.flashbag_get(request, "list"))
            messages = fb.get_flashed_messages(request)
            messages[0]["text"] = "changed"
            messages.append("extra")
            seen.append(fb.get_flashed_messages(request))
            fb.get_flashbag(request).incoming.values["list"].append(3)
            mine = ["x"]
            fb.flashbag_set(request, "mine", mine)
            mine.append("y")
            fb.flashbag_keep(request)
            return page("200")

        site = await sites.open({"/page": handler})
        await site.seed({"list": [1]}, [["info", {"text": "hi"}]])
        await site.send("GET", "/page")
        assert seen == [[1], [{"text": "hi"}]]
        assert await site.show() == {
            "values": {"list": [1], "mine": ["x"]},
            "messages": [["info", {"text": "hi"}]],
        }

    async def test_markup_comes_back_as_markup_where_the_client_cannot_forge_it(
        self, sites: Sites
    ) -> None:
        """docs/safe-html.rst and 'Messages of this request': ``Markup`` reads
        back as ``Markup`` in the request that flashed it, and in the next
        one unless the client can rewrite the stored bag (SimpleCookieStorage
        with flashes in the session).
        """
        seen: list[Any] = []
        link = Markup('Saved. <a href="/undo">Undo</a>')

        async def flashing(request: web.Request) -> web.StreamResponse:
            fb.flash(request, link, "success")
            fb.flashbag_set(request, "banner", link)
            seen.append(fb.get_flashed_messages(request)[0])
            fb.flash(request, link, "success")
            return redirect()

        async def showing(request: web.Request) -> web.StreamResponse:
            seen.append(fb.get_flashed_messages(request)[0])
            seen.append(fb.flashbag_get(request, "banner"))
            return page("200")

        site = await sites.open({"/flash": flashing, "/next": showing})
        await site.send("POST", "/flash")
        await site.send("GET", "/next")
        assert seen == [link, link, link]
        trusted = site.place.markup_trusted
        assert [type(text) for text in seen] == [
            Markup,
            *[Markup if trusted else str] * 2,
        ]

    # -- Bounded life ------------------------------------------------------------

    @pytest.mark.parametrize(("after", "alive"), [(30, True), (90, False)])
    async def test_a_flash_older_than_max_age_is_dropped_when_loaded(
        self, sites: Sites, monkeypatch: pytest.MonkeyPatch, after: int, alive: bool
    ) -> None:
        """'Bounded life': counted with ``time.time()`` from the request that
        set it.
        """
        clock = Clock(monkeypatch)
        site = await sites.open(settings={"max_age": 60})
        await site.seed()
        clock.offset = after
        assert await site.show() == (SEEDED if alive else NOTHING)

    @pytest.mark.parametrize("how", ["carried", "kept"])
    async def test_carrying_or_keeping_does_not_make_a_flash_younger(
        self, sites: Sites, monkeypatch: pytest.MonkeyPatch, how: str
    ) -> None:
        """'Bounded life': carrying it through redirects and keeping it do not
        make it younger.
        """
        clock = Clock(monkeypatch)
        seen: list[Any] = []

        async def handler(request: web.Request) -> web.StreamResponse:
            seen.append(fb.get_flashbag(request).incoming)
            if how == "kept":
                fb.flashbag_keep(request)
                return page("200")
            return redirect()

        site = await sites.open({"/page": handler}, settings={"max_age": 60})
        await site.seed()
        clock.offset = 40
        await site.send("POST", "/page")
        assert seen == [Flashes(SEED_VALUES, [Message(*m) for m in SEED_MESSAGES])]
        clock.offset = 70
        assert await site.show() == NOTHING

    # -- New sessions ------------------------------------------------------------

    @pytest.mark.parametrize("switch", ["new_session", "invalidate"])
    @pytest.mark.parametrize("ending", ["redirect", "page", "HEAD", "page-keep"])
    async def test_nothing_incoming_crosses_into_a_new_session(
        self, sites: Sites, switch: str, ending: str
    ) -> None:
        """'New sessions': logging in or out carries and keeps nothing
        incoming; what the request set, before or after the switch, goes
        into the new session.
        """

        async def handler(request: web.Request) -> web.StreamResponse:
            fb.flashbag_set(request, "before", 1)
            fb.flash(request, "before")
            fb.flashbag_keep(request)
            if switch == "new_session":
                (await aiohttp_session.new_session(request))["user"] = "ann"
            else:
                (await aiohttp_session.get_session(request)).invalidate()
            fb.flashbag_set(request, "after", 2)
            fb.flash(request, "after")
            return redirect() if ending == "redirect" else page("200")

        unread = "keep" if ending == "page-keep" else "drop"
        site = await sites.open({"/login": handler}, settings={"unread": unread})
        await site.seed()
        await site.send("HEAD" if ending == "HEAD" else "POST", "/login")
        assert await site.show() == {
            "values": {"before": 1, "after": 2},
            "messages": [["message", "before"], ["message", "after"]],
        }

    # -- Size --------------------------------------------------------------------

    async def test_a_write_over_max_bytes_is_accepted_and_gives_way_at_the_commit(
        self,
        sites: Sites,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """'Size': every write is accepted and this request's reads see it;
        at the commit, a flash of this request that can never be stored gives
        way first, then the oldest carried one, with a WARNING, and the test
        recorder's ``dropped`` lists them.
        """
        clock = Clock(monkeypatch)
        seen: list[Any] = []
        old, older, new, huge = "o" * 300, "p" * 300, "n" * 300, "h" * 2000

        async def handler(request: web.Request) -> web.StreamResponse:
            data = await request.json()
            for key, value in data.items():
                fb.flashbag_set(request, key, value)
            seen.append(fb.get_flashbag(request).outgoing.values)
            return redirect()

        site = await sites.open({"/set": handler}, settings={"max_bytes": 800})
        await site.send("POST", "/set", json={"oldest": older})
        clock.offset = 2
        await site.send("POST", "/set", json={"old": old})
        clock.offset = 4
        caplog.set_level(logging.WARNING, "aiohttp_flashbag")
        resp = await site.send("POST", "/set", json={"new": new, "huge": huge})
        assert resp.status == 303
        assert seen[-1] == {"new": new, "huge": huge}
        assert site.records[-1].dropped == Flashes({"huge": huge, "oldest": older}, [])
        warnings = " ".join(flash_warnings(caplog))
        assert "'huge'" in warnings
        assert "'oldest'" in warnings
        assert await site.show() == {
            "values": {"old": old, "new": new},
            "messages": [],
        }

    # -- Writes ------------------------------------------------------------------

    @pytest.mark.parametrize("shown", [True, False])
    async def test_a_page_that_showed_a_flash_is_not_cached(
        self, sites: Sites, shown: bool
    ) -> None:
        """'Writes': ``Cache-Control: no-store`` replaces what the handler set
        on a page that showed a flash; a page that showed none is untouched.
        """

        async def handler(request: web.Request) -> web.StreamResponse:
            if shown:
                fb.get_flashed_messages(request)
            return web.Response(text="page", headers={"Cache-Control": "max-age=60"})

        site = await sites.open({"/page": handler})
        await site.seed()
        resp = await site.send("GET", "/page")
        assert resp.headers["Cache-Control"] == ("no-store" if shown else "max-age=60")

    @pytest.mark.parametrize("door", DOORS)
    @pytest.mark.parametrize("visitor", ["anonymous", "logged-in"])
    async def test_nothing_incoming_and_nothing_set_writes_nothing(
        self, sites: Sites, door: str, visitor: str
    ) -> None:
        """'Writes': no ``Set-Cookie``, no storage write, no new session."""

        async def log_in(request: web.Request) -> web.StreamResponse:
            (await aiohttp_session.get_session(request))["user"] = "ann"
            return web.Response(text="in")

        async def handler(request: web.Request) -> web.StreamResponse:
            fb.get_flashed_messages(request)
            fb.flashbag_get(request, "a")
            return page("200")

        site = await sites.open({"/page": handler}, door=door, raw={"/in": log_in})
        if visitor == "logged-in":
            writes = await site.writes()
            await site.send("POST", "/in")
            assert site.has_cookie()
            assert await site.writes() > writes  # the count sees a write
        writes = await site.writes()
        resp = await site.send("GET", "/page")
        assert resp.status == 200
        assert not site.sets_cookie(resp)
        assert await site.writes() == writes
        assert site.has_cookie() == (visitor == "logged-in")

    @pytest.mark.parametrize("ending", ["redirect", "HEAD"])
    async def test_a_request_that_changes_no_flash_leaves_the_session_alone(
        self, sites: Sites, ending: str
    ) -> None:
        """'Writes': the session is written only when the stored bag really
        changes (a redirect that carries everything, a ``HEAD`` that reads).
        """

        async def handler(request: web.Request) -> web.StreamResponse:
            if ending == "HEAD":
                fb.get_flashed_messages(request)
                fb.flashbag_get(request, "a")
                return page("200")
            return redirect()

        site = await sites.open({"/page": handler})
        await site.seed()
        saves = site.counting.saves
        resp = await site.send("HEAD" if ending == "HEAD" else "POST", "/page")
        assert not site.sets_cookie(resp)
        assert site.counting.saves == saves
        assert await site.show() == SEEDED

    # -- A streamed response -----------------------------------------------------

    @pytest.mark.parametrize("door", DOORS)
    async def test_a_streamed_response_stores_what_was_set_before_prepare(
        self, sites: Sites, door: str
    ) -> None:
        """'A streamed response': where the app called ``setup()``, the scope
        commits when the response is prepared; later changes are not stored.
        """

        async def handler(request: web.Request) -> web.StreamResponse:
            fb.get_flashed_messages(request)
            fb.flashbag_set(request, "x", 1)
            fb.flash(request, "streamed")
            response = web.StreamResponse()
            await response.prepare(request)
            fb.flash(request, "late")  # after prepare(): not stored, a WARNING
            await response.write(b"chunk")
            return response

        site = await sites.open({"/stream": handler}, door=door, settings={})
        await site.seed()
        resp = await site.send("GET", "/stream")
        assert await resp.read() == b"chunk"
        assert resp.headers["Cache-Control"] == "no-store"
        assert await site.show() == {
            "values": {"x": 1},
            "messages": [["message", "streamed"]],
        }

    # -- Scopes ------------------------------------------------------------------

    @pytest.mark.parametrize("door", DOORS)
    async def test_a_scope_after_an_ended_one_sees_what_it_stored(
        self, sites: Sites, door: str
    ) -> None:
        """'Scopes': an error middleware that calls a decorated error page
        after the handler's scope ended opens a new scope, which sees what
        the first one stored and commits its own changes.
        """
        seen: list[Any] = []

        async def missing(request: web.Request) -> web.StreamResponse:
            fb.flash(request, "first")
            fb.flashbag_set(request, "v", 1)
            raise web.HTTPNotFound()

        @fb.with_flashbag
        async def error_page(request: web.Request) -> web.StreamResponse:
            seen.append(fb.get_flashed_messages(request))
            seen.append(fb.flashbag_get(request, "v"))
            fb.flash(request, "second")
            return web.Response(status=404, text="not found")

        @web.middleware
        async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
            try:
                response: web.StreamResponse = await handler(request)
            except web.HTTPNotFound:
                return await error_page(request)
            return response

        site = await sites.open({"/missing": missing}, door=door, outer=[errors])
        await site.seed()
        assert (await site.send("GET", "/missing")).status == 404
        assert seen == [["first"], 1]
        assert await site.show() == {
            "values": {},
            "messages": [["message", "second"]],
        }

    @pytest.mark.parametrize("setup", [False, True])
    async def test_each_of_two_sequential_scopes_is_recorded(
        self, sites: Sites, setup: bool
    ) -> None:
        """'Scopes' and 'Testing': two scopes that end one after the other in
        one request are two outermost scopes, so ``record_flashes()`` gets a
        record for each (with ``setup()``, both when the response is prepared).
        """

        async def missing(request: web.Request) -> web.StreamResponse:
            fb.flash(request, "first")
            raise web.HTTPNotFound()

        @fb.with_flashbag
        async def error_page(request: web.Request) -> web.StreamResponse:
            fb.flash(request, "second")
            return web.Response(status=404, text="not found")

        @web.middleware
        async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
            try:
                response: web.StreamResponse = await handler(request)
            except web.HTTPNotFound:
                return await error_page(request)
            return response

        site = await sites.open(
            {"/missing": missing}, outer=[errors], settings={} if setup else None
        )
        assert (await site.send("GET", "/missing")).status == 404
        assert [r.stored.messages for r in site.records_of("/missing")] == [
            [Message("message", "first")],
            [Message("message", "second")],  # a page: "first" is consumed
        ]

    @pytest.mark.parametrize(
        "nesting", ["middleware+decorator", "mixin+decorator", "middleware+mixin"]
    )
    async def test_nested_scopes_run_the_lifecycle_once(
        self, sites: Sites, nesting: str
    ) -> None:
        """'Scopes': a scope opened inside another shares its bag, and the
        lifecycle runs once, when the outermost scope ends.
        """
        seen: list[Any] = []

        async def handler(request: web.Request) -> web.StreamResponse:
            seen.append(fb.flashbag_get(request, "a"))
            fb.flashbag_set(request, "x", 1)
            fb.flash(request, "nested")
            return redirect()

        class DecoratedView(fb.FlashbagMixin, web.View):
            @fb.with_flashbag
            async def post(self) -> web.StreamResponse:
                return await handler(self.request)

        class View(fb.FlashbagMixin, web.View):
            async def post(self) -> web.StreamResponse:
                return await handler(self.request)

        nested: dict[str, Any] = {
            "middleware+decorator": fb.with_flashbag(handler),
            "mixin+decorator": DecoratedView,
            "middleware+mixin": View,
        }
        door = "middleware" if nesting.startswith("middleware") else "decorator"
        site = await sites.open(door=door, raw={"/nested": nested[nesting]})
        await site.seed()
        assert (await site.send("POST", "/nested")).status == 303
        assert seen == [1]
        assert len(site.records_of("/nested")) == 1
        assert await site.show() == {
            "values": {"b": 2, "x": 1},
            "messages": [*SEED_MESSAGES, ["message", "nested"]],
        }
