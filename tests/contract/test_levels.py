"""Levels, shortcuts, the minimum level and tags (docs/translations.rst,
"Levels and tags"; docs/coming-from.rst, "Django"), over real HTTP requests,
and what they cost in the stored form.
"""

from __future__ import annotations

import inspect
import json
import logging
from typing import Any

import pytest
from aiohttp import web
from markupsafe import Markup

import aiohttp_flashbag as fb
from aiohttp_flashbag.testing import record_flashes

from ..conftest import COOKIE, Client, CountingStorage, make_app

SHORTCUTS = {
    "debug": (fb.debug, 10),
    "info": (fb.info, 20),
    "success": (fb.success, 25),
    "warning": (fb.warning, 30),
    "error": (fb.error, 40),
}


@fb.with_flashbag
async def page(request: web.Request) -> web.Response:
    """The messages as ``[category, text, level, level_tag, extra_tags, tags,
    str(message)]`` rows."""
    return web.json_response(
        [
            [*m, m.level, m.level_tag, m.extra_tags, m.tags, str(m)]
            for m in fb.get_flashed_messages(request, with_categories=True)
        ]
    )


def session_entry(client: Client) -> Any:
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

    return make_app([("POST", "/flash", flash), ("GET", "/", page)], **settings)


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
    sub.router.add_get("/", page)
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

    app = make_app([("POST", "/flash", flash), ("GET", "/", page)], min_level=min_level)
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
    fb.setup(web.Application(), levels={"notice": 25}, min_level="notice")
    fb.setup(web.Application(), min_level="message")  # Flask's default: 20


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
    entry = session_entry(client)
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
    entry = session_entry(client)
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
        make_app([("GET", "/plant", plant), ("GET", "/", page)], max_age=None)
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
