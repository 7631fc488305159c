"""The shipped way to show flashes (docs/showing-flashes.rst): the Jinja2
template and the plain-Python renderer give the same markup, escape text and
keep safe HTML, style by level, and the static files are served."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import aiohttp_jinja2
import jinja2
import pytest
from aiohttp import web
from markupsafe import Markup

import aiohttp_flashbag as fb
from aiohttp_flashbag import Message, ui
from aiohttp_flashbag.testing import record_flashes

from ..conftest import Client, make_app


class Tagged(NamedTuple):
    """A message with Django's names, as ``Message`` offers them."""

    category: str
    message: Any
    level: int
    level_tag: str
    tags: str


MESSAGES: list[Any] = [
    Message("success", "Saved <b>"),
    Message("error", Markup('Failed. <a href="/retry">Retry</a>')),
    Message("info", "Info & more"),
    Message("warning", 'Careful "quotes"'),
    Message("debug", "Debugging"),
    Message("message", "Plain"),
    Message('x" onclick="alert(1)', "Odd category"),
    Message("error", {"not": "text"}),
    ("success", "a plain pair"),
    Tagged("critical", "Custom level", 50, "error", "urgent error"),
    Tagged("notice", "Tagged", 20, "notice", "sticky notice"),
]

OPTIONS: list[dict[str, Any]] = [
    {},
    {"htmx_event": "flash"},
    {"htmx_event": 'ev"<', "toasts": True, "timeout": 5000},
    {"labels": {"error": "Erreur :", "success": ""}},
    {"labels": {"info": 'Info "<', "dismiss": "Fermer"}, "htmx_event": "flash"},
]


def env() -> jinja2.Environment:
    return jinja2.Environment(loader=ui.template_loader(), autoescape=True)


def by_template(messages: list[Any], **options: Any) -> str:
    template = env().from_string(
        '{% from "flashbag/messages.html" import flash_messages %}'
        "{{ flash_messages(messages, **options) }}"
    )
    return template.render(messages=messages, options=options)


def compact(markup: str) -> str:
    return re.sub(r">\s+<", "><", markup.strip())


@pytest.mark.parametrize("options", OPTIONS, ids=str)
@pytest.mark.parametrize("count", [0, 1, len(MESSAGES)])
def test_the_template_and_the_renderer_agree(
    options: dict[str, Any], count: int
) -> None:
    messages = MESSAGES[:count]
    python = ui.render_messages(messages, **options)
    assert isinstance(python, Markup)
    assert compact(by_template(messages, **options)) == compact(python)


def test_live_regions_are_there_with_no_messages() -> None:
    html = ui.render_messages([])
    assert 'role="status" aria-live="polite"' in html
    assert 'role="alert" aria-live="assertive"' in html
    assert "flashbag-message" not in html
    assert "data-flashbag-pending" not in html


def test_text_is_escaped_and_markup_kept() -> None:
    html = ui.render_messages(MESSAGES)
    assert '<div class="flashbag-text">Saved &lt;b&gt;</div>' in html
    assert 'Failed. <a href="/retry">Retry</a>' in html
    assert "Careful &#34;quotes&#34;" in html
    assert "onclick" not in html.replace("x&#34; onclick=&#34;", "")
    assert "{&#39;not&#39;: &#39;text&#39;}" in html
    html = ui.render_messages([], htmx_event='"><script>')
    assert "<script>" not in html


def messages_of(html: str) -> list[tuple[str, str, str]]:
    """(classes, level, label) of each message."""
    return re.findall(
        r'<div class="flashbag-message ([^"]*)" data-flashbag-level="(\d+)">'
        r'(?:<strong class="flashbag-label">([^<]*)</strong>)?',
        html,
    )


def test_styles_levels_and_labels() -> None:
    assert messages_of(ui.render_messages(MESSAGES)) == [
        ("flashbag-success success", "25", "Success:"),
        ("flashbag-error error", "40", "Error:"),
        ("flashbag-info info", "20", "Info:"),
        ("flashbag-warning warning", "30", "Warning:"),
        ("flashbag-neutral debug", "10", ""),
        ("flashbag-neutral message", "20", ""),
        ("flashbag-neutral x&#34; onclick=&#34;alert(1)", "20", ""),
        ("flashbag-error error", "40", "Error:"),
        ("flashbag-success success", "25", "Success:"),
        ("flashbag-error urgent error", "50", "Error:"),
        ("flashbag-neutral sticky notice", "20", ""),
    ]


