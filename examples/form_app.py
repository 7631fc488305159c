"""The form from aiohttp-flashbag's first README, with per-handler scopes.

POST an empty name, or one that is too long: the handler flashes an error and
redirects; the next page shows it once. Assets and the favicon never see it.

    python examples/form_app.py [--port 8080]
"""

from __future__ import annotations

import html

from _serve import new_secret_key, read_form, serve
from aiohttp import web
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from aiohttp_flashbag import flashbag_get, flashbag_set, with_flashbag

MAX_NAME = 100  # a longer name is refused with a form error

PAGE = """<!doctype html>
<html>
  <head><title>aiohttp_flashbag demo</title></head>
  <body>
    <form method="POST" action="/">
      <input type="text" name="name" />
      {error}
      <input type="submit" value="Say hello">
    </form>
  </body>
</html>
"""


@with_flashbag
async def form(request: web.Request) -> web.Response:
    error = flashbag_get(request, "error")
    error_html = (
        "" if error is None else f'<span class="error">{html.escape(str(error))}</span>'
    )
    return web.Response(text=PAGE.format(error=error_html), content_type="text/html")


@with_flashbag
async def submit(request: web.Request) -> web.Response:
    name = (await read_form(request, "name"))["name"]
    if not name:
        flashbag_set(request, "error", "Name is required")
        raise web.HTTPSeeOther("/")
    if len(name) > MAX_NAME:
        flashbag_set(request, "error", f"Name is longer than {MAX_NAME} characters")
        raise web.HTTPSeeOther("/")
    return web.Response(
        text=f"<p>Hello, {html.escape(name)}</p>", content_type="text/html"
    )


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
    return app


if __name__ == "__main__":
    serve(make_app, "aiohttp_flashbag form demo")
