"""htmx: add to a list inline, and the flash comes back as a toast.

The add form posts with htmx (``hx-post``) and swaps only the list. The page
has no flash area to render in that fragment, so ``setup(app,
htmx_event="flash")`` sends what the request flashed in the ``HX-Trigger``
response header; htmx fires the ``flash`` event with the messages as
``event.detail.value``, and the package's ``flashbag.js`` shows each as a
toast in the page's flashbag area (aiohttp_flashbag.ui). A name that
fails validation (empty, too long, already listed) comes back as an error
toast with a 422, and the list stays as it was.

Without htmx (JavaScript off, or the script cannot load) the same form posts
the classic way: the handler flashes and redirects, and the page shows the
flash once.

htmx is loaded from its public URL, pinned to one version with its hash.

    python examples/htmx_app.py [--port 8080]
"""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

from _serve import new_secret_key, read_form, serve
from aiohttp import web
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

import aiohttp_flashbag
from aiohttp_flashbag import flash, with_flashbag
from aiohttp_flashbag.ui import add_static, head_tags, render_flashes

HTMX_VERSION = "2.0.11"
HTMX_URL = f"https://unpkg.com/htmx.org@{HTMX_VERSION}/dist/htmx.min.js"
HTMX_INTEGRITY = (
    "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg"
)
FLASH_EVENT = "flash"  # the htmx event that carries the messages
# A longer name is refused with a form error. JSON (what the session stores)
# spends at most 12 bytes on a character, so a message with a name this long
# stays under max_bytes (2048 by default).
MAX_NAME = 100
MAX_ITEMS = 100  # the demo keeps its list in memory: a full list refuses more

HERE = Path(__file__).resolve().parent
ITEMS_KEY = web.AppKey("items", list)

# The answer to an htmx request depends on that header: caches must know.
VARY = {"Vary": "HX-Request"}

PAGE = Template("""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>$title</title>
    $head
    <link rel="stylesheet" href="/static/site.css">
    <script src="$htmx_url" integrity="$htmx_integrity"
            crossorigin="anonymous"></script>
    <script src="/static/htmx_form.js" defer></script>
  </head>
  <body>
    <main>
      <h1>$title</h1>
      <nav><a href="$other_url" id="other" hx-boost="true">$other_title</a></nav>
      $content
    </main>
    $flashes
  </body>
</html>
""")

FORM = Template("""$items
      <form id="add" method="post" action="/items"
            hx-post="/items" hx-target="#items" hx-swap="outerHTML">
        <label for="name">Name (at most $max_name characters)</label>
        <input type="text" name="name" id="name" autocomplete="off">
        <button type="submit" id="submit">Add</button>
      </form>""")

ABOUT = """<p>Add a part on the list page: htmx posts the form, swaps the list
      and shows the message as a toast. Come back here and go back: htmx
      restores the list page from its history, without the toast.</p>"""


def render_items(items: list[str]) -> str:
    lines = "".join(f"<li>{html.escape(item)}</li>" for item in items)
    return f'<ul id="items">{lines}</ul>'


def validate(name: str, items: list[str]) -> str | None:
    """The form error for ``name``, or None when it can be added."""
    if not name:
        return "Name is required"
    if len(name) > MAX_NAME:
        return f"Name is longer than {MAX_NAME} characters"
    if name.casefold() in (item.casefold() for item in items):
        return f"{name} is already on the list"
    if len(items) >= MAX_ITEMS:
        return f"The list is full ({MAX_ITEMS} items)"
    return None


def render_page(
    request: web.Request, title: str, content: str, other: tuple[str, str]
) -> web.Response:
    """A whole page; flashes of a classic post-redirect-get show in it, and
    its flashbag area (outside what htmx swaps) takes the toasts."""
    page = PAGE.substitute(
        title=title,
        head=head_tags(),
        htmx_url=HTMX_URL,
        htmx_integrity=HTMX_INTEGRITY,
        other_url=other[0],
        other_title=other[1],
        content=content,
        flashes=render_flashes(request, toasts=True),
    )
    return web.Response(text=page, content_type="text/html")


@with_flashbag
async def index(request: web.Request) -> web.Response:
    """The list and its form."""
    form = FORM.substitute(
        items=render_items(request.app[ITEMS_KEY]), max_name=MAX_NAME
    )
    return render_page(request, "Parts", form, ("/about", "About this demo"))


@with_flashbag
async def about(request: web.Request) -> web.Response:
    """A second page, reached with hx-boost: htmx keeps the list page in
    its history."""
    return render_page(request, "About", ABOUT, ("/", "Back to the parts"))


@with_flashbag
async def add_item(request: web.Request) -> web.Response:
    """htmx gets the list fragment; a classic form post gets a redirect.

    Either way the handler only flashes: for htmx the flash goes out in the
    HX-Trigger header of this response, otherwise it waits in the session for
    the page after the redirect.
    """
    items: list[str] = request.app[ITEMS_KEY]
    name = (await read_form(request, "name"))["name"]
    error = validate(name, items)
    if error is None:
        items.append(name)
        flash(request, f"Added {name}", "success")
    else:
        flash(request, error, "error")
    if request.headers.get("HX-Request") != "true":
        raise web.HTTPSeeOther("/", headers=VARY)
    return web.Response(
        text=render_items(items),
        content_type="text/html",
        status=200 if error is None else 422,  # htmx swaps nothing on a 4xx
        headers=VARY,
    )


def make_app() -> web.Application:
    app = web.Application()
    items: list[str] = []
    app[ITEMS_KEY] = items
    setup_session(
        app, EncryptedCookieStorage(new_secret_key(), cookie_name="HTMX_SESSION")
    )
    aiohttp_flashbag.setup(app, htmx_event=FLASH_EVENT)
    app.router.add_get("/", index)
    app.router.add_get("/about", about)
    app.router.add_post("/items", add_item)
    add_static(app)  # flashbag.js and flashbag.css, under /flashbag
    app.router.add_static("/static", HERE / "static")
    return app


if __name__ == "__main__":
    serve(make_app, "aiohttp_flashbag htmx demo")
