"""Each example starts with its one command and walks its flow over HTTP."""

from __future__ import annotations

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
