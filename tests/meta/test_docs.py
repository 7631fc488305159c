"""The documentation builds, and every code block in it runs.

Each ``.. code-block::`` of README.rst and docs/*.rst that a test runs is
preceded by a comment naming that test (``.. test: test_tutorial``). The
blocks that name one test are joined in the order they appear; the test gets
them through the ``doc`` fixture, runs them and drives the application they
define with a real assertion about flashes. Every Python block must name a
test, and every test named must take ``doc``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp_session import SimpleCookieStorage, get_session
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from aiohttp_flashbag import Message
from aiohttp_flashbag.testing import record_flashes

from ..conftest import Client

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.rst"
PAGES = [README, *sorted(DOCS.glob("*.rst"))]

# A ``.. test: name`` comment, then the code block it names.
LABELLED = re.compile(
    r"^\.\. test: (?P<test>\w+)\n\n?"
    r"\.\. code-block:: (?P<language>[\w+-]+)\n\n"
    r"(?P<body>(?:(?: {4}.*)?\n)+)",
    re.M,
)
ANY_BLOCK = re.compile(r"^\.\. code-block:: (?P<language>[\w+-]+)$", re.M)


def documented_names_missing() -> list[str]:
    """The names docs/api.rst documents that the library does not have yet."""
    try:
        stores = importlib.import_module("aiohttp_flashbag.stores")
    except ImportError:
        return ["aiohttp_flashbag.stores"]
    return [] if hasattr(stores, "RedisFlashStore") else ["RedisFlashStore"]


# Waiting for the part of the library these tests run.
WAITING = pytest.mark.xfail(
    bool(documented_names_missing()),
    strict=False,
    reason="docs/concurrency.rst and docs/api.rst document "
    "aiohttp_flashbag.stores.RedisFlashStore",
)


@dataclass(frozen=True)
class Block:
    page: str
    test: str
    language: str
    code: str


def blocks() -> list[Block]:
    found = []
    for page in PAGES:
        for match in LABELLED.finditer(page.read_text()):
            code = textwrap.dedent(match["body"]).strip("\n") + "\n"
            found.append(Block(page.name, match["test"], match["language"], code))
    return found


@dataclass
class Doc:
    """The code blocks that name one test."""

    test: str

    def code(self, language: str = "python") -> str:
        code = "\n\n".join(
            block.code
            for block in blocks()
            if block.test == self.test and block.language == language
        )
        assert code, f"no {language} block names {self.test}"
        return code

    def run(self, namespace: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run the Python blocks; what they defined."""
        namespace = {} if namespace is None else namespace
        exec(compile(self.code(), f"<docs: {self.test}>", "exec"), namespace)
        return namespace


@pytest.fixture
def doc(request: pytest.FixtureRequest) -> Doc:
    return Doc(request.function.__name__)


def cookie_session(app: web.Application) -> web.Application:
    setup_session(app, EncryptedCookieStorage(os.urandom(32)))
    return app


# -- the blocks: every one runs -------------------------------------------------


def test_every_python_block_names_its_test() -> None:
    for page in PAGES:
        text = page.read_text()
        python = [m.start() for m in ANY_BLOCK.finditer(text) if m[1] == "python"]
        labelled = {
            m.start("language") - len(".. code-block:: ")
            for m in LABELLED.finditer(text)
        }
        unnamed = [text.count("\n", 0, at) + 1 for at in python if at not in labelled]
        assert not unnamed, f"{page.name}: blocks at lines {unnamed} name no test"


def test_every_test_named_runs_its_blocks() -> None:
    named = {block.test for block in blocks()}
    assert named
    for test in named:
        function = globals().get(test)
        assert callable(function), f"the docs name {test}, which does not exist"
        assert "doc" in inspect.signature(function).parameters, test


# README.rst


