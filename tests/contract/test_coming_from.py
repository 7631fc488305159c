"""What Django's own tests of ``django.contrib.messages`` check about levels
and tags, restated against this API (docs/coming-from.rst, "Django"): the
level tags, custom tags, ``extra_tags``, ``MESSAGE_LEVEL`` (``min_level``),
``set_level``, the shortcuts, lazy translations; and Django's message loop,
from its documentation, rendered through aiohttp-jinja2 with the same
classes and text.

Django's numbers are these; where Django differs by design (the default
minimum level, the tag of a level, the order of ``add_message``'s
arguments) the test says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import aiohttp_jinja2
import jinja2
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from markupsafe import Markup

import aiohttp_flashbag as fb
from aiohttp_flashbag.testing import record_flashes

from ..conftest import Client, make_app

Flasher = Callable[[web.Request], None]


def sealed() -> EncryptedCookieStorage:
    """A cookie the client cannot forge: Markup is kept (docs/safe-html.rst)."""
    return EncryptedCookieStorage(os.urandom(32))


async def messages_after(
    aiohttp_client: Any, flasher: Flasher, **settings: Any
) -> list[fb.Message]:
    """The messages the next request reads after ``flasher`` ran in one."""
    read: list[fb.Message] = []

    @fb.with_flashbag
    async def add(request: web.Request) -> web.Response:
        flasher(request)
        raise web.HTTPSeeOther("/")

    @fb.with_flashbag
    async def show(request: web.Request) -> web.Response:
        read.extend(fb.get_flashed_messages(request, with_categories=True))
        return web.Response(text="page")

    client: Client = await aiohttp_client(
        make_app(
            [("POST", "/add", add), ("GET", "/", show)], storage=sealed(), **settings
        )
    )
    await client.post("/add")
    return read


def add_all_levels(request: web.Request) -> None:
    """Django's ``add_level_messages``: one message of each level, with one
    of a custom level and extra tags on the debug one."""
    fb.info(request, "A generic info message")
    fb.flash(request, "Some custom level", "custom")
    fb.debug(request, "A debugging message", extra_tags="extra-tag")
    fb.warning(request, "A warning")
    fb.error(request, "An error")
    fb.success(request, "This was a triumph.")


# -- levels --------------------------------------------------------------------------


async def test_default_level(aiohttp_client: Any) -> None:
    """Django's default is INFO, which drops debug messages; here the default
    is no minimum: every message is kept (docs/coming-from.rst)."""
    levels: list[Any] = []

    def flasher(request: web.Request) -> None:
        levels.append(fb.get_level(request))
        add_all_levels(request)

    read = await messages_after(aiohttp_client, flasher)
    assert levels == [None]
    assert len(read) == 6


async def test_low_level(aiohttp_client: Any) -> None:
    levels: list[Any] = []

    def flasher(request: web.Request) -> None:
        fb.set_level(request, 5)
        levels.append(fb.get_level(request))
        fb.flash(request, "A trace", "trace")

    read = await messages_after(
        aiohttp_client, flasher, levels={"trace": 5}, min_level=fb.INFO
    )
    assert levels == [5]
    assert [(m.message, m.level) for m in read] == [("A trace", 5)]


async def test_high_level(aiohttp_client: Any) -> None:
    levels: list[Any] = []

    def flasher(request: web.Request) -> None:
        fb.set_level(request, 30)
        levels.append(fb.get_level(request))
        add_all_levels(request)

    read = await messages_after(aiohttp_client, flasher)
    assert levels == [30]
    assert [m.message for m in read] == ["A warning", "An error"]


async def test_settings_level(aiohttp_client: Any) -> None:
    """``MESSAGE_LEVEL = 29`` is ``setup(app, min_level=29)``."""
    levels: list[Any] = []

    def flasher(request: web.Request) -> None:
        levels.append(fb.get_level(request))
        add_all_levels(request)

    read = await messages_after(aiohttp_client, flasher, min_level=29)
    assert levels == [29]
    assert [m.level for m in read] == [30, 40]


async def test_set_level_lasts_for_the_request_only(aiohttp_client: Any) -> None:
    """Django keeps the level on the request's storage: the next request
    starts from the setting again."""
    levels: list[Any] = []

    @fb.with_flashbag
    async def handler(request: web.Request) -> web.Response:
        levels.append(fb.get_level(request))
        fb.set_level(request, fb.ERROR)
        return web.Response()

    client: Client = await aiohttp_client(
        make_app([("GET", "/", handler)], min_level=fb.SUCCESS)
    )
    await client.get("/")
    await client.get("/")
    assert levels == [25, 25]


# -- tags ----------------------------------------------------------------------------


async def test_tags(aiohttp_client: Any) -> None:
    """Django gives an unknown level the tag ``""``; here the tag is always
    the category, ``"custom"``."""
    read = await messages_after(aiohttp_client, add_all_levels)
    assert [m.tags for m in read] == [
        "info",
        "custom",
        "extra-tag debug",
        "warning",
        "error",
        "success",
    ]


async def test_level_tag(aiohttp_client: Any) -> None:
    read = await messages_after(aiohttp_client, add_all_levels)
    assert [m.level_tag for m in read] == [
        "info",
        "custom",
        "debug",
        "warning",
        "error",
        "success",
    ]


async def test_custom_tags(aiohttp_client: Any) -> None:
    """Django's ``MESSAGE_TAGS`` renames the tag of a level; here a site
    flashes the category it styles, at the level ``levels`` gives it."""

    def flasher(request: web.Request) -> None:
        fb.flash(request, "A generic info message", "info")
        fb.flash(request, "Some custom level", "custom")
        fb.flash(request, "A debugging message", "", extra_tags="extra-tag")
        fb.flash(request, "A warning", "")
        fb.flash(request, "An error", "bad")
        fb.flash(request, "This was a triumph.", "success")

    read = await messages_after(
        aiohttp_client, flasher, levels={"custom": 29, "bad": 40, "": 30}
    )
    assert [m.tags for m in read] == [
        "info",
        "custom",
        "extra-tag",
        "",
        "bad",
        "success",
    ]
    assert [m.level for m in read] == [20, 29, 30, 30, 40, 25]


async def test_extra_tags(aiohttp_client: Any) -> None:
    """``extra_tags`` survive storage, empty ones included."""

    def flasher(request: web.Request) -> None:
        fb.info(request, "no tags")
        fb.info(request, "empty", extra_tags="")
        fb.info(request, "two", extra_tags="one two")

    read = await messages_after(aiohttp_client, flasher)
    assert [m.extra_tags for m in read] == ["", "", "one two"]
    assert [m.tags for m in read] == ["info", "info", "one two info"]


# -- the message ---------------------------------------------------------------------


def test_eq() -> None:
    """Django's Message compares level and text; this one is the pair of
    category and text, whatever the extra tags."""
    assert fb.Message("info", "Test message 1") == fb.Message("info", "Test message 1")
    assert fb.Message("info", "Test message 1") != fb.Message("error", "Test message 1")
    assert fb.Message("info", "Test message 1") != fb.Message("info", "Test message 2")
    assert fb.Message("info", "x", extra_tags="a") == fb.Message("info", "x")


def test_str_is_the_text() -> None:
    assert str(fb.Message("info", "Test message")) == "Test message"
    safe = fb.Message("info", Markup("<b>Hello Django!</b>"))
    assert safe.__html__() == "<b>Hello Django!</b>"


async def test_safedata(aiohttp_client: Any) -> None:
    """Django's ``mark_safe`` message stays safe: here, ``Markup``."""

    def flasher(request: web.Request) -> None:
        fb.error(request, Markup("<b>Hello Django!</b>"))

    (message,) = await messages_after(aiohttp_client, flasher)
    assert isinstance(message.message, Markup)


