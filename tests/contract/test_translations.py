"""docs/translations.rst over real HTTP: lazy messages rendered when read, in
the reader's language, and "Levels and tags".
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import pickle
import re
import time
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
from aiohttp_flashbag._settings import SETTINGS_KEY
from aiohttp_flashbag.testing import record_flashes

from ..conftest import COOKIE, Client, CountingStorage, make_app
from ..support.edges import MARKER, echo, plant
from ..support.pages import redirect_to_show, routes_app, show_incoming, shown

# == Lazy messages =====================================================================
#
# Lazy messages rendered when read, in the reader's language
# (docs/translations.rst), tested as a translated site is used: a real Babel
# catalog in English and German, compiled here from ``.po`` files, and a
# visitor who flashes in one language and reads in the other.


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


async def test_a_translate_that_returns_a_coroutine_is_a_clear_warning(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, recwarn: Any
) -> None:
    """docs/translations.rst, "When rendering fails": a translate that hands
    back an awaitable (a sync wrapper around an async catalog) shows the id
    as written, and the WARNING says why; the coroutine is closed, not left
    for the garbage collector to complain about."""

    async def catalog(message_id: str) -> str:
        return message_id  # pragma: no cover - never awaited

    def translate(
        request: web.Request, message_id: str, parameters: Any, context: str | None
    ) -> str:
        return catalog(message_id)  # type: ignore[return-value]

    def flasher(request: web.Request) -> None:
        fb.flash(request, fb.lazy("Saved {n}", n=1))

    client: Client = await aiohttp_client(site(flasher, translate=translate))
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.post("/flash")
    assert resp.status == 200
    assert await resp.json() == [["message", "Saved {n}", "message"]]
    assert "returned a coroutine" in caplog.text
    assert "synchronous" in caplog.text
    assert not [w for w in recwarn if "never awaited" in str(w.message)]


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


async def test_translations_lazy_id_formats_indexed_fields(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """docs/translations.rst: without ``translate``, the id is formatted with
    its parameters as :meth:`str.format` does, which indexes parameters that
    are objects or arrays (``{user[name]}``, ``{items[0]}``).
    """

    @fb.with_flashbag
    async def save(request: web.Request) -> web.StreamResponse:
        fb.flash(
            request,
            fb.lazy(
                "{user[name]} saved {items[0]} and {items[1][title]!r}",
                user={"name": "Ann"},
                items=["a page", {"title": "a note"}],
            ),
        )
        return redirect_to_show()

    client = await aiohttp_client(routes_app({"/save": save, "/show": show_incoming}))
    await client.post("/save", allow_redirects=False)
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        assert (await shown(client))["messages"] == [
            ["message", "Ann saved a page and 'a note'"]
        ]
    assert not caplog.records


@pytest.mark.parametrize(
    "message_id",
    [
        "{user.__class__}",  # attributes stay out of reach
        "{user[missing]}",
        "{items[5]}",
        "{items[x]}",
        "{user[name][0][1]}",
        "{items[0][0][0][]}",
        "{user[name]x}",
        "{user[name]:>9999}",
        "{items[0]]}",
    ],
)
async def test_translations_lazy_bad_index_shows_the_id(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, message_id: str
) -> None:
    """docs/translations.rst: a field the parameters cannot fill shows the id
    as written with a WARNING naming it; never an error page.
    """

    @fb.with_flashbag
    async def save(request: web.Request) -> web.StreamResponse:
        fb.flash(request, fb.lazy(message_id, user={"name": "A"}, items=["x"]))
        return redirect_to_show()

    client = await aiohttp_client(routes_app({"/save": save, "/show": show_incoming}))
    await client.post("/save", allow_redirects=False)
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        assert (await shown(client))["messages"] == [["message", message_id]]
    assert message_id in caplog.text


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
    # the visitor's hash (a settle also leaves a short-lived "settled:" mark)
    (key,) = [
        k for k in await redis.keys("aiohttp_flashbag:*") if b":settled:" not in k
    ]
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


# == Levels and tags ===================================================================
#
# Levels, shortcuts, the minimum level and tags (docs/translations.rst,
# "Levels and tags"; docs/coming-from.rst, "Django"), over real HTTP requests,
# and what they cost in the stored form.


SHORTCUTS = {
    "debug": (fb.debug, 10),
    "info": (fb.info, 20),
    "success": (fb.success, 25),
    "warning": (fb.warning, 30),
    "error": (fb.error, 40),
}


@fb.with_flashbag
async def levels_page(request: web.Request) -> web.Response:
    """The messages as ``[category, text, level, level_tag, extra_tags, tags,
    str(message)]`` rows."""
    return web.json_response(
        [
            [*m, m.level, m.level_tag, m.extra_tags, m.tags, str(m)]
            for m in fb.get_flashed_messages(request, with_categories=True)
        ]
    )


def stored_entry(client: Client) -> Any:
    """What the session holds for flashes (a SimpleCookieStorage cookie):
    the list inside the stored form's one key."""
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    if COOKIE not in cookie or not cookie[COOKIE].value:
        return None
    data = json.loads(cookie[COOKIE].value)
    stored = data.get("session", {}).get(fb.DEFAULT_SESSION_KEY)
    return None if stored is None else stored["__aiohttp_flashbag__"]


