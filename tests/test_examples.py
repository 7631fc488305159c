"""Each example starts with its one command and walks its flow over HTTP."""

from __future__ import annotations

import json

import aiohttp

from .servers import example


def jar() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_form_app() -> None:
    with example("form_app") as url:
        async with jar() as client:
            async with client.post(
                url + "/", data={"name": ""}, allow_redirects=False
            ) as resp:
                assert resp.status == 303
            async with client.get(url + "/favicon.ico") as resp:
                assert resp.status == 204
            async with client.get(url + "/") as resp:
                assert (
                    '<span class="error">Name is required</span>' in await resp.text()
                )
            async with client.get(url + "/") as resp:
                assert "Name is required" not in await resp.text()
            async with client.post(url + "/", data={"name": "<b>Ann</b>"}) as resp:
                assert "Hello, &lt;b&gt;Ann&lt;/b&gt;" in await resp.text()


async def test_views_app() -> None:
    with example("views_app") as url:
        async with jar() as client:
            async with client.post(
                url + "/items", data={"name": "", "quantity": "x<"}
            ) as resp:
                page = await resp.text()
            assert resp.url.path == "/items"
            assert '<span class="error" id="name-error">Name is required' in page
            assert 'id="quantity-error"' in page
            assert 'name="quantity" value="x&lt;"' in page  # the input comes back

            async with client.get(url + "/items") as resp:
                page = await resp.text()
            assert "error" not in page
            assert 'name="quantity" value="1"' in page

            async with client.post(
                url + "/items", data={"name": "Bolts", "quantity": "3"}
            ) as resp:
                page = await resp.text()
            assert '<p class="success">Saved Bolts</p>' in page
            assert "<li>Bolts x 3</li>" in page
            async with client.get(url + "/items") as resp:
                page = await resp.text()
            assert "Saved" not in page
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
            assert '<p class="flash flash-error">Name is required</p>' in page
            async with client.get(url + "/") as resp:
                assert "flash-error" not in await resp.text()

            async with client.post(url + "/", data={"name": "<i>Ann</i>"}) as resp:
                page = await resp.text()
            assert (
                '<p class="flash flash-success">Hello, &lt;i&gt;Ann&lt;/i&gt;!</p>'
                in page
            )
            assert 'class="flash flash-info"' in page


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
            assert 'class="flash' not in page
            assert "https://unpkg.com/htmx.org@2." in page

            async with client.post(
                url + "/items", data={"name": ""}, allow_redirects=False
            ) as resp:
                assert resp.status == 303
                assert "HX-Trigger" not in resp.headers
            async with client.get(url + "/") as resp:
                page = await resp.text()
            assert '<p class="flash flash-error">Name is required</p>' in page
            async with client.get(url + "/") as resp:
                assert 'class="flash' not in await resp.text()
