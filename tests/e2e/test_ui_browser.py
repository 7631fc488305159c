"""The shipped flashbag area as visitors see it, in real headless Chromium
(docs/showing-flashes.rst): messages after a redirect are moved into live
regions and announced, toasts from htmx are dismissed by mouse and keyboard,
reduced motion stops the animation, back and forward show no toast again,
a strict Content-Security-Policy needs no exception, and axe-core finds no
violation on the demo pages, light and dark.

axe-core comes from the npm registry, installed into a temporary folder as
the htmx tests install htmx. Screenshots of the demo are written to
docs/_static/ when ``FLASHBAG_SCREENSHOTS=1`` (the docs show them).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import aiohttp_flashbag as fb
from aiohttp_flashbag import ui

from ..conftest import make_app
from ..support.servers import ROOT, example, require_binary
from .test_htmx_browser import (
    add,
    htmx_js,  # noqa: F401 - a fixture
    items,
    open_with_htmx,
    toast,
    unavailable,
)

pytestmark = pytest.mark.browser

AXE_VERSION = "4.14.1"
SCREENSHOTS = ROOT / "docs" / "_static"


@pytest.fixture(scope="session")
def axe_js(tmp_path_factory: pytest.TempPathFactory) -> str:
    """axe.min.js of the pinned axe-core, from the npm registry."""
    npm = require_binary("npm", "npm")
    folder = tmp_path_factory.mktemp("axe")
    package = f"axe-core@{AXE_VERSION}"
    command = [npm, "install", "--prefix", str(folder), package]
    try:
        result = subprocess.run(
            [*command, "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        unavailable(f"npm install {package} took more than 300 s")
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        unavailable(f"npm install {package} failed: {' / '.join(lines[:4])}")
    return Path(folder, "node_modules", "axe-core", "axe.min.js").read_text()


async def new_page(chromium: Any, **options: Any) -> Any:
    context = await chromium.new_context(**options)
    return await context.new_page()


async def announced(page: Any, role: str, text: str) -> Any:
    """The message reading ``text`` once it is in the live region ``role``."""
    found = page.locator(f'[role="{role}"] .flashbag-message', has_text=text)
    await found.wait_for(timeout=10_000)
    return found


async def axe_violations(page: Any, axe_js: str) -> list[Any]:
    await page.evaluate(axe_js)
    result: dict[str, Any] = await page.evaluate(
        """async () => await axe.run(document, {
            runOnly: {type: "tag", values: [
                "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa",
                "best-practice"]},
        })"""
    )
    return [
        (v["id"], v["help"], [n["html"][:120] for n in v["nodes"]])
        for v in result["violations"]
    ]


# -- after a redirect ----------------------------------------------------------


async def test_a_message_after_a_redirect_is_announced_and_dismissed(
    chromium: Any,
) -> None:
    with example("form_app") as url:
        page = await new_page(chromium)
        await page.goto(url + "/")
        await page.click("#submit")  # an empty name: an error
        error = await announced(page, "alert", "Name is required")
        assert await page.locator("[data-flashbag-pending]").count() == 0
        button = error.get_by_role("button", name="Dismiss")
        assert await button.is_visible()
        await button.click()
        assert await page.locator(".flashbag-message").count() == 0

        await page.fill("#name", "Ann")
        await page.click("#submit")
        success = await announced(page, "status", "Hello, Ann!")
        assert await success.locator(".flashbag-label").text_content() == "Success:"
        await page.keyboard.press("Escape")
        assert await page.locator(".flashbag-message").count() == 0

        await page.reload()  # shown once
        assert await page.locator(".flashbag-message").count() == 0


async def test_without_javascript_the_messages_are_plain_content(
    chromium: Any,
) -> None:
    with example("form_app") as url:
        page = await new_page(chromium, java_script_enabled=False)
        await page.goto(url + "/")
        await page.click("#submit")
        await page.wait_for_url(url + "/")
        message = page.locator("[data-flashbag-pending] .flashbag-error")
        assert await message.is_visible()
        assert "Name is required" in await message.text_content()
        assert not await message.locator("button").is_visible()  # it could not work


async def test_a_strict_content_security_policy_needs_no_exception(
    chromium: Any,
) -> None:
    policy = "default-src 'none'; script-src 'self'; style-src 'self'"

    async def save(request: web.Request) -> web.Response:
        fb.flash(request, "Saved", "success")
        raise web.HTTPSeeOther("/")

    async def page_(request: web.Request) -> web.Response:
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>CSP</title>{ui.head_tags()}</head><body><main>"
            f"{ui.render_flashes(request)}"
            '<form method="post" action="/save"><button id="save">Save</button>'
            "</form></main></body></html>"
        )
        return web.Response(
            text=body,
            content_type="text/html",
            headers={"Content-Security-Policy": policy},
        )

    app = make_app(
        [("POST", "/save", fb.with_flashbag(save)), ("GET", "/", page_)],
        middleware=True,
    )
    ui.add_static(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        page = await new_page(chromium)
        violations: list[str] = []
        page.on(
            "console",
            lambda msg: (
                violations.append(msg.text)
                if "Content Security Policy" in msg.text
                else None
            ),
        )
        await page.goto(str(server.make_url("/")))
        await page.click("#save")
        saved = await announced(page, "status", "Saved")
        colour = await saved.evaluate("e => getComputedStyle(e).color")
        assert colour == "rgb(13, 79, 37)"  # flashbag.css applied
        assert violations == []
    finally:
        await server.close()


# -- htmx toasts -----------------------------------------------------------------


async def toasts_of(
    chromium: Any, items: str, labels: dict[str, str] | None = None
) -> Any:
    """The toasts of a page whose area (with ``labels``) gets the event
    htmx fires for an ``HX-Trigger`` header whose JSON detail is ``items``
    (a JavaScript list), once the last one is shown.
    """

    async def page_(request: web.Request) -> web.Response:
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>Toasts</title>{ui.head_tags()}</head><body><main>"
            f"{ui.render_flashes(request, labels=labels)}</main></body></html>"
        )
        return web.Response(text=body, content_type="text/html")

    app = make_app([("GET", "/", page_)], middleware=True, htmx_event="flash")
    ui.add_static(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        page = await new_page(chromium)
        await page.goto(str(server.make_url("/")))
        await page.wait_for_function("document.querySelector('[data-flashbag]')")
        count: int = await page.evaluate(
            "() => { const items = " + items + ";"
            " document.body.dispatchEvent(new CustomEvent('flash',"
            " {detail: {value: items}})); return items.length; }"
        )
        toasts = page.locator(".flashbag-toast")
        await toasts.nth(count - 1).wait_for(timeout=10_000)
        return toasts
    finally:
        await server.close()


async def test_toasts_take_the_area_s_labels(chromium: Any) -> None:
    """docs/showing-flashes.rst: the labels given to the area (in the
    site's language, say) are the toasts' labels and dismiss button name
    too; a style left out has no label.
    """
    toasts = await toasts_of(
        chromium,
        '[{category: "info", message: "Enregistré"},'
        ' {category: "error", message: "Échec"}]',
        labels={"info": "Info :", "dismiss": "Fermer"},
    )
    info = toasts.filter(has_text="Enregistré")
    error = toasts.filter(has_text="Échec")
    assert await info.locator(".flashbag-label").all_text_contents() == ["Info :"]
    assert await error.locator(".flashbag-label").count() == 0
    for toast_ in (info, error):
        button = toast_.locator("[data-flashbag-dismiss]")
        assert await button.get_attribute("aria-label") == "Fermer"


async def test_a_toast_of_json_data_shows_its_json(chromium: Any) -> None:
    """docs/showing-flashes.rst, "htmx toasts": a message that is JSON data
    other than text (a keyed value's kind of data, flashed as a message)
    shows as its JSON, not as ``[object Object]``.
    """
    toasts = await toasts_of(
        chromium,
        '[{category: "info", message: {items: [1, "two"]}},'
        ' {category: "info", message: ["a", null]},'
        ' {category: "info", message: 5},'
        ' {category: "info", message: "text"}]',
    )
    assert await toasts.locator(".flashbag-text").all_text_contents() == [
        '{"items":[1,"two"]}',
        '["a",null]',
        "5",
        "text",
    ]


async def test_toasts_are_dismissed_by_click_and_by_keyboard(
    chromium: Any,
    htmx_js: bytes,  # noqa: F811
) -> None:
    with example("htmx_app") as url:
        page = await open_with_htmx(chromium, htmx_js, url)
        await add(page, "Bolts")
        await toast(page, "success", "Added Bolts")
        await (
            page.locator(".flashbag-toast")
            .get_by_role("button", name="Dismiss")
            .click()
        )
        assert await page.locator(".flashbag-toast").count() == 0

        await add(page, "")  # an error toast, in the assertive region
        await toast(page, "error", "Name is required")
        assert await page.locator('[role="alert"] .flashbag-toast').count() == 1
        await page.locator("#name").focus()
        await page.keyboard.press("Escape")  # the newest toast goes
        assert await page.locator(".flashbag-toast").count() == 0

        await add(page, "Nuts")
        await add(page, "")
        await toast(page, "error", "Name is required")
        # Tab to a toast's button and press it with the keyboard
        button = page.locator(".flashbag-success .flashbag-dismiss")
        await button.focus()
        await page.keyboard.press("Enter")
        assert await page.locator(".flashbag-toast").count() == 1
        # focus moves to the next toast's button; Escape dismisses that one
        assert await page.evaluate(
            "document.activeElement.classList.contains('flashbag-dismiss')"
        )
        await page.keyboard.press("Escape")
        assert await page.locator(".flashbag-toast").count() == 0
        assert await page.evaluate("window.sameDocument") is True


@pytest.mark.parametrize(
    ("motion", "animation"), [("reduce", "none"), ("no-preference", "flashbag-in")]
)
async def test_reduced_motion_turns_the_animation_off(
    chromium: Any,
    htmx_js: bytes,  # noqa: F811
    motion: str,
    animation: str,
) -> None:
    with example("htmx_app") as url:
        context = await chromium.new_context(reduced_motion=motion)
        await context.route(
            "https://unpkg.com/**",
            lambda route: route.fulfill(
                status=200,
                body=htmx_js,
                headers={
                    "Content-Type": "text/javascript",
                    "Access-Control-Allow-Origin": "*",
                },
            ),
        )
        page = await context.new_page()
        await page.goto(url + "/")
        await page.wait_for_function("window.htmx !== undefined")
        await add(page, "Bolts")
        shown = await toast(page, "success", "Added Bolts")
        name = await shown.evaluate(
            "e => getComputedStyle(e.closest('.flashbag-toast')).animationName"
        )
        assert name == animation


async def test_back_and_forward_show_no_toast_again(
    chromium: Any,
    htmx_js: bytes,  # noqa: F811
) -> None:
    with example("htmx_app") as url:
        page = await open_with_htmx(chromium, htmx_js, url)
        await add(page, "Bolts")
        await toast(page, "success", "Added Bolts")
        await page.click("#other")  # hx-boost: htmx saves the page in its history
        await page.wait_for_url(url + "/about")
        await page.go_back()
        await page.wait_for_url(url + "/")
        await page.locator("#items").wait_for()
        assert await items(page) == ["Bolts"]
        assert await page.evaluate("window.sameDocument") is True  # htmx restored it
        assert await page.locator(".flashbag-message").count() == 0
        await page.go_forward()
        await page.wait_for_url(url + "/about")
        await page.go_back()
        await page.wait_for_url(url + "/")
        await page.locator("#items").wait_for()
        assert await page.locator(".flashbag-message").count() == 0


async def test_a_page_htmx_reloads_for_its_history_keeps_its_new_messages(
    chromium: Any,
    htmx_js: bytes,  # noqa: F811
) -> None:
    # docs/showing-flashes.rst, "History": a page missing from htmx's
    # history cache comes fresh from the server, with the messages that
    # wait for the visitor; they are new, and stay.
    with example("htmx_app") as url:
        page = await open_with_htmx(chromium, htmx_js, url)
        await page.click("#other")  # hx-boost: htmx saves the page in its history
        await page.wait_for_url(url + "/about")
        # a classic post elsewhere (another tab): the flash waits in the session
        await page.evaluate(
            """() => fetch("/items", {method: "POST", redirect: "manual",
                body: new URLSearchParams({name: "Nuts"})})"""
        )
        await page.evaluate("sessionStorage.removeItem('htmx-history-cache')")
        await page.go_back()  # not in the cache: htmx asks the server
        await page.wait_for_url(url + "/")
        await page.locator("#items").wait_for()
        assert await page.evaluate("window.sameDocument") is True  # htmx restored it
        await announced(page, "status", "Added Nuts")
        assert await page.locator(".flashbag-message").count() == 1


# -- axe-core and screenshots --------------------------------------------------


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_axe_finds_nothing_on_the_demo_pages(
    chromium: Any,
    axe_js: str,
    htmx_js: bytes,  # noqa: F811
    scheme: str,
) -> None:
    # every category on the Jinja2 demo, and a screenshot of it
    with example("jinja_app") as url:
        page = await new_page(chromium, color_scheme=scheme, reduced_motion="reduce")
        await page.set_viewport_size({"width": 720, "height": 640})
        await page.goto(url + "/")
        await page.click("#every-kind")
        await announced(page, "alert", "could not be uploaded")
        await page.locator('[role="status"] .flashbag-neutral').nth(1).wait_for()
        assert await page.locator(".flashbag-message").count() == 6
        assert await axe_violations(page, axe_js) == []
        shot = await page.screenshot()
        assert len(shot) > 10_000
        if os.environ.get("FLASHBAG_SCREENSHOTS"):
            (SCREENSHOTS / f"flashbag-{scheme}.png").write_bytes(shot)

    # the other demos, with their messages shown
    with example("form_app") as url:
        page = await new_page(chromium, color_scheme=scheme)
        await page.goto(url + "/")
        await page.click("#submit")
        await announced(page, "alert", "Name is required")
        assert await axe_violations(page, axe_js) == []
    with example("views_app") as url:
        page = await new_page(chromium, color_scheme=scheme)
        await page.goto(url + "/items")
        await page.click("button[type=submit]")
        await announced(page, "alert", "not added")
        assert await axe_violations(page, axe_js) == []
    with example("htmx_app") as url:
        page = await open_with_htmx(chromium, htmx_js, url)
        await page.emulate_media(color_scheme=scheme)
        await add(page, "Bolts")
        await add(page, "")
        await toast(page, "error", "Name is required")
        await toast(page, "success", "Added Bolts")
        assert await axe_violations(page, axe_js) == []