def app_with(flasher: Any, **settings: Any) -> web.Application:
    """``POST /flash`` runs ``flasher(request)`` and redirects to ``GET /``."""

    @fb.with_flashbag
    async def flash(request: web.Request) -> web.Response:
        await flasher(request)
        raise web.HTTPSeeOther("/")

    return make_app([("POST", "/flash", flash), ("GET", "/", levels_page)], **settings)


# -- levels ----------------------------------------------------------------------


def test_the_five_levels_are_djangos_numbers() -> None:
    assert (fb.DEBUG, fb.INFO, fb.SUCCESS, fb.WARNING, fb.ERROR) == (10, 20, 25, 30, 40)


def test_the_shortcuts_take_what_django_s_take() -> None:
    for name, (shortcut, _) in SHORTCUTS.items():
        parameters = inspect.signature(shortcut).parameters
        assert list(parameters) == ["request", "message", "now", "extra_tags"], name
        assert parameters["now"].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters["now"].default is False
        assert parameters["extra_tags"].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters["extra_tags"].default == ""
    flash = inspect.signature(fb.flash).parameters["extra_tags"]
    assert (flash.kind, flash.default) == (inspect.Parameter.KEYWORD_ONLY, "")


async def test_each_shortcut_flashes_its_category_at_its_level(
    aiohttp_client: Any,
) -> None:
    async def flasher(request: web.Request) -> None:
        for name, (shortcut, _) in SHORTCUTS.items():
            shortcut(request, f"a {name} message")
        fb.flash(request, "plain")
        fb.flash(request, "custom", "notice")

    client: Client = await aiohttp_client(app_with(flasher))
    rows = await (await client.post("/flash")).json()
    expected = [
        [name, f"a {name} message", level, name, "", name, f"a {name} message"]
        for name, (_, level) in SHORTCUTS.items()
    ]
    expected += [
        ["message", "plain", 20, "message", "", "message", "plain"],
        ["notice", "custom", 20, "notice", "", "notice", "custom"],
    ]
    assert rows == expected


async def test_the_shortcuts_pass_now_and_extra_tags_on(aiohttp_client: Any) -> None:
    async def flasher(request: web.Request) -> None:
        fb.success(request, "shown once", now=True, extra_tags="toast")
        fb.error(request, "later", extra_tags="sticky")

    client: Client = await aiohttp_client(app_with(flasher))
    # now: for the request that flashed it only, which redirected
    assert await (await client.post("/flash")).json() == [
        ["error", "later", 40, "error", "sticky", "sticky error", "later"]
    ]


async def test_levels_adds_categories_and_overrides_the_five(
    aiohttp_client: Any,
) -> None:
    async def flasher(request: web.Request) -> None:
        fb.flash(request, "n", "notice")
        fb.info(request, "i")
        fb.flash(request, "m")

    app = app_with(flasher, levels={"notice": 35, "info": 15, "message": 5})
    client: Client = await aiohttp_client(app)
    rows = await (await client.post("/flash")).json()
    assert [(row[0], row[2]) for row in rows] == [
        ("notice", 35),
        ("info", 15),
        ("message", 5),
    ]