def test_the_dismiss_button_has_a_name_and_waits_for_the_script() -> None:
    html = ui.render_messages([Message("error", "x")])
    assert (
        '<button type="button" class="flashbag-dismiss" data-flashbag-dismiss'
        ' aria-label="Dismiss" hidden>'
    ) in html


def test_labels_name_the_dismiss_button_and_reach_the_script() -> None:
    """docs/showing-flashes.rst: ``labels`` replace the visible labels and,
    under ``"dismiss"``, the button's name; the area carries them to the
    script's toasts (a style left out has no label there either).
    """
    labels = {"error": "Erreur :", "dismiss": "Fermer"}
    html = ui.render_messages([Message("error", "x")], labels=labels)
    opening = html[: html.index(">")]
    assert 'data-flashbag-label-error="Erreur :"' in opening
    assert 'data-flashbag-label-success=""' in opening
    assert 'data-flashbag-label-dismiss="Fermer"' in opening
    assert 'aria-label="Fermer"' in html
    assert "Dismiss" not in html
    # Without labels, the defaults: the script has them too.
    assert "data-flashbag-label" not in ui.render_messages([])


def test_head_tags() -> None:
    assert ui.head_tags() == (
        '<link rel="stylesheet" href="/flashbag/flashbag.css">'
        '<script src="/flashbag/flashbag.js" defer></script>'
    )
    assert 'href="/assets/flashbag.css"' in ui.head_tags("/assets/")


async def test_add_static_serves_the_files(aiohttp_client: Any) -> None:
    app = make_app([], middleware=True)
    ui.add_static(app)
    ui.add_static(app, "/elsewhere", name="other")
    client: Client = await aiohttp_client(app)
    for prefix in ("/flashbag", "/elsewhere"):
        resp = await client.get(prefix + "/flashbag.js")
        assert resp.status == 200
        assert resp.content_type in {"text/javascript", "application/javascript"}
        assert "htmx:historyRestore" in await resp.text()
        resp = await client.get(prefix + "/flashbag.css")
        assert resp.status == 200
        assert resp.content_type == "text/css"
        assert "prefers-color-scheme: dark" in await resp.text()


def test_the_assets_need_no_inline_code_and_no_third_party() -> None:
    script = (ui.STATIC / "flashbag.js").read_text()
    style = (ui.STATIC / "flashbag.css").read_text()
    assert len(script.encode()) < 10_000
    assert ".style" not in script
    assert 'setAttribute("style"' not in script
    assert "innerHTML" not in script  # messages are text, never HTML
    assert "://" not in script + style  # nothing loaded from elsewhere
    assert "@import" not in style
    assert "url(" not in style


async def test_render_flashes_shows_the_messages_once(aiohttp_client: Any) -> None:
    async def save(request: web.Request) -> web.Response:
        fb.flash(request, "Saved", "success")
        raise web.HTTPSeeOther("/")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=ui.render_flashes(request), content_type="text/html")

    async def outside(request: web.Request) -> web.Response:
        return web.Response(text=ui.render_flashes(request), content_type="text/html")

    app = make_app(
        [
            ("POST", "/save", fb.with_flashbag(save)),
            ("GET", "/", fb.with_flashbag(page)),
            ("GET", "/outside", outside),
        ],
        htmx_event="flash",
    )
    client: Client = await aiohttp_client(app)
    with record_flashes(app) as records:
        await client.post("/save", allow_redirects=False)
        html = await (await client.get("/outside")).text()
        assert "flashbag-message" not in html
        assert 'data-flashbag-event="flash"' in html
        resp = await client.get("/")
        html = await resp.text()
        assert '<div class="flashbag-text">Saved</div>' in html
        assert resp.headers["Cache-Control"] == "no-store"
        assert "flashbag-message" not in await (await client.get("/")).text()
    assert records[-2].shown.messages == [Message("success", "Saved")]


