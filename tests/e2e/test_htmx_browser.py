"""examples/htmx_app.py: flashes as htmx toasts, in real Chromium with real htmx.

The page loads htmx from its public URL. The tests install the same version
of the ``htmx.org`` package from the npm registry into a temporary folder and
serve that file to Chromium in place of the URL (Playwright's ``page.route``),
so the real htmx sends the requests and fires the events. The tests without
the ``browser`` mark drive the example in-process with ``aiohttp_client``.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import pytest

from ..conftest import Client
from ..support.servers import IN_CI, ROOT, example, require_binary


def load_example() -> ModuleType:
    """examples/htmx_app.py as a module, with its ``_serve`` beside it."""
    folder = ROOT / "examples"
    spec = importlib.util.spec_from_file_location("htmx_app", folder / "htmx_app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(folder))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    return module


APP = load_example()
HTMX_VERSION: str = APP.HTMX_VERSION
HTMX_URL: str = APP.HTMX_URL
EVENT: str = APP.FLASH_EVENT


def unavailable(message: str) -> NoReturn:
    """Skip locally, fail in CI (as ``require_binary`` does)."""
    if IN_CI:
        pytest.fail(message + "; CI must run this test")
    pytest.skip(message)


@pytest.fixture(scope="session")
def htmx_js(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """htmx.min.js of the page's pinned version, from the npm registry."""
    npm = require_binary("npm", "npm")
    folder = tmp_path_factory.mktemp("htmx")
    package = f"htmx.org@{HTMX_VERSION}"
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
    dist = Path(folder, "node_modules", "htmx.org", "dist", "htmx.min.js")
    body = dist.read_bytes()
    # The page names the file by its hash, so the browser runs only this one.
    digest = base64.b64encode(hashlib.sha384(body).digest()).decode()
    assert f"sha384-{digest}" == APP.HTMX_INTEGRITY, (
        f"htmx.org@{HTMX_VERSION} from npm does not match HTMX_INTEGRITY"
    )
    return body


# -- in-process, over HTTP ---------------------------------------------------

HX = {"HX-Request": "true"}


@pytest.fixture
async def client(aiohttp_client: Callable[[Any], Awaitable[Client]]) -> Client:
    return await aiohttp_client(APP.make_app())


def toasts(headers: Any) -> list[tuple[str, str]]:
    """The (category, message) pairs of the response's HX-Trigger event."""
    if "HX-Trigger" not in headers:
        return []
    trigger = json.loads(headers["HX-Trigger"])
    assert list(trigger) == [EVENT]
    return [(flash["category"], flash["message"]) for flash in trigger[EVENT]]


async def page_text(client: Client) -> str:
    resp = await client.get("/")
    assert resp.status == 200
    return await resp.text()


async def test_an_htmx_post_sends_the_flash_in_hx_trigger(client: Client) -> None:
    resp = await client.post("/items", data={"name": "Bolts"}, headers=HX)
    assert resp.status == 200
    assert toasts(resp.headers) == [("success", "Added Bolts")]
    assert await resp.text() == '<ul id="items"><li>Bolts</li></ul>'
    assert resp.headers["Vary"] == "HX-Request"
    assert resp.headers["Cache-Control"] == "no-store"  # it showed a flash
    # delivered, so the next page has nothing left to show
    page = await page_text(client)
    assert "flashbag-message" not in page
    assert "<li>Bolts</li>" in page


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "Name is required"),
        ("   ", "Name is required"),
        ("x" * 101, "Name is longer than 100 characters"),
        (" bolts ", "bolts is already on the list"),
    ],
)
async def test_an_htmx_form_error_is_an_error_toast(
    client: Client, name: str, error: str
) -> None:
    await client.post("/items", data={"name": "Bolts"}, headers=HX)
    resp = await client.post("/items", data={"name": name}, headers=HX)
    assert resp.status == 422
    assert toasts(resp.headers) == [("error", error)]
    page = await page_text(client)
    assert "flashbag-message" not in page
    assert page.count("<li>") == 1


async def test_the_longest_name_allowed_is_a_toast(client: Client) -> None:
    name = "\N{GRINNING FACE}" * APP.MAX_NAME
    resp = await client.post("/items", data={"name": name}, headers=HX)
    assert resp.status == 200
    assert toasts(resp.headers) == [("success", f"Added {name}")]
    resp = await client.post("/items", data={"name": name}, headers=HX)
    assert resp.status == 422
    assert toasts(resp.headers) == [("error", f"{name} is already on the list")]


async def test_a_full_list_refuses_more(client: Client) -> None:
    for n in range(APP.MAX_ITEMS):
        resp = await client.post("/items", data={"name": f"item {n}"}, headers=HX)
        assert resp.status == 200
    resp = await client.post("/items", data={"name": "one more"}, headers=HX)
    assert resp.status == 422
    assert toasts(resp.headers) == [("error", "The list is full (100 items)")]