@pytest.mark.parametrize("levels", [None, {"notice": 35}], ids=["default", "own"])
async def test_a_message_copies_and_pickles_with_its_level_and_tags(
    aiohttp_client: Any, levels: dict[str, int] | None
) -> None:
    """A Message is a tuple: ``copy.deepcopy`` and ``pickle`` (a cache, a
    worker) take it whole, with its extra tags and the level it was read at,
    under the app's own levels too."""
    copies: list[Any] = []

    async def flasher(request: web.Request) -> None:
        fb.flash(request, "n", "notice", extra_tags="sticky")

    @fb.with_flashbag
    async def read(request: web.Request) -> web.Response:
        messages = fb.get_flashed_messages(request, with_categories=True)
        copies.extend([copy.deepcopy(messages), pickle.loads(pickle.dumps(messages))])
        return web.Response()

    app = app_with(flasher, levels=levels)
    app.router.add_get("/read", read)
    client: Client = await aiohttp_client(app)
    await client.post("/flash", allow_redirects=False)
    assert (await client.get("/read")).status == 200
    level = 35 if levels else 20
    for messages in copies:
        assert messages == [("notice", "n")]
        assert [(m.level, m.extra_tags, m.tags) for m in messages] == [
            (level, "sticky", "sticky notice")
        ]


async def test_the_level_is_looked_up_in_the_app_that_reads(
    aiohttp_client: Any,
) -> None:
    """The category is stored; a sub-application with levels of its own
    reads the same message at its level."""

    async def flasher(request: web.Request) -> None:
        fb.flash(request, "careful", "notice")

    parent = app_with(flasher, levels={"notice": 25})
    sub = web.Application()
    fb.setup(sub, levels={"notice": 40})
    sub.router.add_get("/", levels_page)
    parent.add_subapp("/sub", sub)
    client: Client = await aiohttp_client(parent)
    await client.post("/flash", allow_redirects=False)
    rows = await (await client.get("/sub/")).json()
    assert [(row[0], row[2]) for row in rows] == [("notice", 40)]


# -- the minimum level ---------------------------------------------------------------


@pytest.mark.parametrize("min_level", [fb.WARNING, "warning", 26])
async def test_a_message_below_min_level_is_neither_stored_nor_shown(
    aiohttp_client: Any, min_level: int | str
) -> None:
    shown_here: list[Any] = []

    @fb.with_flashbag
    async def flash(request: web.Request) -> web.Response:
        fb.debug(request, "d")
        fb.info(request, "i")
        fb.success(request, "s")
        fb.flash(request, "m")
        fb.warning(request, "w")
        fb.error(request, "e", now=True)
        fb.flash(request, "n", "notice")
        shown_here.extend(fb.get_flashed_messages(request))
        fb.error(request, "e2")
        return web.Response(text="page")

    app = make_app(
        [("POST", "/flash", flash), ("GET", "/", levels_page)], min_level=min_level
    )
    client: Client = await aiohttp_client(app)
    with record_flashes(app) as records:
        await client.post("/flash")
    assert shown_here == ["w", "e"]
    assert records[0].stored.messages == [fb.Message("error", "e2")]
    assert records[0].shown.messages == [
        fb.Message("warning", "w"),
        fb.Message("error", "e"),
    ]


def _simple() -> Any:
    from aiohttp_session import SimpleCookieStorage

    return SimpleCookieStorage()


async def test_a_request_whose_messages_are_all_below_min_level_writes_nothing(
    aiohttp_client: Any,
) -> None:
    async def flasher(request: web.Request) -> None:
        fb.debug(request, "noise")

    counting = CountingStorage(_simple())
    client: Client = await aiohttp_client(
        app_with(flasher, storage=counting.storage, min_level="info")
    )
    resp = await client.post("/flash", allow_redirects=False)
    assert "Set-Cookie" not in resp.headers
    assert counting.saves == 0


async def test_min_level_uses_the_levels_of_the_app_that_flashes(
    aiohttp_client: Any,
) -> None:
    async def flasher(request: web.Request) -> None:
        fb.flash(request, "kept", "notice")
        fb.flash(request, "dropped", "chatter")

    app = app_with(flasher, levels={"notice": 30, "chatter": 5}, min_level="info")
    client: Client = await aiohttp_client(app)
    rows = await (await client.post("/flash")).json()
    assert [row[:2] for row in rows] == [["notice", "kept"]]