async def test_the_template_included_with_the_context_processor(
    aiohttp_client: Any,
) -> None:
    loader = jinja2.DictLoader(
        {
            "page.html": '<main>{% include "flashbag/messages.html" %}</main>',
            "import.html": '{% from "flashbag/messages.html" import flash_messages %}'
            "<main></main>",
        }
    )

    async def save(request: web.Request) -> web.Response:
        fb.flash(request, "Saved", "success")
        fb.flash(request, "Broken", "error")
        raise web.HTTPSeeOther(request.query.get("to", "/"))

    @fb.with_flashbag
    @aiohttp_jinja2.template("page.html")
    async def page(request: web.Request) -> dict[str, Any]:
        return {"flashbag_htmx_event": "flash", "flashbag_toasts": True}

    @fb.with_flashbag
    @aiohttp_jinja2.template("import.html")
    async def imported(request: web.Request) -> dict[str, Any]:
        return {}

    app = make_app(
        [
            ("POST", "/save", fb.with_flashbag(save)),
            ("GET", "/", page),
            ("GET", "/import", imported),
        ],
        unread="keep",
    )
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.ChoiceLoader([loader, ui.template_loader()]),
        context_processors=[fb.context_processor],
    )
    client: Client = await aiohttp_client(app)
    await client.post("/save", data={}, allow_redirects=False)
    # a template that only imports the macro reads nothing: nothing shown
    assert "Saved" not in await (await client.get("/import")).text()
    html = await (await client.get("/")).text()
    expected = ui.render_messages(
        [Message("success", "Saved"), Message("error", "Broken")],
        htmx_event="flash",
        toasts=True,
    )
    assert compact(html) == compact(f"<main>{expected}</main>")
    assert "Saved" not in await (await client.get("/")).text()


# == Messages without their categories ==


@pytest.mark.parametrize("options", OPTIONS[:2], ids=str)
def test_messages_read_without_categories_render_as_their_text(
    options: dict[str, Any],
) -> None:
    """docs/showing-flashes.rst, "The markup": the area shows a message's
    text. Given what ``get_flashed_messages(request)`` returns without
    ``with_categories=True`` (the text alone, an easy slip), the renderer
    and the template show each text whole, in the default category, escaped
    or kept as ``Markup``: never one letter as the category and the next as
    the text.
    """
    messages: list[Any] = ["Saved <b>", "x", Markup("<a href='/undo'>Undo</a>")]
    python = ui.render_messages(messages, **options)
    assert compact(by_template(messages, **options)) == compact(python)
    texts = re.findall(r'<div class="flashbag-text">(.*?)</div>', python)
    assert texts == ["Saved &lt;b&gt;", "x", "<a href='/undo'>Undo</a>"]
    assert python.count('class="flashbag-message flashbag-neutral message"') == 3


@pytest.mark.parametrize("options", OPTIONS[:2], ids=str)
def test_messages_of_other_json_data_read_without_categories_render_whole(
    options: dict[str, Any],
) -> None:
    """docs/showing-flashes.rst, "The markup": a message may be any JSON
    data; read without ``with_categories=True``, each is its text alone,
    shown whole in the default category: a mapping, a number or ``None`` is
    no error, and a two-item list is not taken for a (category, message)
    pair.
    """
    messages: list[Any] = [{"not": "a pair"}, ["error", "<b>"], 5, None, True]
    python = ui.render_messages(messages, **options)
    assert compact(by_template(messages, **options)) == compact(python)
    texts = re.findall(r'<div class="flashbag-text">(.*?)</div>', python)
    assert texts == [
        "{&#39;not&#39;: &#39;a pair&#39;}",
        "[&#39;error&#39;, &#39;&lt;b&gt;&#39;]",
        "5",
        "None",
        "True",
    ]
    assert python.count('class="flashbag-message flashbag-neutral message"') == 5


# == The script: any event name ==


@pytest.mark.parametrize("event", ["flash", "constructor", "toString", 'say "hi"'])
async def test_the_script_shows_toasts_of_any_event_name(
    aiohttp_server: Any, chromium: Any, event: str
) -> None:
    """docs/showing-flashes.rst, "htmx": ``flashbag.js`` shows the messages
    of the ``htmx_event`` the area names as toasts, whatever the name
    (``setup(app, htmx_event=...)`` takes any non-empty text), in real
    Chromium. The event is fired as htmx fires it: a ``CustomEvent`` on the
    page whose detail holds the list in ``value``.
    """

    async def page(request: web.Request) -> web.Response:
        return web.Response(
            text=f"<!doctype html><html><head><title>t</title>{ui.head_tags()}"
            f"</head><body>{ui.render_messages([], htmx_event=event)}</body></html>",
            content_type="text/html",
        )

    app = web.Application()
    ui.add_static(app)
    app.router.add_get("/", page)
    server = await aiohttp_server(app)
    browser = await chromium.new_context()
    tab = await browser.new_page()
    await tab.goto(str(server.make_url("/")))
    await tab.wait_for_function("document.readyState === 'complete'")
    await tab.evaluate(
        """(name) => document.body.dispatchEvent(new CustomEvent(name, {
            bubbles: true,
            detail: {value: [{category: "success", message: "Saved", level: 25,
                              tags: "success"}]}}))""",
        event,
    )
    toast = tab.locator('[role="status"] .flashbag-toast', has_text="Saved")
    await toast.wait_for(timeout=10_000)
    assert await toast.count() == 1
