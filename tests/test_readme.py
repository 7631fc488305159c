"""The README's commands and code say what the project does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiohttp import web

from .conftest import Client

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.rst").read_text()


def commands() -> list[str]:
    return [
        line.strip()
        for line in README.splitlines()
        if line.startswith("    python3 -m venv")
    ]


def code_blocks() -> list[str]:
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", README)
    return [re.sub(r"^    ", "", block, flags=re.M) for block in blocks]


def test_two_commands_demo_then_tests() -> None:
    demo, tests = commands()
    assert demo.endswith(".venv/bin/python examples/form_app.py")
    assert (ROOT / "examples" / "form_app.py").exists()
    assert tests.endswith(".venv/bin/python -m pytest")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    runs = [line for line in ci if "pytest" in line and not line.startswith("#")]
    assert runs[0] == commands()[1]  # first the README's command, verbatim


async def test_the_quickstart_runs(aiohttp_client: Any) -> None:
    namespace: dict[str, Any] = {}
    exec(code_blocks()[0], namespace)
    client: Client = await aiohttp_client(namespace["app"])
    resp = await client.post("/", data={"name": ""}, allow_redirects=False)
    assert resp.status == 303
    assert "<p>Name is required</p>" in await (await client.get("/")).text()
    assert "Name is required" not in await (await client.get("/")).text()
    assert await (await client.post("/", data={"name": "Ann"})).text() == "Hello, Ann"


async def test_the_mixin_quickstart_runs(aiohttp_client: Any) -> None:
    namespace: dict[str, Any] = {"web": web}
    exec(code_blocks()[1], namespace)
    from aiohttp_session import SimpleCookieStorage
    from aiohttp_session import setup as setup_session

    app = web.Application()
    setup_session(app, SimpleCookieStorage())
    app.router.add_view("/", namespace["FormView"])
    client: Client = await aiohttp_client(app)
    assert await (await client.post("/")).text() == "Name is required"
    assert await (await client.get("/")).text() == ""


def test_the_readme_is_valid_restructuredtext() -> None:
    from docutils.core import publish_doctree

    publish_doctree(
        README,
        settings_overrides={
            "halt_level": 2,
            "report_level": 2,
            "warning_stream": False,
        },
    )