async def test_min_level_none_keeps_every_message_even_debug(
    aiohttp_client: Any,
) -> None:
    async def flasher(request: web.Request) -> None:
        fb.debug(request, "d")
        fb.set_level(request, None)
        fb.debug(request, "d2")

    client: Client = await aiohttp_client(app_with(flasher))
    rows = await (await client.post("/flash")).json()
    assert [row[1] for row in rows] == ["d", "d2"]


async def test_set_level_changes_this_request_only(aiohttp_client: Any) -> None:
    levels: list[Any] = []

    @fb.with_flashbag
    async def flash(request: web.Request) -> web.Response:
        levels.append(fb.get_level(request))
        fb.debug(request, "before")  # under min_level="info": dropped
        fb.set_level(request, fb.DEBUG)
        levels.append(fb.get_level(request))
        fb.debug(request, "after")
        fb.set_level(request, "error")
        levels.append(fb.get_level(request))
        fb.warning(request, "too low now")
        fb.set_level(request, None)
        levels.append(fb.get_level(request))
        fb.debug(request, "no minimum")
        raise web.HTTPSeeOther("/")

    @fb.with_flashbag
    async def other(request: web.Request) -> web.Response:
        levels.append(fb.get_level(request))
        fb.debug(request, "dropped again")
        return web.json_response(fb.get_flashed_messages(request))

    app = make_app([("POST", "/flash", flash), ("GET", "/", other)], min_level="info")
    client: Client = await aiohttp_client(app)
    assert await (await client.post("/flash")).json() == ["after", "no minimum"]
    assert levels == [20, 10, 40, None, 20]


