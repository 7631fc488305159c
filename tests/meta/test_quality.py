"""The package stays typed and lint-clean, its sdist carries its tests and docs,
its wheel the package with py.typed, and every public name is documented."""

from __future__ import annotations

import ast
import inspect
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import aiohttp
import pytest
from hypothesis import settings

import aiohttp_flashbag
from aiohttp_flashbag import testing, ui

from ..conftest import hypothesis_profile

ROOT = Path(__file__).resolve().parents[2]
#: What docs/showing-flashes.rst tells apps to serve and render.
ASSETS = (
    "aiohttp_flashbag/static/flashbag.js",
    "aiohttp_flashbag/static/flashbag.css",
    "aiohttp_flashbag/templates/flashbag/messages.html",
)


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


def test_sdist_carries_the_tests_and_the_wheel_the_typed_package(
    tmp_path: Path,
) -> None:
    """The sdist (see MANIFEST.in) has what its tests need; the wheel built
    from it has the package with py.typed and nothing else."""
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv*",
            "*.egg-info",
            "build",
            "dist",
            "_build",
            ".*_cache",
            ".hypothesis",
            ".tox",
            ".work",
            "__pycache__",
        ),
    )
    dist = tmp_path / "dist"
    result = run("build", "--no-isolation", "--outdir", str(dist), cwd=source)
    assert result.returncode == 0, result.stdout + result.stderr

    (sdist,) = dist.glob("aiohttp[-_]flashbag-*.tar.gz")
    assert aiohttp_flashbag.__version__ in sdist.name
    with tarfile.open(sdist) as archive:
        top = sdist.name.removesuffix(".tar.gz")
        names = {name.removeprefix(f"{top}/") for name in archive.getnames()}
    needed = {
        "CHANGES.rst",
        "LICENSE",
        "README.rst",
        "pyproject.toml",
        "setup.cfg",
        "tox.ini",
        "aiohttp_flashbag/py.typed",
        *ASSETS,
        "tests/__init__.py",
        "tests/conftest.py",
        "tests/support/__init__.py",
        "tests/support/servers.py",
        "tests/support/backends.py",
        "tests/support/opsapp.py",
        "tests/unit/__init__.py",
        "tests/contract/__init__.py",
        "tests/contract/conftest.py",
        "tests/stores/__init__.py",
        "tests/e2e/__init__.py",
        "tests/e2e/conftest.py",
        "tests/meta/__init__.py",
        "tests/meta/test_docs.py",
        "docs/conf.py",
        "docs/index.rst",
        "docs/lifecycle.rst",
        "docs/inventories/python.txt",
        "examples/form_app.py",
        "benchmarks/run.py",
        ".ci/run",
    }
    assert needed <= names, sorted(needed - names)
    assert not any("__pycache__" in name or "/_build/" in name for name in names)

    # The tests that read the project's files (the README, the docs, the CI
    # script, the examples) pass in the unpacked sdist: it lacks none of them.
    safe: dict[str, str] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", **safe)  # type: ignore[arg-type]
    unpacked = tmp_path / "unpacked" / top
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"),
            *("-p", "no:cacheprovider", "tests/meta/test_docs.py"),
            *("-k", " or ".join(FILE_READING_TESTS)),
        ],
        cwd=unpacked,
        env={**env, "PYTHONPATH": str(unpacked)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(FILE_READING_TESTS)} passed" in result.stdout, result.stdout

    (wheel,) = dist.glob("aiohttp_flashbag-*.whl")
    assert aiohttp_flashbag.__version__ in wheel.name
    names = set(zipfile.ZipFile(wheel).namelist())
    (metadata,) = (name for name in names if name.endswith(".dist-info/METADATA"))
    fields = zipfile.ZipFile(wheel).read(metadata).decode().split("\n\n", 1)[0]
    for field in [
        "Author: the aiohttp_flashbag authors",
        "Classifier: Framework :: aiohttp",
        "Classifier: Framework :: AsyncIO",
        "Classifier: Typing :: Typed",
        "Project-URL: Source, https://github.com/wikibusiness/aiohttp-flashbag",
        "Project-URL: Changelog, ",
        "Project-URL: Issues, ",
        "Project-URL: Documentation, ",
    ]:
        assert field in fields, fields
    assert "aiohttp_flashbag/py.typed" in names
    package = Path(aiohttp_flashbag.__file__).parent
    modules = {
        path.relative_to(package.parent).as_posix() for path in package.rglob("*.py")
    }
    assert "aiohttp_flashbag/stores/__init__.py" in modules
    assert modules <= names, sorted(modules - names)  # subpackages included
    assert set(ASSETS) <= names, sorted(set(ASSETS) - names)
    assert not any(
        name.startswith(("tests/", "examples/", "docs/", "benchmarks/"))
        for name in names
    )


