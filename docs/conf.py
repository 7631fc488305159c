"""Sphinx configuration for the aiohttp-flashbag documentation.

Build it with ``python -m sphinx -W --keep-going -n -b html docs docs/_build``
(the test suite runs the same command).

Intersphinx without a network: the build cannot download the inventories of
Python, aiohttp and the rest, so ``docs/inventories/*.txt`` lists, in the
plain text form of a Sphinx inventory, only the objects these pages refer
to, each with its page on the project's public documentation. This file
compresses them into ``objects.inv`` files in a temporary directory when the
build starts; nothing downloaded or copied from those projects is kept here.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import zlib
from pathlib import Path
from typing import Any

import aiohttp_flashbag

DOCS = Path(__file__).resolve().parent

project = "aiohttp-flashbag"
author = "the aiohttp_flashbag authors"
copyright = "2026, the aiohttp_flashbag authors"
release = aiohttp_flashbag.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build", "inventories"]
nitpicky = True
default_role = "any"
highlight_language = "python"
pygments_style = "sphinx"

html_theme = "furo"
html_title = f"aiohttp-flashbag {release}"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
python_use_unqualified_type_names = True
# Show the library's type aliases by their names in signatures, linked to
# their entries.
autodoc_type_aliases = {
    "JSON": "aiohttp_flashbag.JSON",
    "JSONLike": "aiohttp_flashbag.JSONLike",
}


# -- intersphinx from the inventories written in docs/inventories ---------------

#: name: (the project's public documentation, the inventory file in docs/inventories)
INVENTORIES = {
    "python": ("https://docs.python.org/3/", "python.txt"),
    "aiohttp": ("https://docs.aiohttp.org/en/stable/", "aiohttp.txt"),
    "aiohttp-session": (
        "https://aiohttp-session.readthedocs.io/en/stable/",
        "aiohttp-session.txt",
    ),
    "aiohttp-jinja2": (
        "https://aiohttp-jinja2.readthedocs.io/en/stable/",
        "aiohttp-jinja2.txt",
    ),
    "jinja2": ("https://jinja.palletsprojects.com/en/stable/", "jinja2.txt"),
    "markupsafe": (
        "https://markupsafe.palletsprojects.com/en/stable/",
        "markupsafe.txt",
    ),
    "redis": ("https://redis.readthedocs.io/en/stable/", "redis.txt"),
}


def objects_inv(text: str, project: str) -> bytes:
    """A Sphinx ``objects.inv`` (version 2) from inventory lines.

    ``text`` holds one object a line, ``name domain:role priority uri
    display-name`` (``$`` in the uri stands for the name, ``-`` as the
    display name for the name itself); lines starting with ``#`` are
    comments.
    """
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        "# Version: \n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    body = "".join(f"{line}\n" for line in lines)
    return header.encode() + zlib.compress(body.encode())


_inventory_dir = Path(tempfile.mkdtemp(prefix="aiohttp-flashbag-inventories-"))
atexit.register(shutil.rmtree, _inventory_dir, True)

intersphinx_mapping = {}
for _name, (_url, _source) in INVENTORIES.items():
    _inv = _inventory_dir / f"{_name}.inv"
    _inv.write_bytes(objects_inv((DOCS / "inventories" / _source).read_text(), _name))
    intersphinx_mapping[_name] = (_url, str(_inv))
intersphinx_cache_limit = 0


# -- references that cannot resolve -------------------------------------------

nitpick_ignore_regex = [
    # The overloads of with_flashbag and flashbag_get are written with the
    # library's private type variables, which no documentation describes.
    ("py:class", r"(aiohttp_flashbag(\.\w+)*\.)?_(View|P|R|T)"),
]
nitpick_ignore = [
    # The FlashStore interface passes flashes as a class the library does not
    # export yet.
    ("py:class", "aiohttp_flashbag._rule.Flash"),
    ("py:class", "Flash"),
    # On Python 3.10, autodoc cannot evaluate a signature that joins a type
    # alias and a class with "|" (flash() and its shortcuts) and shows it as
    # written, with aiohttp's name as the module imports it.
    ("py:class", "web.Request"),
    # The settings a store is given are built by setup(), which documents them.
    ("py:class", "aiohttp_flashbag._settings.Settings"),
]


def _name_type_aliases(
    app: object,
    what: str,
    name: str,
    obj: object,
    options: object,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str | None, str | None]:
    """Name the type aliases where Sphinx shows its placeholder instead.

    Inside a generic (``Mapping[str, JSON]``) Sphinx writes the repr of its
    ``autodoc_type_aliases`` placeholder rather than the alias.
    """
    for alias, target in autodoc_type_aliases.items():
        placeholder = f"TypeAliasForwardRef({target!r})"
        if signature is not None:
            signature = signature.replace(placeholder, alias)
        if return_annotation is not None:
            return_annotation = return_annotation.replace(placeholder, alias)
    return signature, return_annotation


def _no_type_docstring(
    app: object, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """A constant without a doc comment gets no text, not its type's docstring
    (``str``'s for ``DEFAULT_SESSION_KEY``); api.rst says what it is."""
    doc = type(obj).__doc__
    if what == "data" and lines and doc and lines[0].strip() in doc:
        lines.clear()


def _alias_as_data(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Sphinx 8 looks the type aliases of a signature up as classes; they are
    documented as data."""
    if node.get("refdomain") != "py" or node.get("reftype") != "class":
        return None
    if node["reftarget"].rpartition(".")[2] not in autodoc_type_aliases:
        return None
    domain = env.get_domain("py")
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, "data", node["reftarget"], node, contnode
    )


def setup(app: Any) -> None:
    app.connect("autodoc-process-signature", _name_type_aliases)
    app.connect("autodoc-process-docstring", _no_type_docstring)
    app.connect("missing-reference", _alias_as_data)
