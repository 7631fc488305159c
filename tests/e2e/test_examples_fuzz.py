"""The examples against whatever a visitor can type, in process.

Every form field of every example gets 10,000 characters, odd unicode, control
characters and bytes that are not UTF-8 (percent-encoded lone surrogates among
them), in each way a form can be sent; the post, its redirects and the pages
loaded after it never answer 5xx. Then the two flows the examples show beside
the redirect: the 400 re-render of views_app, and the Markup link of jinja_app.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from aiohttp import web
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ..conftest import Client
from ..support.servers import ROOT


@dataclass(frozen=True)
class Form:
    example: str
    action: str
    fields: tuple[str, ...]
    pages: tuple[str, ...]  # what a visitor opens after the post
    valid: tuple[tuple[str, str], ...] = (("name", "Ann"),)
    headers: tuple[tuple[str, str], ...] = ()  # sent with the post

    @property
    def id(self) -> str:
        return self.example + "".join(f"-{k}" for k, _ in self.headers)


FORMS = [
    Form("form_app", "/", ("name",), ("/", "/favicon.ico", "/")),
    Form(
        "views_app",
        "/items",
        ("name", "quantity"),
        ("/", "/items"),
        (("name", "Bolts"), ("quantity", "3")),
    ),
    Form(
        "jinja_app",
        "/",
        ("name",),
        ("/api/poll", "/favicon.ico", "/static/site.css", "/", "/"),
    ),
    Form("redis_app", "/", ("name",), ("/api/poll", "/", "/")),
    Form("htmx_app", "/items", ("name",), ("/", "/")),
    Form(
        "htmx_app", "/items", ("name",), ("/", "/"), headers=(("HX-Request", "true"),)
    ),
]

OpenExample = Callable[[str], Awaitable[Client]]


@pytest.fixture
def open_example(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    aiohttp_client: Any,
) -> OpenExample:
    """Builds ``examples/NAME.py``'s app and gives a client with a cookie jar."""
    monkeypatch.syspath_prepend(str(ROOT / "examples"))

    async def open_(name: str) -> Client:
        module = importlib.import_module(name)
        if name == "redis_app":
            port = request.getfixturevalue("redis_port")
            monkeypatch.setattr(module, "REDIS_URL", f"redis://127.0.0.1:{port}/3")
        app: web.Application | Awaitable[web.Application] = module.make_app()
        if inspect.isawaitable(app):
            app = await app
        client: Client = await aiohttp_client(app)
        return client

    return open_


# -- what a visitor can send -------------------------------------------------

NOT_UTF8 = [
    b"\xed\xa0\x80",  # a lone high surrogate, as UTF-8 would spell it
    b"\xed\xbf\xbf",  # a lone low surrogate
    b"\xff",
    b"\xc3",  # half a character
    b"\xc0\xaf",  # an overlong "/"
    b"\xf4\x90\x80\x80",  # past U+10FFFF
    b"\\ud800",  # a lone surrogate once decoded as raw_unicode_escape
]
LONG = [b"x", "é".encode(), "😀".encode(), b"\x00", b"\xed\xa0\x80", b"<"]
CHARSETS = [None, "utf-8", "latin-1", "utf-16", "raw_unicode_escape", "nonsense"]

piece = st.one_of(
    st.text(max_size=20).map(str.encode),  # any unicode, control characters too
    st.text(st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Co"]), max_size=8).map(
        str.encode
    ),
    st.sampled_from(NOT_UTF8),
    st.binary(max_size=6),
)


@st.composite
def typed(draw: st.DrawFn) -> bytes:
    """What one field holds: pieces, and 10,000 characters more half the time."""
    value = b"".join(draw(st.lists(piece, max_size=4)))
    if draw(st.booleans()):
        value += draw(st.sampled_from(LONG)) * 10_000
    return value


def urlencoded(fields: dict[str, bytes], charset: str | None) -> tuple[bytes, str]:
    body = "&".join(f"{k}={quote_from_bytes(v, safe='')}" for k, v in fields.items())
    return body.encode(), content_type("application/x-www-form-urlencoded", charset)


def raw(fields: dict[str, bytes], charset: str | None) -> tuple[bytes, str]:
    """Bytes as they are, not percent-encoded, as a broken client sends them."""
    body = b"&".join(k.encode() + b"=" + v for k, v in fields.items())
    return body, content_type("application/x-www-form-urlencoded", charset)


def multipart(fields: dict[str, bytes], charset: str | None) -> tuple[bytes, str]:
    boundary = b"fuzz-boundary-7d1f3a"
    body = b"".join(
        b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n'
        b"Content-Type: %s\r\n\r\n%s\r\n"
        % (boundary, k.encode(), content_type("text/plain", charset).encode(), v)
        for k, v in fields.items()
    )
    mime = "multipart/form-data; boundary=" + boundary.decode()
    return body + b"--%s--\r\n" % boundary, mime


def content_type(mime: str, charset: str | None) -> str:
    return mime if charset is None else f"{mime}; charset={charset}"


ENCODINGS = [urlencoded, raw, multipart]


