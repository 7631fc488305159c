"""The package stays typed and lint-clean, and builds a wheel with py.typed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import aiohttp_flashbag

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True
    )


def test_mypy_strict_is_clean() -> None:
    result = run(
        "mypy", "--strict", "aiohttp_flashbag", "tests", "examples", "benchmarks"
    )
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


@pytest.mark.parametrize("name", aiohttp_flashbag.__all__)
def test_public_names_are_documented(name: str) -> None:
    readme = (ROOT / "README.rst").read_text()
    assert name in readme
