"""The post-redirect-get flow in real headless Chromium, on examples/jinja_app.py,
whose page shows flashes with the package's template (aiohttp_flashbag.ui)."""

from __future__ import annotations

from typing import Any

import pytest

from ..support.servers import example

pytestmark = pytest.mark.browser

# flashbag.css, light scheme: --flashbag-error-fg and --flashbag-success-fg
ERROR = "rgb(138, 20, 20)"
SUCCESS = "rgb(13, 79, 37)"


@pytest.fixture
async def page(chromium: Any) -> Any:
    context = await chromium.new_context()
    return await context.new_page()


async def polls(page: Any) -> int:
    return int(await page.text_content("#polls"))


async def wait_for_polls(page: Any, more_than: int) -> None:
    await page.wait_for_function(
        f"Number(document.getElementById('polls').textContent) > {more_than}",
        timeout=10_000,
    )


async def test_post_redirect_get_in_a_browser(page: Any) -> None:
    with example("jinja_app") as url:
        await page.goto(url + "/")
        await wait_for_polls(page, 0)  # the page's script runs

        # an empty form: the error appears once, styled
        await page.click("#submit")
        await page.wait_for_url(url + "/")
        errors = page.locator(".flashbag-error .flashbag-text")
        assert await errors.count() == 1
        assert await errors.text_content() == "Name is required"
        assert await errors.evaluate("e => getComputedStyle(e).color") == ERROR
        assert await page.locator(".flashbag-message").count() == 1
        # announced: moved into the assertive live region after load
        await page.locator('[role="alert"] .flashbag-error').wait_for()

        # the poll and the assets keep running; a reload shows nothing
        await wait_for_polls(page, await polls(page) + 2)
        await page.reload()
        assert await page.locator(".flashbag-message").count() == 0

        # a valid form: success and info, each styled its own way
        await page.fill("#name", "Ann")
        await page.click("#submit")
        await page.wait_for_url(url + "/")
        success = page.locator(".flashbag-success .flashbag-text")
        assert await success.text_content() == "Hello, Ann!"
        assert await success.evaluate("e => getComputedStyle(e).color") == SUCCESS
        assert await page.locator(".flashbag-info").count() == 1


async def test_no_flash_is_lost_to_polls_and_assets(page: Any) -> None:
    with example("jinja_app") as url:
        await page.goto(url + "/")
        # post from the page without following the redirect, let the page's
        # own requests run, and only then open the page the redirect named
        await page.evaluate(
            """async () => {
                const body = new URLSearchParams({name: ""});
                await fetch("/", {method: "POST", body, redirect: "manual"});
                await Promise.all([
                    fetch("/api/poll"), fetch("/static/site.css"),
                    fetch("/favicon.ico"), fetch("/static/poll.js"),
                    fetch("/api/poll"),
                ]);
            }"""
        )
        before = await polls(page)
        await wait_for_polls(page, before + 2)
        await page.goto(url + "/")
        assert await page.locator(".flashbag-error").count() == 1
        await page.goto(url + "/")
        assert await page.locator(".flashbag-error").count() == 0


async def test_a_flashed_script_is_text_and_never_runs(page: Any) -> None:
    payload = (
        "<script>window.__flashbag_xss = 1</script>"
        '<img src="x" onerror="window.__flashbag_xss = 2">'
    )
    with example("jinja_app") as url:
        await page.goto(url + "/")
        await page.fill("#name", payload)
        await page.click("#submit")
        await page.wait_for_url(url + "/")
        success = page.locator(".flashbag-success .flashbag-text")
        assert await success.text_content() == f"Hello, {payload}!"
        assert await success.locator("script, img").count() == 0
        await wait_for_polls(page, 0)  # scripts of the page itself did run
        assert await page.evaluate("typeof window.__flashbag_xss") == "undefined"