#: Tests of tests/meta/test_docs.py that read files of the project, and are quick.
FILE_READING_TESTS = [
    "test_every_python_block_names_its_test",
    "test_every_test_named_runs_its_blocks",
    "test_the_lifecycle_has_the_sections_code_and_tests_cite",
    "test_two_commands_demo_then_tests",
    "test_ci_runs_exactly_the_readme_test_command",
    "test_the_readme_is_short_and_stands_on_pypi",
    "test_the_readme_is_valid_restructuredtext",
]


def documented() -> dict[str, set[str]]:
    """The names docs/api.rst documents (autodoc or by hand), per module."""
    modules: dict[str, set[str]] = {}
    module = ""
    for line in (ROOT / "docs" / "api.rst").read_text().splitlines():
        if match := re.match(r"\.\. module:: ([\w.]+)$", line):
            module = match[1]
        elif match := re.match(r"\.\. (?:auto)?\w+:: (\w+)", line):
            modules.setdefault(module, set()).add(match[1])
    return modules


def public() -> list[tuple[str, str]]:
    names = [("aiohttp_flashbag", name) for name in aiohttp_flashbag.__all__]
    names += [("aiohttp_flashbag.testing", name) for name in testing.__all__]
    names += [("aiohttp_flashbag.ui", name) for name in ui.__all__]
    names.append(("aiohttp_flashbag.testing", "flash_records"))  # the fixture
    return names


@pytest.mark.parametrize(("module", "name"), public())
def test_public_names_are_in_the_api_reference(module: str, name: str) -> None:
    """Every public name has an entry in docs/api.rst under its module (the
    re-exports of testing, Flashes and Message, under aiohttp_flashbag)."""
    entries = documented()
    assert name in entries.get(module, set()) or name in entries["aiohttp_flashbag"]


def test_every_setting_is_in_the_settings_table() -> None:
    """docs/api.rst, "Settings": one row per argument of ``setup()``, with its
    default as the code has it.
    """
    text = (ROOT / "docs" / "api.rst").read_text()
    rows = re.findall(r"^   \* - ``(\w+)``\n     - ``(.+?)``$", text, re.M)
    table = {name: ast.literal_eval(default) for name, default in rows}
    parameters = inspect.signature(aiohttp_flashbag.setup).parameters
    assert table == {
        name: parameter.default
        for name, parameter in parameters.items()
        if parameter.kind is parameter.KEYWORD_ONLY
    }


def test_the_flash_stores_are_in_the_api_reference() -> None:
    assert {"FlashStore", "SessionStore", "RedisFlashStore"} <= documented()[
        "aiohttp_flashbag.stores"
    ]


@pytest.mark.parametrize(
    ("ci", "profile"),
    [("true", "ci"), ("1", "ci"), (None, "dev"), ("", "dev"), ("false", "dev")],
)
def test_property_tests_are_derandomised_in_ci_and_random_locally(
    ci: str | None, profile: str
) -> None:
    environ = {} if ci is None else {"CI": ci}
    assert hypothesis_profile(environ) == profile
    assert settings.get_profile(profile).derandomize is (profile == "ci")
    assert hypothesis_profile({**environ, "HYPOTHESIS_PROFILE": "ci"}) == "ci"


def test_the_ci_script_runs_the_tests_as_ci() -> None:
    """.ci/run sets ``CI`` (unless the CI service did) before the tests."""
    script = (ROOT / ".ci" / "run").read_text()
    assert script.index('export CI="${CI:-true}"') < script.index("-m pytest")