async def test_readme_quickstart(doc: Doc, aiohttp_client: Any) -> None:
    client: Client = await aiohttp_client(doc.run()["app"])
    first = await client.get("/")
    assert "<p>" not in await first.text()
    assert "Set-Cookie" not in first.headers  # nothing to show: no session
    resp = await client.post("/", data={"name": ""}, allow_redirects=False)
    assert resp.status == 303
    assert "<p>Name is required.</p>" in await (await client.get("/")).text()
    assert "<p>" not in await (await client.get("/")).text()
    resp = await client.post("/", data={"name": "<Ann>"})  # follows the redirect
    assert "<p>Saved &lt;Ann&gt;.</p>" in await resp.text()


# docs/index.rst


async def test_index(doc: Doc, aiohttp_client: Any) -> None:
    names = doc.run()
    app = cookie_session(web.Application())
    app.router.add_get("/", names["page"])
    app.router.add_post("/save", names["save"])
    client: Client = await aiohttp_client(app)
    resp = await client.post("/save")
    assert await resp.json() == [["success", "Saved."]]
    assert await (await client.get("/")).json() == []


# docs/tutorial.rst


async def test_tutorial(doc: Doc, aiohttp_client: Any) -> None:
    client: Client = await aiohttp_client(doc.run()["app"])
    first = await client.get("/")
    assert first.status == 200
    assert "flash" not in await first.text()
    assert "Set-Cookie" not in first.headers

    with record_flashes() as records:
        resp = await client.post("/", data={"name": "Tea"}, allow_redirects=False)
        assert resp.status == 303
        assert (await client.get("/favicon.ico")).status == 204  # no scope
        page = await client.get("/")
        assert '<p class="flash success">Saved Tea.</p>' in await page.text()
        assert "Saved" not in await (await client.get("/")).text()
    assert [(r.method, r.status) for r in records] == [
        ("POST", 303),
        ("GET", 200),
        ("GET", 200),
    ]
    assert records[0].stored.messages == [Message("success", "Saved Tea.")]
    assert records[1].stored.messages == []

    resp = await client.post("/", data={"name": " "})
    assert resp.status == 400
    text = await resp.text()
    assert '<p class="flash error">Please give a name.</p>' in text
    assert "Please give a name." not in await (await client.get("/")).text()


async def test_tutorial_redirect_back(doc: Doc, aiohttp_client: Any) -> None:
    names = Doc("test_tutorial").run()
    client: Client = await aiohttp_client(doc.run(names)["app"])
    resp = await client.post("/edit", data={"name": "x" * 21})
    assert await resp.text() == f"That name is too long. [{'x' * 21}]"
    assert await (await client.get("/edit")).text() == " []"


# docs/lifecycle.rst


async def test_unread_keep(doc: Doc, aiohttp_client: Any) -> None:
    from aiohttp_flashbag import flash, flashbag_middleware, get_flashed_messages

    app = cookie_session(doc.run()["app"])
    app.middlewares.append(flashbag_middleware)

    async def save(request: web.Request) -> web.Response:
        flash(request, "Saved")
        raise web.HTTPSeeOther("/api")

    async def api(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})  # shows nothing

    async def page(request: web.Request) -> web.Response:
        return web.json_response(get_flashed_messages(request))

    app.router.add_post("/save", save)
    app.router.add_get("/api", api)
    app.router.add_get("/", page)
    client: Client = await aiohttp_client(app)
    await client.post("/save")  # redirected to /api, which reads nothing
    await client.get("/api")
    assert await (await client.get("/")).json() == ["Saved"]
    assert await (await client.get("/")).json() == []
    from aiohttp_flashbag import setup

    sometimes: Any = "sometimes"
    with pytest.raises(ValueError, match="unread"):
        setup(web.Application(), unread=sometimes)


# docs/templates.rst