async def test_add_lazy_translation(aiohttp_client: Any) -> None:
    """``gettext_lazy`` is :func:`~aiohttp_flashbag.lazy`: stored, then
    rendered when read."""

    def translate(
        request: web.Request, message_id: str, parameters: Any, context: Any
    ) -> str:
        return {"lazy message": "message paresseux"}.get(message_id, message_id)

    def flasher(request: web.Request) -> None:
        fb.info(request, fb.lazy("lazy message"))

    read = await messages_after(aiohttp_client, flasher, translate=translate)
    assert read == [fb.Message("info", "message paresseux")]


# -- the shortcuts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shortcut", "category", "level"),
    [
        (fb.debug, "debug", fb.DEBUG),
        (fb.info, "info", fb.INFO),
        (fb.success, "success", fb.SUCCESS),
        (fb.warning, "warning", fb.WARNING),
        (fb.error, "error", fb.ERROR),
    ],
)
async def test_shortcut(
    aiohttp_client: Any, shortcut: Any, category: str, level: int
) -> None:
    """Django's ``messages.debug(request, message, extra_tags="")``."""

    def flasher(request: web.Request) -> None:
        shortcut(request, "Message text", extra_tags="extra")

    (message,) = await messages_after(aiohttp_client, flasher)
    assert (message.category, message.message, message.level) == (
        category,
        "Message text",
        level,
    )
    assert message.tags == f"extra {category}"


