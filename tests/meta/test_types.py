"""The type hints tell the truth (docs/api.rst): a type checker knows a list
of ``Message`` from a list of messages, and the two words ``unread`` takes.

A small program is checked with ``mypy --strict``; its ``reveal_type`` lines
say what the checker knows, and the line marked ``# refused`` must be an
error.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = """\
from aiohttp import web

from aiohttp_flashbag import (
    Flashbag,
    TemplateFlashbag,
    get_flashbag,
    get_flashed_messages,
    setup,
)


def check(request: web.Request, view: TemplateFlashbag, flag: bool) -> None:
    bag: Flashbag = get_flashbag(request)
    reveal_type(get_flashed_messages(request, with_categories=True))  # pairs
    reveal_type(bag.get_flashed_messages(with_categories=True))  # pairs
    reveal_type(view.get_flashed_messages(with_categories=True))  # pairs
    reveal_type(get_flashed_messages(request))  # messages
    reveal_type(get_flashed_messages(request, with_categories=False))  # messages
    reveal_type(bag.get_flashed_messages())  # messages
    reveal_type(view.get_flashed_messages(category_filter="error"))  # messages
    reveal_type(get_flashed_messages(request, with_categories=flag))  # either
    for category, message in get_flashed_messages(request, with_categories=True):
        reveal_type(category)  # text


app = web.Application()
setup(app, unread="keep")
setup(app, unread="sometimes")  # refused
"""

# How mypy writes them varies a little between its versions.
EXPECTED = {
    "pairs": r"(builtins\.)?list\[.*aiohttp_flashbag\._\w+\.Message\]+",
    "messages": r"(builtins\.)?list\[Any\]",
    "either": r"(builtins\.)?list\[Any\]",
    "text": r"(builtins\.)?str",
}


@pytest.mark.skipif(
    tuple(int(part) for part in aiohttp.__version__.split(".")[:2]) < (3, 11),
    reason="aiohttp 3.10's own annotations are incomplete under --strict",
)
def test_the_checker_knows_pairs_from_messages_and_the_words_of_unread(
    tmp_path: Path,
) -> None:
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(program)],
        cwd=ROOT,
        env={**os.environ, "MYPYPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    lines = PROGRAM.splitlines()
    revealed: dict[int, str] = {}
    errors: list[int] = []
    for found in re.finditer(r"program\.py:(\d+): (note|error): (.*)", result.stdout):
        line, kind, text = int(found[1]), found[2], found[3]
        if kind == "note" and text.startswith("Revealed type is "):
            revealed[line] = text.removeprefix("Revealed type is ").strip('"')
        elif kind == "error":
            errors.append(line)
    for number, source in enumerate(lines, 1):
        if "reveal_type" in source:
            want = EXPECTED[source.rsplit("# ", 1)[1]]
            assert re.fullmatch(want, revealed.get(number, "")), (source, result.stdout)
    refused = [n for n, source in enumerate(lines, 1) if source.endswith("refused")]
    assert errors == refused, result.stdout