async def test_set_level_lasts_into_a_later_scope_of_the_request(
    aiohttp_client: Any,
) -> None:
    """``set_level(request, ...)`` is for the request, not for one scope: an
    error page that an error middleware opens after the handler's scope has
    ended (docs/lifecycle.rst, "Scopes") is the same request, and keeps the
    level the handler set.
    """
    levels: list[Any] = []

    @fb.with_flashbag
    async def page(request: web.Request) -> web.Response:
        fb.set_level(request, fb.DEBUG)  # under min_level="warning"
        raise web.HTTPNotFound()

    @fb.with_flashbag
    async def not_found(request: web.Request) -> web.Response:
        levels.append(fb.get_level(request))
        fb.debug(request, "trace", now=True)
        return web.json_response(fb.get_flashed_messages(request), status=404)

    @web.middleware
    async def error_pages(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPNotFound:
            return await not_found(request)
        return response

    app = make_app([("GET", "/", page)], min_level="warning")
    app.middlewares.append(error_pages)
    client: Client = await aiohttp_client(app)
    assert await (await client.get("/")).json() == ["trace"]
    assert levels == [fb.DEBUG]


async def test_get_level_is_none_without_a_minimum(aiohttp_client: Any) -> None:
    @fb.with_flashbag
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(fb.get_level(request))

    client: Client = await aiohttp_client(make_app([("GET", "/", handler)]))
    assert await (await client.get("/")).json() is None


async def test_set_level_refuses_what_is_not_a_level(aiohttp_client: Any) -> None:
    errors: list[str] = []

    @fb.with_flashbag
    async def handler(request: web.Request) -> web.Response:
        for bad in ("loud", 2.5, True, [10]):
            try:
                fb.set_level(request, bad)  # type: ignore[arg-type]
            except (TypeError, ValueError) as exc:
                errors.append(type(exc).__name__)
        return web.json_response(fb.get_level(request))

    client: Client = await aiohttp_client(make_app([("GET", "/", handler)]))
    assert await (await client.get("/")).json() is None  # unchanged
    assert errors == ["ValueError", "TypeError", "TypeError", "TypeError"]


def test_set_level_and_get_level_need_a_scope() -> None:
    from aiohttp.test_utils import make_mocked_request

    request = make_mocked_request("GET", "/")
    with pytest.raises(RuntimeError, match="with_flashbag"):
        fb.set_level(request, 10)
    with pytest.raises(RuntimeError, match="with_flashbag"):
        fb.get_level(request)


@pytest.mark.parametrize(
    ("settings", "error", "words"),
    [
        ({"levels": [("notice", 25)]}, TypeError, "levels must be a mapping"),
        ({"levels": {"notice": "25"}}, TypeError, "levels\\['notice'\\]"),
        ({"levels": {"notice": True}}, TypeError, "levels\\['notice'\\]"),
        ({"levels": {3: 25}}, TypeError, "a category must be a str"),
        ({"min_level": "loud"}, ValueError, "min_level: 'loud'"),
        ({"min_level": 2.5}, TypeError, "min_level must be"),
        ({"min_level": False}, TypeError, "min_level must be"),
        ({"translate": "de"}, TypeError, "translate must be a callable"),
    ],
)
def test_setup_refuses_bad_settings_up_front(
    settings: dict[str, Any], error: type[Exception], words: str
) -> None:
    app = web.Application()
    with pytest.raises(error, match=words):
        fb.setup(app, **settings)
    assert not any("flashbag" in str(key) for key in app)  # nothing was set


def test_min_level_may_name_a_category_that_levels_adds() -> None:
    added, flask = web.Application(), web.Application()
    fb.setup(added, levels={"notice": 25}, min_level="notice")
    fb.setup(flask, min_level="message")  # Flask's default: 20
    assert added[SETTINGS_KEY].min_level == 25
    assert flask[SETTINGS_KEY].min_level == 20


# -- tags ----------------------------------------------------------------------


def test_a_message_is_the_pair_with_django_s_names() -> None:
    message = fb.Message("error", "Failed", extra_tags="sticky")
    category, text = message
    assert (category, text) == ("error", "Failed")
    assert message == fb.Message("error", "Failed")
    assert tuple(message) == ("error", "Failed")
    same: object = ("error", "Failed")
    assert message == same
    assert hash(message) == hash(("error", "Failed"))
    assert isinstance(message, tuple)
    assert len(message) == 2
    assert message.category == message.level_tag == "error"
    assert message.message == str(message) == "Failed"
    assert (message.level, message.extra_tags, message.tags) == (
        40,
        "sticky",
        "sticky error",
    )
    assert repr(message) == (
        "Message(category='error', message='Failed', extra_tags='sticky')"
    )
    plain = fb.Message("message", {"n": 1})
    assert (plain.tags, plain.extra_tags, str(plain), plain.level) == (
        "message",
        "",
        "{'n': 1}",
        20,
    )
    assert json.dumps(message) == '["error", "Failed"]'
    changed = message._replace(message="Retried")
    assert (changed.message, changed.tags) == ("Retried", "sticky error")


def test_a_message_in_a_template_is_its_text_escaped_unless_markup() -> None:
    from markupsafe import escape

    assert escape(fb.Message("info", "<b>&</b>")) == "&lt;b&gt;&amp;&lt;/b&gt;"
    assert escape(fb.Message("info", Markup("<b>ok</b>"))) == "<b>ok</b>"
    assert escape(fb.Message("info", 3)) == "3"


async def test_extra_tags_travel_with_the_message(aiohttp_client: Any) -> None:
    async def flasher(request: web.Request) -> None:
        fb.flash(request, "Saved", "success", extra_tags="toast dismissible")
        fb.flash(request, "Plain", "success")

    client: Client = await aiohttp_client(app_with(flasher))
    rows = await (await client.post("/flash")).json()
    assert rows == [
        [
            "success",
            "Saved",
            25,
            "success",
            "toast dismissible",
            "toast dismissible success",
            "Saved",
        ],
        ["success", "Plain", 25, "success", "", "success", "Plain"],
    ]


@pytest.mark.parametrize("bad", [None, 3, ["a"], "x\ud800"])
async def test_extra_tags_that_are_not_text_are_refused_naming_the_category(
    aiohttp_client: Any, bad: Any
) -> None:
    errors: list[str] = []

    async def flasher(request: web.Request) -> None:
        try:
            fb.flash(request, "Saved", "success", extra_tags=bad)
        except TypeError as exc:
            errors.append(str(exc))

    client: Client = await aiohttp_client(app_with(flasher))
    assert await (await client.post("/flash")).json() == []  # nothing flashed
    assert len(errors) == 1
    assert "'success'" in errors[0]


# -- what it costs: the stored form ------------------------------------------------


async def test_a_plain_message_is_stored_as_before(aiohttp_client: Any) -> None:
    """``[set_at, category, message]``: not a byte more for levels or tags."""

    async def flasher(request: web.Request) -> None:
        fb.flash(request, "Saved", "success")
        fb.success(request, "Also", extra_tags="")
        fb.flash(request, Markup("<b>Safe</b>"), "info")

    client: Client = await aiohttp_client(
        app_with(flasher, levels={"success": 26}, min_level=10)
    )
    await client.post("/flash", allow_redirects=False)
    entry = stored_entry(client)
    (at,) = {item[0] for item in entry[2]}
    assert entry == [
        2,
        {},
        [
            [at, "success", "Saved"],
            [at, "success", "Also"],
            [at, "info", "<b>Safe</b>", 1],
        ],
    ]


async def test_extra_tags_add_one_json_object_to_that_entry_only(
    aiohttp_client: Any,
) -> None:
    async def flasher(request: web.Request) -> None:
        fb.flash(request, "Saved", "success", extra_tags="toast")
        fb.flash(request, Markup("<b>Safe</b>"), "info", extra_tags="x")
        fb.flash(request, "Plain")

    client: Client = await aiohttp_client(app_with(flasher))
    await client.post("/flash", allow_redirects=False)
    entry = stored_entry(client)
    (at,) = {item[0] for item in entry[2]}
    assert entry[2] == [
        [at, "success", "Saved", {"tags": "toast"}],
        [at, "info", "<b>Safe</b>", 1, {"tags": "x"}],
        [at, "message", "Plain"],
    ]
    rows = await (await client.get("/")).json()
    assert [row[5] for row in rows] == ["toast success", "x info", "message"]


def test_the_size_bound_counts_the_options() -> None:
    """max_bytes measures the stored form (docs/sizes.rst), options included."""
    from aiohttp_flashbag._rule import Flash, size
    from aiohttp_flashbag._stored import encode

    flashes = [
        Flash("v", [1, "a"], 7, False),
        Flash("info", "x", 7, True, options={"tags": "t" * 40}),
        Flash("info", "<b>", 7, True, True, options={"lazy": {"n": [1]}}),
        Flash("info", "plain", 7, True),
    ]
    for flash in flashes:
        flash.own = True
    assert size(flashes).total() == len(json.dumps(encode(flashes)))


@pytest.mark.parametrize(
    "options",
    [{"tags": 3}, {"lazy": [1]}, {"lazy": {}, "context": 2}, {"tags": "\ud800"}],
)
async def test_stored_options_a_write_would_refuse_drop_that_message(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, options: dict[str, Any]
) -> None:
    """Like any stored flash holding what a write would refuse
    (docs/lifecycle.rst, "Bad input and faults")."""

    async def plant(request: web.Request) -> web.Response:
        session = await __import__("aiohttp_session").get_session(request)
        session[fb.DEFAULT_SESSION_KEY] = [
            2,
            {},
            [[1, "info", "bad", options], [1, "info", "good", {"future": True}]],
        ]
        return web.Response(text="planted")

    client: Client = await aiohttp_client(
        make_app([("GET", "/plant", plant), ("GET", "/", levels_page)], max_age=None)
    )
    await client.get("/plant")
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        rows = await (await client.get("/")).json()
    assert [row[1] for row in rows] == ["good"]  # an unknown option is ignored
    assert "would refuse" in caplog.text


class CountingLevels(dict[str, int]):
    """Levels that count how often they are looked up."""

    lookups = 0

    def get(self, key: str, default: Any = None) -> Any:
        CountingLevels.lookups += 1
        return super().get(key, default)


def test_a_plain_message_looks_no_level_up() -> None:
    """The plain path does no new work: levels are looked up only when a
    minimum level is set or a reader asks a message's level."""
    from aiohttp_flashbag._flashbag import Flashbag
    from aiohttp_flashbag._rule import Ending

    bag = Flashbag()
    bag.levels = CountingLevels(fb.Message("x", "y")._levels)
    CountingLevels.lookups = 0
    bag.flash("Saved", "success")
    bag.flash("More")
    messages = bag.get_flashed_messages(with_categories=True)
    assert [m.tags for m in messages] == ["success", "message"]
    bag.close(Ending.PAGE, None)
    assert CountingLevels.lookups == 0
    assert [m.level for m in messages] == [25, 20]
    assert CountingLevels.lookups == 2

    bag = Flashbag()
    bag.levels, bag.min_level = CountingLevels(), 20
    CountingLevels.lookups = 0
    bag.flash("Saved", "success")
    assert CountingLevels.lookups == 1


# == Levels, tags and translations, checked from the outside ===========================
#
# Rules checked from the outside, the way a careless user (or an attacker with a
# cookie) meets them; each test is named after the rule it checks.


# -- levels, tags, translations ------------------------------------------------------


def test_levels_message_is_a_pair_with_django_names() -> None:
    message: Any = fb.Message("error", "Bad")
    assert message == ("error", "Bad")
    assert hash(message) == hash(("error", "Bad"))
    category, text = message
    assert (category, text) == ("error", "Bad")
    assert message.level == 40
    assert message.level_tag == "error"
    assert message.extra_tags == ""
    assert message.tags == "error"
    assert str(message) == "Bad"
    assert str(fb.Message("message", {"a": 1})) == str({"a": 1})


async def test_levels_min_level_by_name_and_set_level(aiohttp_client: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        fb.debug(request, "dbg")
        fb.info(request, "inf")
        fb.warning(request, "warn", extra_tags="big")
        before = fb.get_level(request)
        fb.set_level(request, fb.ERROR)
        fb.warning(request, "warn2")
        fb.error(request, "err")
        messages = fb.get_flashed_messages(request, with_categories=True)
        return web.json_response(
            {
                "before": before,
                "after": fb.get_level(request),
                "messages": [[m.category, m.message, m.tags] for m in messages],
            }
        )

    app = make_app([("GET", "/", handler)], middleware=True, min_level="warning")
    client = await aiohttp_client(app)
    body = await (await client.get("/")).json()
    assert body["before"] == 30
    assert body["after"] == 40
    assert body["messages"] == [
        ["warning", "warn", "big warning"],
        ["error", "err", "error"],
    ]


@pytest.mark.parametrize(
    "bad",
    ["raise", "format", "none"],
    ids=["translate_raises", "bad_format", "returns_none"],
)
async def test_translations_failures_never_an_error_page(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, bad: str
) -> None:
    def translate(request: Any, message_id: str, parameters: Any, context: Any) -> Any:
        if bad == "raise":
            raise LookupError("no catalog")
        if bad == "none":
            return None
        return message_id.format(**parameters)

    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, fb.lazy("Saved {count} items {missing}", count=3))
        raise web.HTTPFound("/read")

    app = make_app(
        [("GET", "/", set_it), ("GET", "/read", echo)],
        middleware=True,
        translate=translate,
        htmx_event="flash",
    )
    client = await aiohttp_client(app)
    with caplog.at_level(logging.WARNING, "aiohttp_flashbag"):
        resp = await client.get("/")
    assert resp.status == 200
    assert (await resp.json())["messages"] == ["Saved {count} items {missing}"]
    assert any("Saved {count}" in r.getMessage() for r in caplog.records)


async def test_levels_custom_levels_override_message_and_min_level(
    aiohttp_client: Any,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        fb.flash(request, "plain")
        fb.flash(request, "notice", "notice")
        messages = fb.get_flashed_messages(request, with_categories=True)
        return web.json_response([[m.category, m.level] for m in messages])

    app = make_app(
        [("GET", "/", handler)],
        middleware=True,
        levels={"message": 5, "notice": 27},
        min_level=10,
    )
    client = await aiohttp_client(app)
    assert await (await client.get("/")).json() == [["notice", 27]]


def test_levels_message_renders_escaped_unless_markup() -> None:
    from markupsafe import Markup, escape

    assert str(escape(fb.Message("error", "<b>"))) == "&lt;b&gt;"
    assert str(escape(fb.Message("error", Markup("<b>")))) == "<b>"


async def test_translations_translate_gets_context_and_htmx_recorder_see_text(
    aiohttp_client: Any,
) -> None:
    calls: list[Any] = []

    def translate(request: Any, message_id: str, parameters: Any, context: Any) -> str:
        calls.append((message_id, parameters, context))
        return "Gespeichert: " + str(parameters["count"])

    async def set_it(request: web.Request) -> web.Response:
        fb.flash(request, fb.lazy("Saved {count}", context="items", count=3))
        raise web.HTTPFound("/htmx")

    async def htmx(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = make_app(
        [("GET", "/", set_it), ("GET", "/htmx", htmx)],
        middleware=True,
        translate=translate,
        htmx_event="flash",
    )
    client = await aiohttp_client(app)
    await client.get("/", allow_redirects=False)
    with record_flashes(app) as records:
        resp = await client.get("/htmx", headers={"HX-Request": "true"})
    detail = json.loads(resp.headers["HX-Trigger"])["flash"]
    assert detail[0]["message"] == "Gespeichert: 3"
    assert ("Saved {count}", {"count": 3}, "items") in calls
    assert records[-1].shown.messages == [("message", "Gespeichert: 3")]


async def test_translations_forged_format_spec_does_not_blow_up_the_page(
    aiohttp_client: Any,
) -> None:
    # Under SimpleCookieStorage the visitor writes the stored bag: a lazy
    # message's id is a format string the server runs.
    app = make_app([("GET", "/", echo)], middleware=True)
    client = await aiohttp_client(app)
    now = int(time.time())
    plant(
        client,
        {
            fb.SESSION_KEY: {
                MARKER: [2, {}, [[now, "message", "{x:>20000000}", {"lazy": {"x": 1}}]]]
            }
        },
    )
    resp = await client.get("/")
    assert resp.status == 200
    assert len(await resp.read()) < 1_000_000


def test_levels_message_compares_hashes_and_serialises_as_pair() -> None:
    import copy
    import pickle

    tagged: Any = fb.Message("info", "x", extra_tags="big")
    assert tagged == ("info", "x")
    assert hash(tagged) == hash(("info", "x"))
    assert tagged.tags == "big info"
    assert json.loads(json.dumps([tagged])) == [["info", "x"]]
    assert copy.deepcopy(tagged).tags == "big info"
    assert pickle.loads(pickle.dumps(tagged)) == ("info", "x")


# == Text enumerations ==


async def test_lazy_ids_and_extra_tags_of_a_str_enumeration_are_their_text(
    aiohttp_client: Any,
) -> None:
    """docs/translations.rst, "Lazy messages" and "Levels and tags": the id
    and ``extra_tags`` are text, and a member of a ``str`` enumeration (a
    catalog of message ids, say) is the text JSON writes for it, as a
    message, a key and a category are: never the member's name.
    """
    import enum

    class Ids(str, enum.Enum):
        SAVED = "Saved {count} items"

    class Tags(str, enum.Enum):
        BIG = "big"

    message = fb.lazy(Ids.SAVED, count=3)
    assert message.message_id == "Saved {count} items"

    async def save(request: web.Request) -> web.StreamResponse:
        fb.flash(request, message, "info", extra_tags=Tags.BIG)
        raise web.HTTPSeeOther("/read")

    async def read(request: web.Request) -> web.Response:
        return web.json_response(
            [
                [m.message, m.tags]
                for m in fb.get_flashed_messages(request, with_categories=True)
            ]
        )

    client: Client = await aiohttp_client(
        make_app([("POST", "/save", save), ("GET", "/read", read)], middleware=True)
    )
    await client.post("/save", allow_redirects=False)
    assert await (await client.get("/read")).json() == [["Saved 3 items", "big info"]]


# == translate: a plain function ==


def test_setup_refuses_an_async_translate_up_front() -> None:
    """docs/translations.rst: ``translate`` returns the finished text when a
    message is read, and reads are synchronous. An ``async def`` translate
    could only return a coroutine that nobody awaits (every lazy message
    shown as its id, with a WARNING per read): ``setup()`` refuses it with
    :exc:`TypeError`, as it refuses a ``translate`` that is not callable.
    """

    async def translate(
        request: web.Request, message_id: str, parameters: Any, context: Any
    ) -> str:
        return message_id

    app = web.Application()
    with pytest.raises(TypeError, match=r"translate.*async def"):
        fb.setup(app, translate=translate)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="translate"):
        fb.setup(app, translate="gettext")  # type: ignore[arg-type]