async def test_templates(
    doc: Doc, aiohttp_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "index.html").write_text(doc.code("html+jinja"))
    monkeypatch.chdir(tmp_path)
    served: list[web.Application] = []
    monkeypatch.setattr(web, "run_app", served.append)
    names = doc.run({"__name__": "__main__"})  # run as a script: it serves
    assert served == [names["app"]]
    client: Client = await aiohttp_client(names["app"])
    first = await client.get("/")
    assert "flash" not in await first.text()
    resp = await client.post("/")
    text = await resp.text()
    assert '<p class="flash flash-success">Saved.</p>' in text
    assert resp.headers["Cache-Control"] == "no-store"  # the scope saw the page
    assert "Saved." not in await (await client.get("/")).text()


# docs/htmx.rst


async def test_htmx(doc: Doc, aiohttp_client: Any) -> None:
    client: Client = await aiohttp_client(doc.run()["app"])
    htmx = {"HX-Request": "true"}
    resp = await client.post("/items", data={"name": "Tea"}, headers=htmx)
    assert resp.status == 200
    assert await resp.text() == "<li>Tea</li>"
    trigger = json.loads(resp.headers["HX-Trigger"])
    assert trigger == {
        "flash": [
            {
                "category": "success",
                "message": "Added Tea",
                "level": 25,
                "tags": "success",
            }
        ]
    }
    resp = await client.post("/items", data={"name": ""}, headers=htmx)
    assert resp.status == 422
    trigger = json.loads(resp.headers["HX-Trigger"])
    assert trigger == {
        "flash": [
            {
                "category": "error",
                "message": "Please give a name.",
                "level": 40,
                "tags": "error",
            }
        ]
    }
    # delivered: the next page has nothing left
    with record_flashes() as records:
        await client.post("/items", data={"name": "Milk"}, allow_redirects=False)
    assert records[-1].stored.messages == [Message("success", "Added Milk")]


async def test_htmx_refresh(doc: Doc, aiohttp_client: Any) -> None:
    from aiohttp_flashbag import get_flashed_messages, with_flashbag

    names = doc.run(Doc("test_htmx").run())  # the page's first block, then this

    @with_flashbag
    async def page(request: web.Request) -> web.Response:
        return web.json_response(get_flashed_messages(request))

    app = cookie_session(web.Application())
    app.router.add_post("/login", names["log_in"])
    app.router.add_get("/", page)
    client: Client = await aiohttp_client(app)
    resp = await client.post("/login", headers={"HX-Request": "true"})
    assert resp.headers["HX-Refresh"] == "true"
    assert await (await client.get("/")).json() == ["Welcome back!"]


# docs/testing.rst