def test_add_message_takes_its_arguments_in_another_order() -> None:
    """Django's ``add_message(request, level, message)`` is
    ``flash(request, message, category)`` (docs/coming-from.rst)."""
    import inspect

    assert list(inspect.signature(fb.flash).parameters)[:3] == [
        "request",
        "message",
        "category",
    ]


def test_middleware_missing() -> None:
    """Django raises ``MessageFailure`` without its middleware; here the
    request must be in a scope."""
    request = make_mocked_request("GET", "/")
    for shortcut in (fb.debug, fb.info, fb.success, fb.warning, fb.error):
        with pytest.raises(RuntimeError, match="flashbag_middleware"):
            shortcut(request, "Some message")


# -- Django's template loop, through aiohttp-jinja2 ------------------------------------

#: The loop of Django's documentation ("Displaying messages"), unchanged but
#: for the first line: Jinja2 gets ``messages`` from get_flashed_messages.
DJANGO_LOOP = (
    "{% set messages = get_flashed_messages(with_categories=true) %}"
    "{% if messages %}"
    '<ul class="messages">'
    "{% for message in messages %}"
    '<li{% if message.tags %} class="{{ message.tags }}"{% endif %}>'
    "{{ message }}"
    "</li>"
    "{% endfor %}"
    "</ul>"
    "{% endif %}"
)

#: What Django renders for add_all_levels and the two below: classes
#: and text (the tag of the custom level is its category here).
DJANGO_HTML = (
    '<ul class="messages">'
    '<li class="info">A generic info message</li>'
    '<li class="custom">Some custom level</li>'
    '<li class="extra-tag debug">A debugging message</li>'
    '<li class="warning">A warning</li>'
    '<li class="error">An error</li>'
    '<li class="success">This was a triumph.</li>'
    '<li class="error">&lt;script&gt;alert(1)&lt;/script&gt; &amp; more</li>'
    '<li class="success"><b>Safe</b></li>'
    "</ul>"
)


async def test_django_s_message_loop_renders_the_same_in_jinja2(
    aiohttp_client: Any,
) -> None:
    @fb.with_flashbag
    async def add(request: web.Request) -> web.Response:
        add_all_levels(request)
        fb.error(request, "<script>alert(1)</script> & more")
        fb.success(request, Markup("<b>Safe</b>"))
        raise web.HTTPSeeOther("/")

    @fb.with_flashbag
    @aiohttp_jinja2.template("base.html")
    async def show(request: web.Request) -> dict[str, Any]:
        return {}

    app = make_app([("POST", "/add", add), ("GET", "/", show)], storage=sealed())
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.DictLoader({"base.html": DJANGO_LOOP}),
        autoescape=True,
        context_processors=[fb.context_processor],
    )
    client: Client = await aiohttp_client(app)
    with record_flashes(app):
        resp = await client.post("/add")
    assert await resp.text() == DJANGO_HTML
    assert await (await client.get("/")).text() == ""  # shown once