async def test_a_classic_post_redirects_and_the_page_shows_the_flash(
    client: Client,
) -> None:
    resp = await client.post(
        "/items", data={"name": "<b>Nuts</b>"}, allow_redirects=False
    )
    assert resp.status == 303
    assert resp.headers["Location"] == "/"
    assert "HX-Trigger" not in resp.headers
    page = await page_text(client)
    assert '<div class="flashbag-text">Added &lt;b&gt;Nuts&lt;/b&gt;</div>' in page
    assert "<li>&lt;b&gt;Nuts&lt;/b&gt;</li>" in page
    assert "flashbag-message" not in await page_text(client)

    resp = await client.post("/items", data={"name": ""})
    assert resp.url.path == "/"
    page = await resp.text()
    assert '<div class="flashbag-text">Name is required</div>' in page
    assert "flashbag-message" not in await page_text(client)


async def test_a_flash_from_before_the_redirect_goes_to_the_next_htmx_answer(
    client: Client,
) -> None:
    await client.post("/items", data={"name": ""}, allow_redirects=False)
    resp = await client.post("/items", data={"name": "Nuts"}, headers=HX)
    assert toasts(resp.headers) == [
        ("error", "Name is required"),
        ("success", "Added Nuts"),
    ]
    assert "flashbag-message" not in await page_text(client)


FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data; boundary=b"


def part(headers: str, body: bytes) -> bytes:
    return (
        b'--b\r\nContent-Disposition: form-data; name="name"'
        + headers.encode()
        + b"\r\n\r\n"
        + body
        + b"\r\n--b--\r\n"
    )


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "classic"])
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (FORM, b"name=" + b"x" * 100_000),
        (FORM, b"name=a%0D%0ASet-Cookie:%20x=1"),
        (FORM, b"name=%00%01%ff%fe"),
        (FORM, b"name=caf%C3%A9%20%E2%98%95"),
        (FORM, b"name=\xff"),
        (FORM + "; charset=nope", b"name=x"),
        (FORM, b"name=x&name=y&other=" + b"z" * 5000),
        ("application/json", b'{"name": "x"}'),
        (MULTIPART, part("", b"\xff\xfe")),
        (MULTIPART, part("", "sn\u00f6w".encode())),
        (MULTIPART, part("\r\nContent-Type: text/plain; charset=utf-7", b"+2AA-")),
        (MULTIPART, part("\r\nContent-Type: text/plain; charset=nope", b"ab")),
        (MULTIPART, part('; filename="a.txt"', b"file")),
        (MULTIPART, b"garbage"),
        ("multipart/form-data", b"garbage"),
    ],
)
async def test_no_visitor_input_causes_a_5xx(
    client: Client, content_type: str, body: bytes, htmx: bool
) -> None:
    headers = {"Content-Type": content_type, **(HX if htmx else {})}
    resp = await client.post(
        "/items", data=body, headers=headers, allow_redirects=False
    )
    assert resp.status < 500, await resp.text()
    for _category, message in toasts(resp.headers):
        assert message.isprintable()
    cookies = resp.headers.getall("Set-Cookie", [])
    assert not any(cookie.startswith("x=") for cookie in cookies)
    resp = await client.get("/")
    assert resp.status == 200


# -- in Chromium, with the real htmx -----------------------------------------

# flashbag.css, light scheme: --flashbag-success-fg and --flashbag-error-fg
SUCCESS = "rgb(13, 79, 37)"
ERROR = "rgb(138, 20, 20)"


@pytest.fixture
async def browser(chromium: Any) -> Any:
    return chromium


async def new_page(
    browser: Any, htmx_js: bytes | None, *, javascript: bool = True
) -> Any:
    """A page whose requests for htmx's URL get ``htmx_js`` (None: refused)."""
    context = await browser.new_context(java_script_enabled=javascript)

    async def serve_htmx(route: Any) -> None:
        if htmx_js is None:
            await route.abort()
        else:
            await route.fulfill(
                status=200,
                body=htmx_js,
                headers={
                    "Content-Type": "text/javascript; charset=utf-8",
                    "Access-Control-Allow-Origin": "*",
                },
            )

    await context.route(HTMX_URL, serve_htmx)
    return await context.new_page()


async def open_with_htmx(browser: Any, htmx_js: bytes, url: str) -> Any:
    page = await new_page(browser, htmx_js)
    await page.goto(url + "/")
    assert await page.evaluate("window.htmx && htmx.version") == HTMX_VERSION
    await page.evaluate("window.sameDocument = true")
    return page


async def add(page: Any, name: str) -> None:
    await page.fill("#name", name)
    await page.click("#submit")


