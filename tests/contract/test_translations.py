"""Lazy messages rendered when read, in the reader's language
(docs/translations.rst), tested as a translated site is used: a real Babel
catalog in English and German, compiled here from ``.po`` files, and a
visitor who flashes in one language and reads in the other.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
import pytest
from aiohttp import web
from babel import Locale, negotiate_locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.support import Translations
from markupsafe import Markup

import aiohttp_flashbag as fb
from aiohttp_flashbag.testing import record_flashes

from ..conftest import COOKIE, Client, make_app

#: language -> babel.support.Translations
Catalogs = dict[str, Any]

#: msgid, msgctxt, German
GERMAN = [
    ("Saved {count} items", None, "{count} Einträge gespeichert"),
    ("Open", "verb", "Öffnen"),
    ("Open", "adjective", "Offen"),
    ("Welcome, {name}!", None, "Willkommen, {name}!"),
    ("<b>{what}</b> deleted", None, "<b>{what}</b> gelöscht"),
]


def compile_catalog(directory: Path, language: str, entries: list[Any]) -> None:
    """``directory/<language>/LC_MESSAGES/messages.mo`` from a ``.po`` file."""
    from babel.messages.pofile import read_po, write_po

    catalog = Catalog(locale=Locale.parse(language), domain="messages")
    for message_id, context, text in entries:
        catalog.add(message_id, text, context=context)
    folder = directory / language / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.po").open("wb") as po:
        write_po(po, catalog)
    with (folder / "messages.po").open("rb") as po:
        parsed = read_po(po, locale=language, domain="messages")
    with (folder / "messages.mo").open("wb") as mo:
        write_mo(mo, parsed)


@pytest.fixture
def catalogs(tmp_path: Path) -> Catalogs:
    compile_catalog(tmp_path, "de", GERMAN)
    compile_catalog(tmp_path, "en", [(m, c, "") for m, c, _ in GERMAN])
    return {
        language: Translations.load(str(tmp_path), [language], "messages")
        for language in ("en", "de")
    }


def babel_translate(catalogs: Catalogs) -> Any:
    """A ``translate`` as a site writes one: the ``lang`` cookie, else
    ``Accept-Language``, picks the catalog."""

    def translate(
        request: web.Request,
        message_id: str,
        parameters: dict[str, Any],
        context: str | None,
    ) -> str:
        wanted = [request.cookies.get("lang", "")] + [
            part.split(";")[0].strip()
            for part in request.headers.get("Accept-Language", "").split(",")
        ]
        language = negotiate_locale([w for w in wanted if w], list(catalogs), sep="-")
        catalog = catalogs[language or "en"]
        if context is None:
            text = catalog.gettext(message_id)
        else:
            text = catalog.pgettext(context, message_id)
        return str(text.format(**parameters))

    return translate


@fb.with_flashbag
async def page(request: web.Request) -> web.Response:
    return web.json_response(
        [[*m, m.tags] for m in fb.get_flashed_messages(request, with_categories=True)]
    )


def site(flasher: Any, **settings: Any) -> web.Application:
    """``POST /flash`` runs ``flasher`` and redirects to ``GET /``."""

    @fb.with_flashbag
    async def flash(request: web.Request) -> web.Response:
        flasher(request)
        raise web.HTTPSeeOther("/")

    return make_app([("POST", "/flash", flash), ("GET", "/", page)], **settings)


def session_entry(client: Client) -> Any:
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    data = json.loads(cookie[COOKIE].value)
    return data["session"][fb.DEFAULT_SESSION_KEY]["__aiohttp_flashbag__"]


GERMAN_READER = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
ENGLISH_READER = {"Accept-Language": "en-GB,en;q=0.9"}


# -- lazy() ------------------------------------------------------------------------


def test_lazy_takes_the_id_then_named_parameters() -> None:
    message = fb.lazy("Saved {count} items", count=3)
    assert isinstance(message, fb.LazyMessage)
    assert (message.message_id, message.context, message.parameters) == (
        "Saved {count} items",
        None,
        {"count": 3},
    )
    assert repr(fb.lazy("Open", context="verb")) == "lazy('Open', context='verb')"
    assert fb.lazy("a {x}", x=[1]) == fb.lazy("a {x}", x=(1,))  # stored as JSON


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: fb.lazy(3), "message id must be a str"),  # type: ignore[arg-type]
        (lambda: fb.lazy("x", context=3), "context must be a str"),  # type: ignore[arg-type]
        (lambda: fb.lazy("x {when}", when=object()), "JSON data"),
        (lambda: fb.lazy("x {n}", n=float("nan")), "JSON data"),
        (lambda: fb.lazy("x {s}", s={1, 2}), "JSON data"),
        (lambda: fb.lazy("x \ud800"), "valid Unicode"),
    ],
)
def test_lazy_refuses_what_cannot_be_stored(call: Any, words: str) -> None:
    with pytest.raises(TypeError, match=words):
        call()


async def test_a_lazy_message_is_a_message_only(aiohttp_client: Any) -> None:
    errors: list[str] = []

    @fb.with_flashbag
    async def handler(request: web.Request) -> web.Response:
        writes: list[Callable[[], None]] = [
            # a type checker refuses them too
            lambda: fb.flashbag_set(request, "notice", fb.lazy("Saved")),  # type: ignore[arg-type]
            lambda: fb.flashbag_append(request, "notes", fb.lazy("Saved")),  # type: ignore[arg-type]
            lambda: fb.flashbag_replace_all(request, {"all": fb.lazy("Saved")}),  # type: ignore[dict-item]
            lambda: fb.flash(request, [fb.lazy("Saved")], "list"),  # type: ignore[list-item]
        ]
        for write in writes:
            try:
                write()
            except TypeError as exc:
                errors.append(str(exc))
        return web.json_response(fb.get_flashbag(request).outgoing.values)

    client: Client = await aiohttp_client(make_app([("GET", "/", handler)]))
    assert await (await client.get("/")).json() == {}
    assert len(errors) == 4
    for error, key in zip(errors, ["notice", "notes", "all", "list"], strict=True):
        assert repr(key) in error


# -- rendered when read --------------------------------------------------------------


async def test_without_translate_the_id_is_formatted_when_read(
    aiohttp_client: Any,
) -> None:
    def flasher(request: web.Request) -> None:
        fb.flash(request, fb.lazy("Saved {count} items", count=3), "success")
        fb.info(request, fb.lazy("Welcome, {name}!", name="Zoë"), extra_tags="big")

    client: Client = await aiohttp_client(site(flasher))
    assert await (await client.post("/flash")).json() == [
        ["success", "Saved 3 items", "success"],
        ["info", "Welcome, Zoë!", "big info"],
    ]


async def test_stored_as_the_id_the_context_and_the_parameters(
    aiohttp_client: Any, catalogs: Catalogs
) -> None:
    def flasher(request: web.Request) -> None:
        fb.flash(request, fb.lazy("Saved {count} items", count=3))
        fb.flash(request, fb.lazy("Open", context="verb"), extra_tags="x")
        fb.flash(request, "plain")

    app = site(flasher, translate=babel_translate(catalogs))
    client: Client = await aiohttp_client(app)
    resp = await client.post("/flash", headers=GERMAN_READER, allow_redirects=False)
    assert resp.status == 303
    entry = session_entry(client)
    (at,) = {item[0] for item in entry[2]}
    assert entry[2] == [
        [at, "message", "Saved {count} items", {"lazy": {"count": 3}}],
        [at, "message", "Open", {"tags": "x", "lazy": {}, "context": "verb"}],
        [at, "message", "plain"],
    ]
    assert "gespeichert" not in json.dumps(entry)  # never as text


async def test_a_visitor_who_switches_to_german_reads_german(
    aiohttp_client: Any, catalogs: Catalogs
) -> None:
    def flasher(request: web.Request) -> None:
        fb.success(request, fb.lazy("Saved {count} items", count=3))
        fb.flash(request, fb.lazy("Open", context="verb"))
        fb.flash(request, fb.lazy("Open", context="adjective"))

    client: Client = await aiohttp_client(
        site(flasher, translate=babel_translate(catalogs))
    )
    resp = await client.post("/flash", headers=ENGLISH_READER, allow_redirects=False)
    assert resp.status == 303
    resp = await client.get("/", headers=GERMAN_READER)  # the visitor switched
    assert await resp.json() == [
        ["success", "3 Einträge gespeichert", "success"],
        ["message", "Öffnen", "message"],
        ["message", "Offen", "message"],
    ]

    # and back, with the language cookie this time
    await client.post("/flash", headers=GERMAN_READER, allow_redirects=False)
    client.session.cookie_jar.update_cookies({"lang": "en"})
    resp = await client.get("/", headers=GERMAN_READER)
    assert [row[1] for row in await resp.json()] == ["Saved 3 items", "Open", "Open"]


async def test_this_request_reads_its_own_lazy_messages_in_its_language(
    aiohttp_client: Any, catalogs: Catalogs
) -> None:
    @fb.with_flashbag
    async def form(request: web.Request) -> web.Response:
        fb.error(request, fb.lazy("Welcome, {name}!", name="Ann"), now=True)
        return web.json_response(fb.get_flashed_messages(request))

    app = make_app([("GET", "/", form)], translate=babel_translate(catalogs))
    client: Client = await aiohttp_client(app)
    assert await (await client.get("/", headers=GERMAN_READER)).json() == [
        "Willkommen, Ann!"
    ]


async def test_a_catalog_without_the_id_renders_the_formatted_id(
    aiohttp_client: Any, catalogs: Catalogs
) -> None:
    def flasher(request: web.Request) -> None:
        fb.flash(request, fb.lazy("Deleted {n} rows", n=2))

    client: Client = await aiohttp_client(
        site(flasher, translate=babel_translate(catalogs))
    )
    resp = await client.post("/flash", headers=GERMAN_READER)
    assert [row[1] for row in await resp.json()] == ["Deleted 2 rows"]


def failing_translate(
    request: web.Request, message_id: str, parameters: Any, context: str | None
) -> str:
    if message_id.startswith("Broken"):
        raise LookupError("the catalog is gone")
    if message_id.startswith("Number"):
        return 42  # type: ignore[return-value]
    return message_id.format(**parameters)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (fb.lazy("Broken {n}", n=1), "LookupError: the catalog is gone"),
        (fb.lazy("Number"), "TypeError: translate returned a int"),
        (fb.lazy("Missing {n}"), "KeyError: 'n'"),
        # only named fields format; a translate of its own may fail otherwise
        (fb.lazy("Positional {}"), "(Value|Index)Error"),
        (fb.lazy("Unbalanced {"), "ValueError"),
    ],
    ids=["raises", "not-text", "missing-parameter", "positional", "bad-format"],
)
@pytest.mark.parametrize(
    "translate", [None, failing_translate], ids=["format", "translate"]
)
async def test_rendering_never_makes_an_error_page(
    aiohttp_client: Any,
    caplog: pytest.LogCaptureFixture,
    message: fb.LazyMessage,
    error: str,
    translate: Any,
) -> None:
    if translate is None and error.startswith(("LookupError", "TypeError")):
        error = ""  # only the catalog fails so; the id formats

    def flasher(request: web.Request) -> None:
        fb.flash(request, message)

    client: Client = await aiohttp_client(site(flasher, translate=translate))
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.post("/flash")
    assert resp.status == 200
    rows = await resp.json()
    if not error:
        assert rows == [["message", message.message_id.format(n=1), "message"]]
        return
    assert rows == [["message", message.message_id, "message"]]  # as written
    assert repr(message.message_id) in caplog.text
    assert re.search(error, caplog.text), caplog.text


async def test_a_lazy_message_is_plain_text(
    aiohttp_client: Any, catalogs: Catalogs, tmp_path: Path
) -> None:
    """Escaped when rendered, whatever the catalog holds or the id was."""
    templates = {
        "page.html": (
            "{% for m in get_flashed_messages(with_categories=true) %}"
            "<li>{{ m }}|{{ m.message }}</li>{% endfor %}"
        )
    }

    @fb.with_flashbag
    async def show(request: web.Request) -> web.Response:
        return aiohttp_jinja2.render_template("page.html", request, {})

    def flasher(request: web.Request) -> None:
        fb.flash(request, fb.lazy("<b>{what}</b> deleted", what="<i>x</i>"))
        fb.flash(request, fb.lazy(Markup("<em>{n}</em>"), n=1))

    app = site(flasher, translate=babel_translate(catalogs))
    app.router.add_get("/show", show)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.DictLoader(templates),
        autoescape=True,
        context_processors=[fb.context_processor],
    )
    client: Client = await aiohttp_client(app)
    await client.post("/flash", headers=GERMAN_READER, allow_redirects=False)
    text = await (await client.get("/show", headers=GERMAN_READER)).text()
    german = "&lt;b&gt;&lt;i&gt;x&lt;/i&gt;&lt;/b&gt; gelöscht"
    em = "&lt;em&gt;1&lt;/em&gt;"
    assert text == f"<li>{german}|{german}</li><li>{em}|{em}</li>"


# -- everything that reads sees rendered text ----------------------------------------


async def test_htmx_gets_the_text_in_the_reader_s_language(
    aiohttp_client: Any, catalogs: Catalogs
) -> None:
    @fb.with_flashbag
    async def fragment(request: web.Request) -> web.Response:
        fb.success(request, fb.lazy("Saved {count} items", count=2), extra_tags="t")
        return web.Response(text="<li>row</li>")

    app = make_app(
        [("POST", "/frag", fragment)],
        translate=babel_translate(catalogs),
        htmx_event="flash",
    )
    client: Client = await aiohttp_client(app)
    resp = await client.post("/frag", headers={"HX-Request": "true", **GERMAN_READER})
    assert json.loads(resp.headers["HX-Trigger"]) == {
        "flash": [
            {
                "category": "success",
                "message": "2 Einträge gespeichert",
                "level": 25,
                "tags": "t success",
            }
        ]
    }


async def test_the_recorder_sees_rendered_text(
    aiohttp_client: Any, catalogs: Catalogs
) -> None:
    def flasher(request: web.Request) -> None:
        fb.flash(request, fb.lazy("Saved {count} items", count=1), "success")

    app = site(flasher, translate=babel_translate(catalogs))
    client: Client = await aiohttp_client(app)
    with record_flashes(app) as records:
        await client.post("/flash", headers=GERMAN_READER)
    posted, shown = records
    assert posted.stored.messages == [fb.Message("success", "1 Einträge gespeichert")]
    assert shown.shown.messages == [fb.Message("success", "1 Einträge gespeichert")]
    assert shown.stored.messages == []


async def test_templates_see_rendered_text(
    aiohttp_client: Any, catalogs: Catalogs
) -> None:
    @fb.with_flashbag
    @aiohttp_jinja2.template("list.html")
    async def listing(request: web.Request) -> dict[str, Any]:
        return {}

    def flasher(request: web.Request) -> None:
        fb.flash(request, fb.lazy("Open", context="verb"))

    app = site(flasher, translate=babel_translate(catalogs))
    app.router.add_get("/list", listing)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.DictLoader({"list.html": "{{ get_flashed_messages()|tojson }}"}),
        context_processors=[fb.context_processor],
    )
    client: Client = await aiohttp_client(app)
    await client.post("/flash", allow_redirects=False)
    resp = await client.get("/list", headers=GERMAN_READER)
    assert json.loads(await resp.text()) == ["Öffnen"]


@pytest.fixture
def german_catalogs(tmp_path: Path) -> Catalogs:
    compile_catalog(tmp_path, "de", GERMAN)
    return {"de": Translations.load(str(tmp_path), ["de"], "messages")}


async def test_the_redis_store_keeps_lazy_messages_and_tags(
    aiohttp_client: Any,
    redis_port: int,
    german_catalogs: Catalogs,
) -> None:
    from redis import asyncio as aioredis

    from aiohttp_flashbag.stores import RedisFlashStore

    redis = aioredis.Redis(host="127.0.0.1", port=redis_port, db=9)
    await redis.flushdb()

    def flasher(request: web.Request) -> None:
        fb.warning(request, fb.lazy("Saved {count} items", count=5), extra_tags="x")
        fb.flash(request, "plain")

    app = site(
        flasher,
        store=RedisFlashStore(redis),
        translate=babel_translate(german_catalogs),
    )
    client: Client = await aiohttp_client(app)
    await client.post("/flash", allow_redirects=False)
    (key,) = await redis.keys("aiohttp_flashbag:*")
    fields: dict[Any, Any] = await redis.hgetall(key)
    # a field holds "version|entry"
    held = sorted(
        json.loads(v.split(b"|", 1)[1])[1:] for f, v in fields.items() if f[:1] == b"m"
    )
    assert held == [
        ["message", "plain"],
        ["warning", "Saved {count} items", {"tags": "x", "lazy": {"count": 5}}],
    ]
    resp = await client.get("/", headers=GERMAN_READER)
    assert await resp.json() == [
        ["warning", "5 Einträge gespeichert", "x warning"],
        ["message", "plain", "message"],
    ]
    await redis.aclose()


async def test_a_lazy_message_changed_after_lazy_is_checked_when_flashed(
    aiohttp_client: Any,
) -> None:
    errors: list[str] = []

    @fb.with_flashbag
    async def handler(request: web.Request) -> web.Response:
        message = fb.lazy("At {when}", when="noon")
        message.parameters["when"] = object()  # type: ignore[assignment]
        try:
            fb.warning(request, message)
        except TypeError as exc:
            errors.append(str(exc))
        return web.json_response(fb.get_flashed_messages(request))

    client: Client = await aiohttp_client(make_app([("GET", "/", handler)]))
    assert await (await client.get("/")).json() == []
    assert len(errors) == 1
    assert "'warning'" in errors[0]
