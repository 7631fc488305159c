"""A page that showed a flash is kept by no cache, shared caches included.

docs/lifecycle.rst, "Writes": a response that showed a flash is a one-time,
personal page. The scope sets ``Cache-Control`` to the ``cache_control``
setting (default ``no-store``), replacing what the handler set, and removes
``CDN-Cache-Control`` and ``Surrogate-Control``, which tell shared caches
(CDNs, Varnish, Fastly) to ignore ``Cache-Control``. ``cache_control=None``
leaves headers alone; responses that showed nothing are not touched.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage
from multidict import CIMultiDict

import aiohttp_flashbag as fb

from ..conftest import Client
from ..support.sessions import SCOPES, build_app

HX = {"HX-Request": "true"}


def cacheable() -> CIMultiDict[str]:
    """What a handler sets for a page shared caches should keep an hour."""
    headers: CIMultiDict[str] = CIMultiDict()
    headers["Cache-Control"] = "public, max-age=600"
    headers["CDN-Cache-Control"] = "max-age=3600"
    headers["Surrogate-Control"] = "max-age=3600"
    return headers


async def prime(request: web.Request) -> web.Response:
    fb.flash(request, "Saved", "success")
    fb.flashbag_set(request, "form", {"name": "Ann"})
    raise web.HTTPSeeOther("/elsewhere")


def read(request: web.Request) -> None:
    what = request.headers.get("X-Read", "messages")
    if what == "messages":
        fb.get_flashed_messages(request)
    elif what == "value":
        fb.flashbag_get(request, "form")
    elif what == "own":
        fb.flash(request, "own", "info")
        fb.get_flashed_messages(request, category_filter="info")


async def page(request: web.Request) -> web.Response:
    read(request)
    return web.Response(text="page", headers=cacheable())


async def not_found(request: web.Request) -> web.Response:
    read(request)
    raise web.HTTPNotFound(text="gone", headers=cacheable())


async def lowercase(request: web.Request) -> web.Response:
    read(request)
    resp = web.Response(text="page")
    resp.headers["cache-control"] = "public, max-age=600"
    resp.headers.add("cdn-cache-control", "max-age=3600")
    resp.headers.add("CDN-Cache-Control", "max-age=60")
    resp.headers.add("surrogate-control", "max-age=3600")
    resp.headers.add("Surrogate-Control", "no-store")
    return resp


async def fragment(request: web.Request) -> web.Response:
    """An htmx fragment that reads nothing: its messages go in HX-Trigger."""
    return web.Response(text="<li>fragment</li>", headers=cacheable())


ROUTES = {
    "/prime": prime,
    "/page": page,
    "/not-found": not_found,
    "/lowercase": lowercase,
    "/fragment": fragment,
}


def app_of(kind: str, **settings: Any) -> web.Application:
    return build_app(SimpleCookieStorage(), ROUTES, kind=kind, settings=settings)


def no_shared_cache_headers(resp: Any) -> None:
    assert "CDN-Cache-Control" not in resp.headers
    assert "Surrogate-Control" not in resp.headers


@pytest.mark.parametrize("read_what", ["messages", "value", "own"])
@pytest.mark.parametrize("path", ["/page", "/not-found", "/lowercase"])
@pytest.mark.parametrize("kind", SCOPES)
async def test_a_page_that_showed_a_flash_is_kept_by_no_cache(
    aiohttp_client: Any, kind: str, path: str, read_what: str
) -> None:
    client: Client = await aiohttp_client(app_of(kind))
    await client.post("/prime", allow_redirects=False)
    resp = await client.get(path, headers={"X-Read": read_what})
    assert resp.status == (404 if path == "/not-found" else 200)
    assert resp.headers.getall("Cache-Control") == ["no-store"]
    no_shared_cache_headers(resp)


@pytest.mark.parametrize("kind", SCOPES)
async def test_the_setting_replaces_cache_control_and_removes_the_others(
    aiohttp_client: Any, kind: str
) -> None:
    client: Client = await aiohttp_client(
        app_of(kind, cache_control="private, no-cache")
    )
    await client.post("/prime", allow_redirects=False)
    resp = await client.get("/page")
    assert resp.headers.getall("Cache-Control") == ["private, no-cache"]
    no_shared_cache_headers(resp)


@pytest.mark.parametrize("kind", SCOPES)
async def test_messages_delivered_to_htmx_count_as_shown(
    aiohttp_client: Any, kind: str
) -> None:
    client: Client = await aiohttp_client(app_of(kind, htmx_event="flash"))
    await client.post("/prime", allow_redirects=False)
    resp = await client.get("/fragment", headers=HX)
    assert json.loads(resp.headers["HX-Trigger"])["flash"]
    assert resp.headers["Cache-Control"] == "no-store"
    no_shared_cache_headers(resp)


@pytest.mark.parametrize("kind", SCOPES)
async def test_cache_control_none_leaves_every_header_alone(
    aiohttp_client: Any, kind: str
) -> None:
    client: Client = await aiohttp_client(app_of(kind, cache_control=None))
    await client.post("/prime", allow_redirects=False)
    resp = await client.get("/page")
    assert dict(resp.headers.items()).items() >= dict(cacheable().items()).items()


@pytest.mark.parametrize("kind", SCOPES)
async def test_a_page_that_showed_nothing_is_not_touched(
    aiohttp_client: Any, kind: str
) -> None:
    client: Client = await aiohttp_client(app_of(kind))
    await client.post("/prime", allow_redirects=False)
    resp = await client.get("/page", headers={"X-Read": "nothing"})
    assert dict(resp.headers.items()).items() >= dict(cacheable().items()).items()
    resp = await client.get("/page")  # nothing left to show
    assert dict(resp.headers.items()).items() >= dict(cacheable().items()).items()