async def toast(page: Any, category: str, text: str) -> Any:
    """The toast of ``category`` reading ``text``, once it is shown (its
    text's element)."""
    found = page.locator(f".flashbag-toast.flashbag-{category}", has_text=text)
    await found.wait_for(timeout=10_000)
    assert await found.count() == 1
    shown = found.locator(".flashbag-text")
    assert await shown.text_content() == text
    return shown


async def region_role(shown: Any) -> str | None:
    """The role of the live region a toast's text is in."""
    role: str | None = await shown.evaluate(
        "e => e.closest('[aria-live]').getAttribute('role')"
    )
    return role


async def items(page: Any) -> list[str]:
    texts: list[str] = await page.locator("#items li").all_text_contents()
    return texts


async def no_flashes_after_a_reload(page: Any) -> None:
    await page.reload()
    await page.wait_for_function("window.htmx !== undefined")
    assert await page.locator(".flashbag-message").count() == 0


@pytest.mark.browser
async def test_an_htmx_add_shows_a_toast_once(browser: Any, htmx_js: bytes) -> None:
    with example("htmx_app") as url:
        page = await open_with_htmx(browser, htmx_js, url)
        await add(page, "Bolts")
        shown = await toast(page, "success", "Added Bolts")
        assert await shown.evaluate("e => getComputedStyle(e).color") == SUCCESS
        assert await region_role(shown) == "status"
        assert await items(page) == ["Bolts"]  # htmx swapped the list in
        assert await page.input_value("#name") == ""
        assert await page.evaluate("window.sameDocument") is True  # no page load
        assert await page.locator(".flashbag-message:not(.flashbag-toast)").count() == 0

        await add(page, "Nuts")
        await toast(page, "success", "Added Nuts")
        assert await items(page) == ["Bolts", "Nuts"]

        # the next full page load: the list, and no message again
        await no_flashes_after_a_reload(page)
        assert await items(page) == ["Bolts", "Nuts"]


@pytest.mark.browser
async def test_a_form_error_is_an_error_toast(browser: Any, htmx_js: bytes) -> None:
    with example("htmx_app") as url:
        page = await open_with_htmx(browser, htmx_js, url)
        await add(page, "Bolts")
        await toast(page, "success", "Added Bolts")

        await add(page, "")
        shown = await toast(page, "error", "Name is required")
        assert await shown.evaluate("e => getComputedStyle(e).color") == ERROR
        assert await region_role(shown) == "alert"

        too_long = "x" * 101
        await add(page, too_long)
        await toast(page, "error", "Name is longer than 100 characters")
        assert await page.input_value("#name") == too_long  # kept to correct

        await add(page, "bolts")
        await toast(page, "error", "bolts is already on the list")
        assert await items(page) == ["Bolts"]
        assert await page.evaluate("window.sameDocument") is True

        await no_flashes_after_a_reload(page)
        assert await items(page) == ["Bolts"]


@pytest.mark.browser
async def test_a_toast_is_text_never_html(browser: Any, htmx_js: bytes) -> None:
    payload = "<img src=x onerror=window.xss=1>"
    with example("htmx_app") as url:
        page = await open_with_htmx(browser, htmx_js, url)
        await add(page, payload)
        shown = await toast(page, "success", f"Added {payload}")
        assert await shown.locator("img").count() == 0
        assert await items(page) == [payload]

        await add(page, "Café ☕ № 5")  # travels in a header, as JSON
        await toast(page, "success", "Added Café ☕ № 5")
        assert await page.evaluate("typeof window.xss") == "undefined"


@pytest.mark.browser
@pytest.mark.parametrize(
    "without", ["javascript", "htmx"], ids=["javascript-off", "htmx-unreachable"]
)
async def test_the_classic_post_redirect_get_still_works(
    browser: Any, htmx_js: bytes, without: str
) -> None:
    with example("htmx_app") as url:
        if without == "javascript":
            page = await new_page(browser, htmx_js, javascript=False)
        else:
            page = await new_page(browser, None)
        await page.goto(url + "/")
        if without == "htmx":
            assert await page.evaluate("typeof window.htmx") == "undefined"

        await add(page, "Nuts")
        flash = page.locator(".flashbag-success .flashbag-text")
        await flash.wait_for(timeout=10_000)
        assert await flash.text_content() == "Added Nuts"
        assert await items(page) == ["Nuts"]
        assert page.url == url + "/"

        await add(page, "")
        flash = page.locator(".flashbag-error .flashbag-text")
        await flash.wait_for(timeout=10_000)
        assert await flash.text_content() == "Name is required"
        assert await page.locator(".flashbag-message").count() == 1
        assert await page.locator(".flashbag-toast").count() == 0

        await page.reload()
        assert await page.locator(".flashbag-message").count() == 0
        assert await items(page) == ["Nuts"]
