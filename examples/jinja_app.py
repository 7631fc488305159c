"""Jinja2 templates, message categories, and requests that must not eat flashes.

The page shows success, error and info messages with the package's own
template (``flashbag/messages.html``, styled and announced to screen
readers), loads stylesheets, scripts and a favicon, and its script polls an
unscoped JSON endpoint.
None of those requests is a flash scope, so none of them consumes a message.

The info message is ``Markup`` with a link: it comes back as ``Markup`` after
the redirect, so the template renders the link, while the name the visitor
typed, in it and in the plain success message, stays escaped.

    python examples/jinja_app.py [--port 8080]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from _serve import new_secret_key, read_form, serve
from aiohttp import web
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from markupsafe import Markup

import aiohttp_flashbag
from aiohttp_flashbag import context_processor, flash, flashbag_set, with_flashbag
from aiohttp_flashbag.ui import add_static, template_loader

HERE = Path(__file__).resolve().parent
POLLS_KEY = web.AppKey("polls", list)
# JSON (what the session stores) spends up to 12 bytes on a character: the two
# messages with a name this long can take 2,600 bytes, more than the default
# max_bytes (2048) and still within a session cookie (4096).
MAX_NAME = 100
MAX_BYTES = 4096

FAVICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    b'<circle cx="8" cy="8" r="7" fill="#2a7"/></svg>'
)


@with_flashbag
@aiohttp_jinja2.template("index.html")
async def index(request: web.Request) -> dict[str, Any]:
    return {}


@with_flashbag
async def greet(request: web.Request) -> web.Response:
    name = (await read_form(request, "name"))["name"]
    if not name:
        flash(request, "Name is required", "error")
    elif len(name) > MAX_NAME:
        flash(request, f"Name is longer than {MAX_NAME} characters", "error")
        flashbag_set(request, "name", name[:MAX_NAME])  # the form shows it again
    else:
        flash(request, f"Hello, {name}!", "success")  # a str: the template escapes it
        # Markup is kept as safe HTML; format() escapes what is put into it
        link = Markup(
            "Flashes for <b>{}</b> survive the favicon, the stylesheet"
            ' and <a href="/api/poll">the poll</a>.'
        )
        flash(request, link.format(name), "info")
    raise web.HTTPSeeOther("/")


#: One message of each category that flashbag.css styles apart (and two that
#: it shows as neutral), as the "Show every kind" button flashes them.
EVERY_KIND = [
    ("debug", "The form was read in 3 ms."),
    ("info", "Your draft is kept for ten minutes."),
    ("success", "The profile was saved."),
    ("warning", "Your password expires in three days."),
    ("error", "The file could not be uploaded."),
    ("message", "A plain flash(), with Flask's default category."),
]


@with_flashbag
async def every_kind(request: web.Request) -> web.Response:
    for category, text in EVERY_KIND:
        flash(request, text, category)
    raise web.HTTPSeeOther("/")


async def poll(request: web.Request) -> web.Response:
    """Unscoped JSON endpoint the page's script calls: never touches flashes."""
    polls: list[int] = request.app[POLLS_KEY]
    polls.append(1)
    return web.json_response({"polls": len(polls)})


async def favicon(request: web.Request) -> web.Response:
    return web.Response(body=FAVICON, content_type="image/svg+xml")


def make_app() -> web.Application:
    app = web.Application()
    polls: list[int] = []
    app[POLLS_KEY] = polls
    setup_session(app, EncryptedCookieStorage(new_secret_key()))
    aiohttp_flashbag.setup(app, max_bytes=MAX_BYTES)
    aiohttp_jinja2.setup(
        app,
        # the app's templates, then the package's flashbag/messages.html
        loader=jinja2.ChoiceLoader(
            [jinja2.FileSystemLoader(HERE / "templates"), template_loader()]
        ),
        context_processors=[context_processor],
    )
    app.router.add_get("/", index, name="index")
    app.router.add_post("/", greet)
    app.router.add_post("/every-kind", every_kind)
    app.router.add_get("/api/poll", poll)
    app.router.add_get("/favicon.ico", favicon)
    add_static(app)  # flashbag.js and flashbag.css, under /flashbag
    app.router.add_static("/static", HERE / "static", name="static")
    return app


if __name__ == "__main__":
    serve(make_app, "aiohttp_flashbag Jinja2 demo")
