"""An app on a place, served over real HTTP, and the requests tests send it.

Every app has three routes besides the test's own: ``POST /seed`` stores
flashes for the next request (a scoped redirect), ``GET /show`` shows
everything incoming (a scoped page, so it consumes it) and ``GET /asset``,
which no door scopes (unless the middleware scopes everything).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

import aiohttp_flashbag as fb
from aiohttp_flashbag.testing import FlashRecord, record_flashes

from ..conftest import COOKIE, Client, CountingStorage
from ..support.sessions import Handler, build_app, sent_cookies, show
from .backends import Place

DOORS = ("decorator", "mixin", "middleware")

#: What ``/seed`` stores unless a test says otherwise.
SEED_VALUES: dict[str, Any] = {"a": 1, "b": 2}
SEED_MESSAGES: list[list[Any]] = [["info", "one"], ["error", "two"]]
SEEDED: dict[str, Any] = {"values": SEED_VALUES, "messages": SEED_MESSAGES}
NOTHING: dict[str, Any] = {"values": {}, "messages": []}

#: A file for ``FileResponse`` pages.
A_FILE = Path(__file__).with_name("__init__.py")


async def seed(request: web.Request) -> web.StreamResponse:
    """Flash what the JSON body names, and redirect."""
    body = await request.json()
    for key, value in body["values"].items():
        fb.flashbag_set(request, key, value)
    for category, message in body["messages"]:
        fb.flash(request, message, category)
    raise web.HTTPSeeOther("/show")


async def asset(request: web.Request) -> web.StreamResponse:
    """Says whether a scope is open; touches no flash."""
    try:
        fb.get_flashbag(request)
    except RuntimeError:
        return web.Response(text="unscoped")
    return web.Response(text="scoped")


def page(ending: str) -> web.StreamResponse:
    """A response that is not a redirect, as ``ending`` names it (raised
    ones are raised).
    """
    if ending == "200":
        return web.Response(text="page")
    if ending in ("400", "404"):
        return web.Response(status=int(ending), text="error page")
    if ending == "400-raised":
        raise web.HTTPBadRequest(text="bad")
    if ending == "404-raised":
        raise web.HTTPNotFound(text="missing")
    if ending == "json":
        return web.json_response({"ok": True})
    if ending == "file":
        return web.FileResponse(A_FILE)
    if ending == "stream":  # returned before it is sent: aiohttp sends it
        return web.StreamResponse()
    raise AssertionError(ending)


REDIRECTS: dict[int, type[web.HTTPMove]] = {
    301: web.HTTPMovedPermanently,
    302: web.HTTPFound,
    303: web.HTTPSeeOther,
    307: web.HTTPTemporaryRedirect,
    308: web.HTTPPermanentRedirect,
}


def redirect(status: int = 303, form: str = "raised") -> web.StreamResponse:
    """A redirect to ``/show``: an HTTPException ``raised`` or ``returned``,
    or a plain ``response`` with that status.
    """
    if form == "response":
        return web.Response(status=status, headers={"Location": "/show"})
    exc = REDIRECTS[status]("/show")
    if form == "raised":
        raise exc
    assert form == "returned", form
    return exc


class Site:
    """A served app and its client; requests never follow redirects."""

    def __init__(
        self,
        client: Client,
        place: Place,
        counting: CountingStorage,
        records: list[FlashRecord],
    ) -> None:
        self.client = client
        self.place = place
        self.counting = counting
        #: one record per outermost scope of this app (aiohttp_flashbag.testing)
        self.records = records

    async def send(
        self, method: str, path: str, **kwargs: Any
    ) -> aiohttp.ClientResponse:
        resp = await self.client.request(method, path, allow_redirects=False, **kwargs)
        await resp.read()
        return resp

    async def seed(
        self,
        values: Mapping[str, Any] = SEED_VALUES,
        messages: Sequence[Sequence[Any]] = SEED_MESSAGES,
    ) -> None:
        """Store ``values`` and ``messages`` for the next scoped request."""
        body = {"values": dict(values), "messages": [list(m) for m in messages]}
        resp = await self.send("POST", "/seed", json=body)
        assert resp.status == 303, await resp.text()

    async def show(self) -> dict[str, Any]:
        """Everything incoming, shown (and so consumed) by a scoped page."""
        resp = await self.send("GET", "/show")
        assert resp.status == 200, await resp.text()
        shown: dict[str, Any] = await resp.json()
        return shown

    async def writes(self) -> int:
        """Session saves plus what the place's servers were written so far."""
        return self.counting.saves + await self.place.writes()

    def sets_cookie(self, resp: aiohttp.ClientResponse) -> bool:
        return bool(sent_cookies(resp))

    def has_cookie(self) -> bool:
        return any(m.key == COOKIE for m in self.client.session.cookie_jar)

    def records_of(self, path: str) -> list[FlashRecord]:
        return [r for r in self.records if r.path == path]


class Sites:
    """Makes the test's apps on its place: ``await sites.open(routes, ...)``."""

    def __init__(
        self, place: Place, aiohttp_client: Any, stack: contextlib.ExitStack
    ) -> None:
        self.place = place
        self.aiohttp_client = aiohttp_client
        self.stack = stack

    async def open(
        self,
        routes: Mapping[str, Handler] | None = None,
        *,
        door: str = "decorator",
        settings: Mapping[str, Any] | None = None,
        outer: Iterable[Any] = (),
        raw: Mapping[str, Any] | None = None,
    ) -> Site:
        """An app whose ``routes`` (any method) open a scope through ``door``.

        ``settings``: the arguments of ``setup()``, called only when given or
        when the place has a store. ``outer``: middlewares between the
        session middleware and the flashbag one. ``raw``: routes added as
        they are (views, handlers already decorated).
        """
        storage = self.place.storage()
        counting = CountingStorage(storage)
        app = build_app(
            storage,
            {"/seed": seed, "/show": show, **(routes or {})},
            kind=door,
            outer=outer,
            settings=self.place.settings(settings),
            unscoped={"/asset": asset},
        )
        for path, handler in (raw or {}).items():
            app.router.add_route("*", path, handler)
        records = self.stack.enter_context(record_flashes(app))
        client: Client = await self.aiohttp_client(app)
        return Site(client, self.place, counting, records)
