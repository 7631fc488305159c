"""The README's demo: a form, a flash, and post/redirect/get.

POST a name: the handler flashes a success message ("Hello, Ann!") or a form
error ("Name is required") and redirects; the page after the redirect shows
the message once. It is shown with aiohttp_flashbag.ui: styled, announced
to screen readers, dismissible; the favicon and the assets never see it.

    python examples/form_app.py [--port 8080]
"""

from __future__ import annotations

from pathlib import Path

from _serve import new_secret_key, read_form, serve
from aiohttp import web
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from aiohttp_flashbag import flash, with_flashbag
from aiohttp_flashbag.ui import add_static, head_tags, render_flashes

HERE = Path(__file__).resolve().parent
MAX_NAME = 100  # a longer name is refused with a form error

PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>aiohttp_flashbag demo</title>
    {head}
    <link rel="stylesheet" href="/static/site.css">
  </head>
  <body>
    <main>
      <h1>Say hello</h1>
      {flashes}
      <form method="post" action="/">
        <label for="name">Your name</label>
        <input type="text" name="name" id="name" autocomplete="name">
        <button type="submit" id="submit">Say hello</button>
      </form>
    </main>
  </body>
</html>
"""


@with_flashbag
async def form(request: web.Request) -> web.Response:
    page = PAGE.format(head=head_tags(), flashes=render_flashes(request))
    return web.Response(text=page, content_type="text/html")


@with_flashbag
async def submit(request: web.Request) -> web.Response:
    name = (await read_form(request, "name"))["name"]
    if not name:
        flash(request, "Name is required", "error")
    elif len(name) > MAX_NAME:
        flash(request, f"Name is longer than {MAX_NAME} characters", "error")
    else:
        flash(request, f"Hello, {name}!", "success")  # escaped when shown
    raise web.HTTPSeeOther("/")  # post, redirect, get


async def favicon(request: web.Request) -> web.Response:
    """Unscoped: browsers ask for it between the redirect and the page."""
    return web.Response(status=204)


def make_app() -> web.Application:
    app = web.Application()
    setup_session(
        app, EncryptedCookieStorage(new_secret_key(), cookie_name="FORM_SESSION")
    )
    app.router.add_get("/", form)
    app.router.add_post("/", submit)
    app.router.add_get("/favicon.ico", favicon)
    add_static(app)  # flashbag.js and flashbag.css, under /flashbag
    app.router.add_static("/static", HERE / "static")
    return app


if __name__ == "__main__":
    serve(make_app, "aiohttp_flashbag form demo")