def run_pytest(directory: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_testing_module(doc: Doc, tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text(doc.code("ini"))
    (tmp_path / "test_form.py").write_text(doc.code())
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    # configured as pytest-asyncio asks, so it does not warn
    assert "asyncio_default_fixture_loop_scope" not in result.stdout + result.stderr


def test_testing_record_app(doc: Doc, tmp_path: Path) -> None:
    module = Doc("test_testing_module")
    (tmp_path / "pytest.ini").write_text(module.code("ini"))
    (tmp_path / "test_form.py").write_text(module.code() + "\n\n" + doc.code())
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    assert "asyncio_default_fixture_loop_scope" not in result.stdout + result.stderr


# docs/workers.rst


async def test_workers(
    doc: Doc,
    aiohttp_client: Any,
    redis_port: int,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{redis_port}/4")
    app = await doc.run()["make_app"]()
    client: Client = await aiohttp_client(app)
    with caplog.at_level(logging.WARNING, logger="aiohttp_flashbag"):
        resp = await client.post("/")  # follows the redirect
        assert await resp.json() == [f"Handled by process {os.getpid()}"]
        assert await (await client.get("/")).json() == []
    assert not caplog.records  # a max_age: no warning


# docs/safe-html.rst


@pytest.mark.parametrize(
    ("storage", "trusted"),
    [
        (lambda: EncryptedCookieStorage(os.urandom(32)), True),
        (SimpleCookieStorage, False),
    ],
    ids=["encrypted", "simple"],
)
async def test_safe_html(
    doc: Doc,
    aiohttp_client: Any,
    storage: Callable[[], Any],
    trusted: bool,
) -> None:
    from markupsafe import Markup

    from aiohttp_flashbag import get_flashed_messages, with_flashbag

    shown: list[Any] = []

    @with_flashbag
    async def page(request: web.Request) -> web.Response:
        shown.extend(get_flashed_messages(request))
        return web.Response(text="page")

    app = web.Application()
    setup_session(app, storage())
    app.router.add_post("/delete/{id}", doc.run()["delete"])
    app.router.add_get("/", page)
    client: Client = await aiohttp_client(app)
    await client.post("/delete/7")
    assert shown == ['Deleted. <a href="/undo/7">Undo</a>']
    assert isinstance(shown[0], Markup) is trusted
    assert isinstance(shown[0], str)


# docs/sizes.rst


async def test_sizes(doc: Doc, aiohttp_client: Any) -> None:
    from aiohttp_flashbag import flashbag_get, get_flashed_messages, with_flashbag

    @with_flashbag
    async def page(request: web.Request) -> web.Response:
        return web.json_response(
            [flashbag_get(request, "problems"), get_flashed_messages(request)]
        )

    app = cookie_session(doc.run()["app"])
    app.router.add_post("/upload", doc.run()["upload"])
    app.router.add_get("/", page)
    client: Client = await aiohttp_client(app)
    resp = await client.post("/upload", data="a\n\nb\n")
    assert await resp.json() == [["line 2: empty"], ["Read 3 lines."]]
    resp = await client.post("/upload", data="\n" * 1000 + "x")
    assert await resp.json() == [None, ["Read 1001 lines."]]  # the list gave way


# docs/concurrency.rst


@WAITING
async def test_redis_flash_store(
    doc: Doc, aiohttp_client: Any, redis_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiohttp_flashbag import flash, get_flashed_messages, with_flashbag

    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{redis_port}/5")
    names = doc.run()
    app = names["app"]  # with its sessions: the block is a whole set-up

    @with_flashbag
    async def save(request: web.Request) -> web.Response:
        flash(request, "Saved")
        raise web.HTTPSeeOther("/")

    @with_flashbag
    async def page(request: web.Request) -> web.Response:
        return web.json_response(get_flashed_messages(request))

    async def close(app: web.Application) -> None:
        await names["client"].aclose()

    app.on_cleanup.append(close)
    app.router.add_post("/save", save)
    app.router.add_get("/", page)
    client: Client = await aiohttp_client(app)
    with record_flashes(app) as records:
        assert await (await client.post("/save")).json() == ["Saved"]
        assert await (await client.get("/")).json() == []
    assert records[0].stored.messages == [Message("message", "Saved")]


# docs/showing-flashes.rst


async def test_showing_flashes(doc: Doc, aiohttp_client: Any) -> None:
    app = cookie_session(doc.run()["app"])
    client: Client = await aiohttp_client(app)
    resp = await client.post("/profile")
    page = await resp.text()
    assert resp.url.path == "/profile"
    assert '<div class="flashbag-text">Profile saved.</div>' in page
    assert '<script src="/flashbag/flashbag.js" defer></script>' in page
    assert "Profile saved." not in await (await client.get("/profile")).text()
    for name in ("flashbag.js", "flashbag.css"):
        assert (await client.get(f"/flashbag/{name}")).status == 200


async def test_showing_flashes_jinja(doc: Doc) -> None:
    import aiohttp_jinja2

    from aiohttp_flashbag import Message

    app = doc.run()["app"]
    template = aiohttp_jinja2.get_env(app).from_string(
        '{% from "flashbag/messages.html" import flash_messages %}'
        "{{ flash_messages(messages) }}"
    )
    html = template.render(messages=[Message("error", "<b>No</b>")])
    assert '<div class="flashbag-text">&lt;b&gt;No&lt;/b&gt;</div>' in html
    assert 'role="alert"' in html


# docs/coming-from.rst


async def test_coming_from_flask(doc: Doc, aiohttp_client: Any) -> None:
    from aiohttp_flashbag import flash, get_flashed_messages

    app = doc.run()["app"]

    async def save(request: web.Request) -> web.Response:
        flash(request, "Saved", "success")
        raise web.HTTPSeeOther("/")

    async def page(request: web.Request) -> web.Response:
        return web.json_response(get_flashed_messages(request))

    async def favicon(request: web.Request) -> web.Response:
        return web.Response(status=204)  # in a scope, shows nothing

    app.router.add_post("/save", save)
    app.router.add_get("/", page)
    app.router.add_get("/favicon.ico", favicon)
    client: Client = await aiohttp_client(app)
    await client.post("/save", allow_redirects=False)
    await client.get("/favicon.ico")
    assert await (await client.get("/")).json() == ["Saved"]
    assert await (await client.get("/")).json() == []


async def test_coming_from_rails(doc: Doc, aiohttp_client: Any) -> None:
    from aiohttp_flashbag import flashbag_get, get_flashed_messages, with_flashbag

    @with_flashbag
    async def posts(request: web.Request) -> web.Response:
        return web.json_response(
            [flashbag_get(request, "notice"), get_flashed_messages(request)]
        )

    app = cookie_session(web.Application())
    app.router.add_post("/posts", doc.run()["create"])
    app.router.add_get("/posts", posts)
    client: Client = await aiohttp_client(app)
    resp = await client.post("/posts", data={"title": ""})
    assert resp.status == 422
    assert await resp.json() == ["Title is required"]
    assert await (await client.get("/posts")).json() == [None, []]  # now: not kept
    resp = await client.post("/posts", data={"title": "Hello"})
    assert await resp.json() == ["Post created", []]


async def test_coming_from_003(doc: Doc, aiohttp_client: Any) -> None:
    names = doc.run()

    async def stylesheet(request: web.Request) -> web.Response:
        return web.Response(text="body {}", content_type="text/css")

    app = cookie_session(web.Application())
    app.router.add_get("/", names["form"])
    app.router.add_post("/", names["submit"])
    app.router.add_get("/style.css", stylesheet)
    client: Client = await aiohttp_client(app)
    await client.post("/", allow_redirects=False)
    await client.get("/style.css")  # no scope: the flash stays
    assert await (await client.get("/")).text() == "Name is required"
    assert await (await client.get("/")).text() == ""


async def test_coming_from_django(
    doc: Doc, aiohttp_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aiohttp_jinja2
    import jinja2

    from aiohttp_flashbag import context_processor, with_flashbag

    @with_flashbag
    @aiohttp_jinja2.template("messages.html")
    async def page(request: web.Request) -> dict[str, Any]:
        return {}

    app = cookie_session(web.Application())
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.DictLoader({"messages.html": doc.code("html+jinja")}),
        context_processors=[context_processor],
    )
    app.router.add_post("/save", doc.run()["save"])
    app.router.add_get("/", page)
    client: Client = await aiohttp_client(app)
    html = await (await client.post("/save")).text()
    items = re.findall(r"<li[^>]*>[^<]*</li>", html)
    assert items == [
        '<li class="toast success">Saved.</li>',
        '<li class="warning">Check the date.</li>',
        '<li class="warning">Disk almost full.</li>',
    ]
    assert '<ul class="messages">' in html
    assert "<ul" not in await (await client.get("/")).text()


# docs/translations.rst


def compiled_catalogs(directory: Path) -> None:
    """``locale/de`` with the German of the page's examples, and an empty
    ``locale/en``, compiled from ``.po`` files."""
    from ..contract.test_translations import GERMAN, compile_catalog

    compile_catalog(directory / "locale", "de", GERMAN)
    compile_catalog(directory / "locale", "en", [(m, c, "") for m, c, _ in GERMAN])


async def test_translations_lazy(doc: Doc, aiohttp_client: Any) -> None:
    names = doc.run()
    app = cookie_session(web.Application())
    app.router.add_post("/save", names["save"])
    app.router.add_get("/", names["page"])
    client: Client = await aiohttp_client(app)
    resp = await client.post("/save", data=[("item", "a"), ("item", "b")])
    assert await resp.json() == ["Saved 2 items"]


async def test_translations_babel(
    doc: Doc, aiohttp_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiohttp_flashbag import flash, get_flashed_messages, lazy, with_flashbag

    compiled_catalogs(tmp_path)
    monkeypatch.chdir(tmp_path)
    names = doc.run()

    @with_flashbag
    async def save(request: web.Request) -> web.Response:
        flash(request, lazy("Saved {count} items", count=3), "success")
        flash(request, lazy("Open", context="verb"))
        raise web.HTTPSeeOther("/")

    @with_flashbag
    async def page(request: web.Request) -> web.Response:
        return web.json_response(get_flashed_messages(request))

    app = names["app"]
    app.router.add_post("/save", save)
    app.router.add_get("/", page)
    client: Client = await aiohttp_client(app)
    english = {"Accept-Language": "en-US,en;q=0.9,de;q=0.8"}
    german = {"Accept-Language": "fr;q=0.9, de-AT;q=0.95, *;q=0.1"}
    await client.post("/save", headers=english, allow_redirects=False)
    assert await (await client.get("/", headers=german)).json() == [
        "3 Einträge gespeichert",
        "Öffnen",
    ]
    await client.post("/save", headers=german, allow_redirects=False)
    assert await (await client.get("/", headers=english)).json() == [
        "Saved 3 items",
        "Open",
    ]
    client.session.cookie_jar.update_cookies({"lang": "de"})
    await client.post("/save", headers=english, allow_redirects=False)
    assert await (await client.get("/", headers=english)).json() == [
        "3 Einträge gespeichert",
        "Öffnen",
    ]


async def test_translations_gettext(
    doc: Doc, aiohttp_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiohttp_flashbag import error, get_flashed_messages, lazy, with_flashbag

    compiled_catalogs(tmp_path)
    monkeypatch.chdir(tmp_path)
    app = cookie_session(doc.run()["make_app"]())

    @with_flashbag
    async def save(request: web.Request) -> web.Response:
        error(request, lazy("Open", context="adjective"))
        error(request, lazy("Welcome, {name}!", name="Ann"))
        raise web.HTTPSeeOther("/")

    @with_flashbag
    async def page(request: web.Request) -> web.Response:
        return web.json_response(get_flashed_messages(request))

    app.router.add_post("/save", save)
    app.router.add_get("/", page)
    client: Client = await aiohttp_client(app)
    await client.post("/save", allow_redirects=False)
    client.session.cookie_jar.update_cookies({"lang": "de"})
    assert await (await client.get("/")).json() == ["Offen", "Willkommen, Ann!"]


# -- every block passes mypy --strict ----------------------------------------

#: Tests whose blocks continue another test's (run after them).
BUILDS_ON = {
    "test_tutorial_redirect_back": "test_tutorial",
    "test_htmx_refresh": "test_htmx",
    "test_testing_record_app": "test_testing_module",
}


@pytest.mark.skipif(
    tuple(int(part) for part in aiohttp.__version__.split(".")[:2]) < (3, 11),
    reason="aiohttp 3.10's own annotations are incomplete under --strict",
)
def test_the_python_blocks_pass_mypy_strict(tmp_path: Path) -> None:
    """What the docs show is typed code: copied into an application checked
    with ``mypy --strict``, it passes.
    """
    files = []
    for test in sorted({b.test for b in blocks() if b.language == "python"}):
        code = Doc(test).code()
        if test in BUILDS_ON:
            code = Doc(BUILDS_ON[test]).code() + "\n\n" + code
        files.append(tmp_path / f"{test}.py")
        files[-1].write_text(code)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", *map(str, files)],
        cwd=ROOT,
        env={**os.environ, "MYPYPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def test_coming_from_003_settings(doc: Doc, aiohttp_client: Any) -> None:
    """0.0.3's ways: no size bound, no Cache-Control, and a session cookie
    renewed on every page (for visitors who have a session).
    """
    from aiohttp_flashbag import flashbag_get, flashbag_set

    app = doc.run()["app"]

    async def save(request: web.Request) -> web.Response:
        flashbag_set(request, "big", "x" * 2500)
        raise web.HTTPSeeOther("/")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=str(len(str(flashbag_get(request, "big", "")))))

    async def log_in(request: web.Request) -> web.Response:
        (await get_session(request))["user"] = "ann"
        return web.Response(text="welcome")

    app.router.add_post("/save", save)
    app.router.add_get("/", page)
    app.router.add_post("/login", log_in)
    client: Client = await aiohttp_client(app)
    first = await client.get("/")
    assert "Set-Cookie" not in first.headers  # no session: none is made
    resp = await client.post("/save")  # follows the redirect
    assert await resp.text() == "2500"  # over 2048 bytes, kept
    assert "Cache-Control" not in resp.headers
    await client.post("/login")
    for _ in range(2):
        again = await client.get("/")
        assert await again.text() == "0"
        assert "Set-Cookie" in again.headers  # the login's expiry slides


# -- the pages ---------------------------------------------------------------


LIFECYCLE_SECTIONS = [
    "Words",
    "Scopes",
    "The table",
    "Unread flashes",
    "Messages of this request",
    "Bounded life",
    "New sessions",
    "Speculative requests",
    "Writes",
    "A streamed response",
    "Size",
    "Bad input and faults",
    "htmx",
    "Testing",
]


def test_the_lifecycle_has_the_sections_code_and_tests_cite() -> None:
    text = (DOCS / "lifecycle.rst").read_text()
    titles = re.findall(r"^(.+)\n-+\n", text, re.M)
    assert titles == LIFECYCLE_SECTIONS
    assert text.startswith("The lifecycle\n=============\n")


@WAITING
def test_the_docs_build_without_a_warning(tmp_path: Path) -> None:
    """Warnings are errors, and nitpicky: every reference resolves."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-n",
            "-q",
            "-b",
            "html",
            str(DOCS),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "html" / "lifecycle.html").exists()


# -- README.rst ------------------------------------------------------------------


def commands() -> list[str]:
    return [
        line.strip()
        for line in README.read_text().splitlines()
        if line.startswith("    python3 -m venv")
    ]


def test_two_commands_demo_then_tests() -> None:
    demo, tests = commands()
    assert demo.endswith(".venv/bin/python examples/form_app.py")
    assert (ROOT / "examples" / "form_app.py").exists()
    assert tests.endswith(".venv/bin/python -m pytest")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    runs = [line for line in ci if "pytest" in line and not line.startswith("#")]
    assert runs[0] == commands()[1]  # first the README's command, verbatim


def test_the_readme_is_short_and_stands_on_pypi() -> None:
    text = README.read_text()
    assert len(text.splitlines()) < 150
    links = re.findall(r"<([^>]+)>`_", text)
    assert links
    for link in links:
        if "://" in link:
            continue
        assert link.startswith("docs/") or link == "CHANGES.rst", link
        assert (ROOT / link).exists(), link


def test_the_readme_is_valid_restructuredtext() -> None:
    from docutils.core import publish_doctree

    publish_doctree(
        README.read_text(),
        settings_overrides={
            "halt_level": 2,
            "report_level": 2,
            "warning_stream": False,
        },
    )
