"""Class-based views with FlashbagMixin: create an item, redirect, "Saved".

A form with errors redirects back with the errors and the user's input in the
flashbag, so the page refills the form; a valid one adds the item and flashes
"Saved".

    python examples/views_app.py [--port 8080]
"""

from __future__ import annotations

import html
from typing import Any

from _serve import new_secret_key, serve
from aiohttp import web
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from aiohttp_flashbag import FlashbagMixin

ITEMS_KEY = web.AppKey("items", list)

PAGE = """<!doctype html>
<html>
  <head><title>Items</title></head>
  <body>
    {messages}
    <ul id="items">{items}</ul>
    <form method="post" action="/items">
      <label>Name <input name="name" value="{name}"></label>{name_error}
      <label>Quantity <input name="quantity" value="{quantity}"></label>{quantity_error}
      <button type="submit">Add</button>
    </form>
  </body>
</html>
"""


def field_error(errors: dict[str, str], field: str) -> str:
    if field not in errors:
        return ""
    return f'<span class="error" id="{field}-error">{html.escape(errors[field])}</span>'


def validate(form: dict[str, str]) -> dict[str, str]:
    errors = {}
    if not form["name"].strip():
        errors["name"] = "Name is required"
    if not form["quantity"].isdigit() or int(form["quantity"]) < 1:
        errors["quantity"] = "Quantity must be a whole number above 0"
    return errors


class ItemsView(FlashbagMixin, web.View):
    async def get(self) -> web.Response:
        errors: dict[str, str] = self.flashbag.get("errors", {})
        form: dict[str, str] = self.flashbag.get("form", {"name": "", "quantity": "1"})
        messages = "".join(
            f'<p class="{html.escape(category)}">{html.escape(message)}</p>'
            for category, message in self.flashbag.get_flashed_messages(
                with_categories=True
            )
        )
        items = "".join(
            f"<li>{html.escape(name)} x {quantity}</li>"
            for name, quantity in self.request.app[ITEMS_KEY]
        )
        body = PAGE.format(
            messages=messages,
            items=items,
            name=html.escape(form["name"], quote=True),
            quantity=html.escape(form["quantity"], quote=True),
            name_error=field_error(errors, "name"),
            quantity_error=field_error(errors, "quantity"),
        )
        return web.Response(text=body, content_type="text/html")

    async def post(self) -> web.Response:
        post = await self.request.post()
        form = {field: str(post.get(field, "")) for field in ("name", "quantity")}
        errors = validate(form)
        if errors:
            self.flashbag.set("errors", errors)
            self.flashbag.set("form", form)
        else:
            self.request.app[ITEMS_KEY].append(
                (form["name"].strip(), int(form["quantity"]))
            )
            self.flashbag.flash(f"Saved {form['name'].strip()}", "success")
        raise web.HTTPSeeOther("/items")


async def index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/items")


def make_app() -> web.Application:
    app = web.Application()
    items: list[Any] = []
    app[ITEMS_KEY] = items
    setup_session(app, EncryptedCookieStorage(new_secret_key()))
    app.router.add_get("/", index)
    app.router.add_view("/items", ItemsView)
    return app


if __name__ == "__main__":
    serve(make_app, "aiohttp_flashbag class-based views demo")
