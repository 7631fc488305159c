"""The package stays typed and lint-clean, and builds a wheel with py.typed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import aiohttp
import pytest

import aiohttp_flashbag
from aiohttp_flashbag import testing

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True
    )


def test_mypy_strict_is_clean() -> None:
    """The package on every supported Python and aiohttp; the tests, examples
    and benchmarks too where their annotations apply (aiohttp 3.11 made
    TestClient generic, Python 3.11 added typing.assert_type)."""
    targets = ["aiohttp_flashbag"]
    aiohttp_version = tuple(int(part) for part in aiohttp.__version__.split(".")[:2])
    if sys.version_info >= (3, 11) and aiohttp_version >= (3, 11):
        targets += ["tests", "examples", "benchmarks"]
    result = run("mypy", "--strict", *targets)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean() -> None:
    result = run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr
    result = run("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_wheel_ships_the_package_and_py_typed(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".git", ".venv", "*.egg-info", "build", "dist"),
    )
    result = run(
        "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), cwd=source
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = tmp_path.glob("aiohttp_flashbag-*.whl")
    assert aiohttp_flashbag.__version__ in wheel.name
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "aiohttp_flashbag/py.typed" in names
    assert "aiohttp_flashbag/__init__.py" in names
    assert not any(name.startswith(("tests/", "examples/")) for name in names)


PUBLIC = [
    *(f"aiohttp_flashbag.{name}" for name in aiohttp_flashbag.__all__),
    *(f"aiohttp_flashbag.testing.{name}" for name in testing.__all__),
]


@pytest.mark.parametrize("name", PUBLIC)
def test_public_names_are_documented(name: str) -> None:
    """Every public name appears in the README as code, as a whole word."""
    short = name.rpartition(".")[2]
    readme = (ROOT / "README.rst").read_text()
    assert re.search(rf"``[^`]*(?<![\w.]){re.escape(short)}\b[^`]*``", readme), name