async def visit(
    client: Client, form: Form, body: bytes, mime: str, follow: bool = True
) -> list[tuple[str, int]]:
    """Post, follow the redirects, open the next pages: (url, status) of each."""
    seen: list[tuple[str, int]] = []
    async with client.post(
        form.action,
        data=body,
        headers={**dict(form.headers), "Content-Type": mime},
        allow_redirects=follow,
    ) as resp:
        await resp.read()
        seen += [(f"{r.method} {r.url.path}", r.status) for r in resp.history]
        seen.append((f"{resp.method} {resp.url.path}", resp.status))
    for path in form.pages:
        async with client.get(path) as resp:
            await resp.read()
            seen.append((f"GET {path}", resp.status))
    return seen


# -- the fuzz test -------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS, ids=[f.id for f in FORMS])
@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
@example(data=None)  # one visitor, every field at 10,000 characters, first
async def test_nothing_typed_makes_a_5xx(
    form: Form, open_example: OpenExample, data: st.DataObject | None
) -> None:
    client = await open_example(form.example)
    try:
        if data is None:
            fields = dict.fromkeys(form.fields, b"\xed\xa0\x80" + b"x" * 10_000)
            encode, charset, follow = urlencoded, None, True
        else:
            fields = {name: data.draw(typed(), label=name) for name in form.fields}
            encode = data.draw(st.sampled_from(ENCODINGS), label="encoding")
            charset = data.draw(st.sampled_from(CHARSETS), label="charset")
            follow = data.draw(st.booleans(), label="follow the redirect")
        body, mime = encode(fields, charset)
        seen = await visit(client, form, body, mime, follow)
        # the same visitor sends a valid form next: it still works
        body, mime = urlencoded({k: v.encode() for k, v in form.valid}, None)
        seen += await visit(client, form, body, mime)
    finally:
        await client.close()
    assert all(status < 500 for _, status in seen), seen
    assert seen[-len(form.pages) - 1][1] == 200, seen  # the valid form's page


def test_every_example_is_fuzzed() -> None:
    examples = {p.stem for p in (ROOT / "examples").glob("[!_]*.py")}
    assert examples == {form.example for form in FORMS}


TOO_LONG = {
    "name": "Name is longer than 100 characters",
    "quantity": "Quantity must be a whole number from 1 to 999",
}


@pytest.mark.parametrize(
    ("form", "field"),
    [(form, field) for form in FORMS for field in form.fields],
    ids=[f"{form.id}-{field}" for form in FORMS for field in form.fields],
)
async def test_ten_thousand_characters_get_a_form_error(
    form: Form, field: str, open_example: OpenExample
) -> None:
    client = await open_example(form.example)
    data = {**dict(form.valid), field: "9" * 10_000}
    async with client.post(form.action, data=data, headers=dict(form.headers)) as r:
        assert r.status < 500
        assert TOO_LONG[field] in (await r.text()) + r.headers.get("HX-Trigger", "")


@pytest.mark.parametrize("form", FORMS, ids=[f.id for f in FORMS])
async def test_the_longest_name_allowed_is_shown(
    form: Form, open_example: OpenExample
) -> None:
    """100 characters that JSON spells in 12 bytes each still fit the budget."""
    client = await open_example(form.example)
    name = "\N{GRINNING FACE}" * 100
    data = {**dict(form.valid), "name": name}
    async with client.post(form.action, data=data, headers=dict(form.headers)) as r:
        assert r.status == 200
        assert name in await r.text()


# -- the flows shown beside the redirect -----------------------------------------


async def test_views_app_re_renders_a_form_with_errors_with_status_400(
    open_example: OpenExample,
) -> None:
    client = await open_example("views_app")
    async with client.post("/items", data={"name": "", "quantity": "2<"}) as resp:
        page = await resp.text()
        assert resp.status == 400
        assert resp.history == ()  # no redirect: the page answers the post
    # the message flashed in this request is shown in this request's page
    assert (
        '<strong class="flashbag-label">Error:</strong>'
        '<div class="flashbag-text">The item was not added: see below</div>'
    ) in page
    assert '<span class="field-error" id="name-error">Name is required</span>' in page
    assert 'name="quantity" value="2&lt;"' in page  # the input, escaped

    async with client.get("/items") as resp:  # and never again
        page = await resp.text()
        assert resp.status == 200
    assert "not added" not in page
    assert "field-error" not in page

    async with client.post("/items", data={"name": "Nuts", "quantity": "4"}) as resp:
        page = await resp.text()
        assert [r.status for r in resp.history] == [303]  # the redirect flow
    assert '<div class="flashbag-text">Saved Nuts</div>' in page
    assert "<li>Nuts x 4</li>" in page
    async with client.get("/items") as resp:
        assert "Saved" not in await resp.text()


async def test_jinja_app_renders_a_markup_link_and_escapes_the_name(
    open_example: OpenExample,
) -> None:
    client = await open_example("jinja_app")
    async with client.post("/", data={"name": "<i>Ann</i>"}) as resp:
        page = await resp.text()
        assert [r.status for r in resp.history] == [303]
    # the Markup message keeps its link after the redirect; the name inside
    # it was escaped when the message was made
    assert (
        '<div class="flashbag-text">Flashes for <b>&lt;i&gt;Ann&lt;/i&gt;</b>'
        ' survive the favicon, the stylesheet and <a href="/api/poll">the poll</a>.'
        "</div>"
    ) in page
    # the plain str message is escaped by the template
    assert '<div class="flashbag-text">Hello, &lt;i&gt;Ann&lt;/i&gt;!</div>' in page
    assert "<i>Ann" not in page
    async with client.get("/") as resp:
        assert "the poll</a>" not in await resp.text()
