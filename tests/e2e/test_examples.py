"""Each example starts with its one command and walks its flow over HTTP."""

from __future__ import annotations

import json
import re

import aiohttp

from ..support.servers import example


def jar() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def shown(page: str) -> list[tuple[str, str]]:
    """The (style, text) of each message in a page from aiohttp_flashbag.ui."""
    return re.findall(
        r'<div class="flashbag-message flashbag-(\w+)[^"]*" data-flashbag-level="\d+">'
        r'(?:<strong class="flashbag-label">[^<]*</strong>)?'
        r'<div class="flashbag-text">(.*?)</div>',
        page,
    )


async def assets(client: aiohttp.ClientSession, url: str) -> None:
    """The page's script and stylesheets are served, outside every scope."""
    for path in ["/flashbag/flashbag.js", "/flashbag/flashbag.css", "/static/site.css"]:
        async with client.get(url + path) as resp:
            assert resp.status == 200, path
            assert "Set-Cookie" not in resp.headers


async def test_form_app() -> None:
    """The README's demo: post/redirect/get with flash() and
    get_flashed_messages(), shown with aiohttp_flashbag.ui."""
    with example("form_app") as url:
        async with jar() as client:
            async with client.post(
                url + "/", data={"name": ""}, allow_redirects=False
            ) as resp:
                assert resp.status == 303
                assert resp.headers["Location"] == "/"
            async with client.get(url + "/favicon.ico") as resp:
                assert resp.status == 204
            await assets(client, url)
            async with client.get(url + "/") as resp:
                page = await resp.text()
                assert resp.headers["Cache-Control"] == "no-store"
            assert shown(page) == [("error", "Name is required")]
            assert '<script src="/flashbag/flashbag.js" defer></script>' in page
            assert 'role="status" aria-live="polite"' in page
            async with client.get(url + "/") as resp:
                page = await resp.text()
            assert shown(page) == []
            assert 'role="alert" aria-live="assertive"' in page  # always there

            async with client.post(url + "/", data={"name": "<b>Ann</b>"}) as resp:
                assert [r.status for r in resp.history] == [303]
                page = await resp.text()
            assert shown(page) == [("success", "Hello, &lt;b&gt;Ann&lt;/b&gt;!")]
            async with client.post(url + "/", data={"name": "x" * 101}) as resp:
                page = await resp.text()
            assert shown(page) == [("error", "Name is longer than 100 characters")]


async def test_views_app() -> None:
    with example("views_app") as url:
        async with jar() as client:
            async with client.post(
                url + "/items", data={"name": "", "quantity": "x<"}
            ) as resp:
                page = await resp.text()
            assert resp.url.path == "/items"
            assert '<span class="field-error" id="name-error">Name is required' in page
            assert 'aria-describedby="name-error"' in page
            assert shown(page) == [("error", "The item was not added: see below")]
            assert 'id="quantity-error"' in page
            assert 'name="quantity" value="x&lt;"' in page  # the input comes back

            async with client.get(url + "/items") as resp:
                page = await resp.text()
            assert "field-error" not in page
            assert shown(page) == []
            assert 'name="quantity" value="1"' in page

            async with client.post(
                url + "/items", data={"name": "Bolts", "quantity": "3"}
            ) as resp:
                page = await resp.text()
            assert shown(page) == [("success", "Saved Bolts")]
            assert "<li>Bolts x 3</li>" in page
            async with client.get(url + "/items") as resp:
                page = await resp.text()
            assert shown(page) == []
            await assets(client, url)
            assert "<li>Bolts x 3</li>" in page


async def test_jinja_app() -> None:
    with example("jinja_app") as url:
        async with jar() as client:
            async with client.post(
                url + "/", data={"name": ""}, allow_redirects=False
            ) as resp:
                assert resp.status == 303
            for path in [
                "/static/site.css",
                "/favicon.ico",
                "/api/poll",
                "/static/poll.js",
            ]:
                async with client.get(url + path) as resp:
                    assert resp.status == 200, path
                    assert "Set-Cookie" not in resp.headers
            async with client.get(url + "/") as resp:
                page = await resp.text()
            assert shown(page) == [("error", "Name is required")]
            async with client.get(url + "/") as resp:
                assert shown(await resp.text()) == []
            await assets(client, url)

            async with client.post(url + "/", data={"name": "<i>Ann</i>"}) as resp:
                page = await resp.text()
            assert shown(page)[0] == ("success", "Hello, &lt;i&gt;Ann&lt;/i&gt;!")
            assert shown(page)[1][0] == "info"


async def test_htmx_app() -> None:
    with example("htmx_app") as url:
        async with jar() as client:
            async with client.post(
                url + "/items", data={"name": "Bolts"}, headers={"HX-Request": "true"}
            ) as resp:
                assert resp.status == 200
                assert json.loads(resp.headers["HX-Trigger"]) == {
                    "flash": [
                        {
                            "category": "success",
                            "message": "Added Bolts",
                            "level": 25,
                            "tags": "success",
                        }
                    ]
                }
                assert await resp.text() == '<ul id="items"><li>Bolts</li></ul>'
            async with client.get(url + "/") as resp:
                page = await resp.text()
            assert "<li>Bolts</li>" in page
            assert shown(page) == []
            assert 'data-flashbag-event="flash"' in page  # toasts go here
            assert "https://unpkg.com/htmx.org@2." in page
            await assets(client, url)

            async with client.post(
                url + "/items", data={"name": ""}, allow_redirects=False
            ) as resp:
                assert resp.status == 303
                assert "HX-Trigger" not in resp.headers
            async with client.get(url + "/") as resp:
                page = await resp.text()
            assert shown(page) == [("error", "Name is required")]
            async with client.get(url + "/") as resp:
                assert shown(await resp.text()) == []
