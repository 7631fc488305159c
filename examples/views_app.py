"""Class-based views with FlashbagMixin: the two ways a form answers.

A valid form adds the item, flashes "Saved" and redirects: the list shows the
message once. A form with errors is not redirected: the page comes back at
once with status 400, the input, the errors next to the fields, and a message
flashed and shown in this same response (never again on the next page).

    python examples/views_app.py [--port 8080]
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from _serve import new_secret_key, read_form, serve
from aiohttp import web
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from aiohttp_flashbag import FlashbagMixin
from aiohttp_flashbag.ui import add_static, head_tags, render_messages

HERE = Path(__file__).resolve().parent
ITEMS_KEY = web.AppKey("items", list)
# JSON (what the session stores) spends at most 12 bytes on a character, so
# "Saved <name>" stays under max_bytes (2048 by default).
MAX_NAME = 100
QUANTITY = re.compile("[1-9][0-9]{0,2}")

PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Items</title>
    {head}
    <link rel="stylesheet" href="/static/site.css">
  </head>
  <body>
    <main>
      <h1>Items</h1>
      {messages}
      <ul id="items">{items}</ul>
      <form method="post" action="/items">
        <label>Name
          <input name="name" value="{name}"{name_described}>
        </label>{name_error}
        <label>Quantity
          <input name="quantity" value="{quantity}"{quantity_described}>
        </label>{quantity_error}
        <button type="submit">Add</button>
      </form>
    </main>
  </body>
</html>
"""


def field_error(errors: dict[str, str], field: str) -> str:
    if field not in errors:
        return ""
    text = html.escape(errors[field])
    return f'<span class="field-error" id="{field}-error">{text}</span>'


def described(errors: dict[str, str], field: str) -> str:
    """The input names its error, so a screen reader reads it with the field."""
    return f' aria-describedby="{field}-error"' if field in errors else ""


def validate(form: dict[str, str]) -> dict[str, str]:
    errors = {}
    if not form["name"]:
        errors["name"] = "Name is required"
    elif len(form["name"]) > MAX_NAME:
        errors["name"] = f"Name is longer than {MAX_NAME} characters"
    if not QUANTITY.fullmatch(form["quantity"]):
        errors["quantity"] = "Quantity must be a whole number from 1 to 999"
    return errors


class ItemsView(FlashbagMixin, web.View):
    async def get(self) -> web.Response:
        return self.render({"name": "", "quantity": "1"}, {})

    async def post(self) -> web.Response:
        form = await read_form(self.request, "name", "quantity")
        errors = validate(form)
        if errors:  # flashed and shown in this response: no redirect
            self.flashbag.flash("The item was not added: see below", "error")
            return self.render(form, errors, status=400)
        self.request.app[ITEMS_KEY].append((form["name"], int(form["quantity"])))
        self.flashbag.flash(f"Saved {form['name']}", "success")
        raise web.HTTPSeeOther("/items")  # shown once, on the list

    def render(
        self, form: dict[str, str], errors: dict[str, str], status: int = 200
    ) -> web.Response:
        messages = render_messages(
            self.flashbag.get_flashed_messages(with_categories=True)
        )
        items = "".join(
            f"<li>{html.escape(name)} x {quantity}</li>"
            for name, quantity in self.request.app[ITEMS_KEY]
        )
        body = PAGE.format(
            head=head_tags(),
            messages=messages,
            items=items,
            name=html.escape(form["name"], quote=True),
            quantity=html.escape(form["quantity"], quote=True),
            name_error=field_error(errors, "name"),
            quantity_error=field_error(errors, "quantity"),
            name_described=described(errors, "name"),
            quantity_described=described(errors, "quantity"),
        )
        return web.Response(text=body, status=status, content_type="text/html")


async def index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/items")


def make_app() -> web.Application:
    app = web.Application()
    items: list[Any] = []
    app[ITEMS_KEY] = items
    setup_session(app, EncryptedCookieStorage(new_secret_key()))
    app.router.add_get("/", index)
    app.router.add_view("/items", ItemsView)
    add_static(app)  # flashbag.js and flashbag.css, under /flashbag
    app.router.add_static("/static", HERE / "static")
    return app


if __name__ == "__main__":
    serve(make_app, "aiohttp_flashbag class-based views demo")
