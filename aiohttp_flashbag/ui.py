"""Show flashes: markup, a script and a stylesheet shipped with the package.

See docs/showing-flashes.rst. The markup is the same from the Jinja2
template ``flashbag/messages.html`` and from :func:`render_messages`:
live regions that are in the page from the start, the messages as plain
content that ``flashbag.js`` moves into the regions after load (so that
screen readers announce them), a dismiss button, and no inline script or
style, so that a strict Content-Security-Policy needs no exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from . import _levels
from ._scope import bag_of
from ._settings import settings_of

__all__ = (
    "LEVELS",
    "STATIC",
    "STATIC_PREFIX",
    "TEMPLATES",
    "add_static",
    "head_tags",
    "render_flashes",
    "render_messages",
    "template_loader",
)

_HERE: Final = Path(__file__).resolve().parent
#: The folder of ``flashbag.js`` and ``flashbag.css``.
STATIC: Final = _HERE / "static"
#: The folder that holds the ``flashbag/messages.html`` Jinja2 template.
TEMPLATES: Final = _HERE / "templates"
#: Where :func:`add_static` serves the files unless told otherwise.
STATIC_PREFIX: Final = "/flashbag"

#: The level of each category with a style (Django's numbers); any other
#: category is 20 and neutral in style. A message's own ``level``, where it
#: has one, wins.
LEVELS: Final[Mapping[str, int]] = _levels.LEVELS
_STYLES: Final = ("success", "info", "warning", "error")
_LABELS: Final[Mapping[str, str]] = {
    "success": "Success:",
    "info": "Info:",
    "warning": "Warning:",
    "error": "Error:",
}
#: The dismiss button's accessible name, unless ``labels`` give another.
_DISMISS: Final = "Dismiss"
#: Level 40 (error) and up go to the assertive live region.
_ASSERTIVE_LEVEL: Final = _levels.ERROR

try:  # markupsafe comes with Jinja2; without it the markup is a plain str
    from markupsafe import Markup as _Markup
except ImportError:  # pragma: no cover
    _Markup = str  # type: ignore[assignment, misc]


def _escape(value: Any) -> str:
    """HTML-escape ``value`` as Jinja2 does; safe HTML (``__html__``) is kept."""
    html = getattr(value, "__html__", None)
    if html is not None:
        return str(html())
    return (
        str(value)
        .replace("&", "&amp;")
        .replace(">", "&gt;")
        .replace("<", "&lt;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
    )


def _message(item: Any, labels: Mapping[str, str]) -> str:
    if not isinstance(item, tuple):  # read without categories: the text alone
        item = ("message", item)  # (any JSON data; a list is not a pair)
    category, text = item[0], item[1]
    level = getattr(item, "level", None)
    if not isinstance(level, int) or isinstance(level, bool):
        level = _levels.level_of(category)
    level_tag = getattr(item, "level_tag", category)
    tags = getattr(item, "tags", category)
    style = level_tag if level_tag in _STYLES else "neutral"
    label = labels.get(style)
    strong = f'<strong class="flashbag-label">{_escape(label)}</strong>'
    dismiss = _escape(labels.get("dismiss") or _DISMISS)
    return (
        f'<div class="flashbag-message flashbag-{style} {_escape(tags)}"'
        f' data-flashbag-level="{level}">'
        + (strong if label else "")
        + f'<div class="flashbag-text">{_escape(text)}</div>'
        '<button type="button" class="flashbag-dismiss" data-flashbag-dismiss'
        f' aria-label="{dismiss}" hidden><span aria-hidden="true">&#215;</span>'
        "</button></div>"
    )


def render_messages(
    messages: Iterable[Any],
    *,
    htmx_event: str | None = None,
    toasts: bool = False,
    timeout: int | None = None,
    labels: Mapping[str, str] | None = None,
) -> str:
    """The markup of the flashbag area, with ``messages`` in it.

    ``messages`` are what ``get_flashed_messages(request,
    with_categories=True)`` returns: ``(category, message)`` pairs (a
    message alone, anything but a tuple, is shown whole in the default
    category, ``"message"``). A text
    is escaped; a ``markupsafe.Markup`` is kept as HTML. ``htmx_event``: the
    ``setup(htmx_event=...)`` name, whose messages ``flashbag.js`` shows as
    toasts here. ``toasts``: the area floats over the page. ``timeout``:
    milliseconds after which ``flashbag.js`` dismisses a toast below the
    warning level (errors and warnings stay). ``labels``: the visible label
    per style (``success``, ``info``, ``warning``, ``error``; a style left
    out has none) and the dismiss button's name (``dismiss``), for the
    rendered messages and the script's toasts alike.

    Render it once per page, outside the parts that htmx swaps, even with no
    messages: the live regions must be in the page before messages come.
    Returns ``markupsafe.Markup`` (where markupsafe is installed).
    """
    opening = '<div class="flashbag' + (" flashbag-toasts" if toasts else "")
    opening += '" data-flashbag'
    if htmx_event:
        opening += f' data-flashbag-event="{_escape(htmx_event)}"'
    if timeout:
        opening += f' data-flashbag-timeout="{int(timeout)}"'
    if labels is None:
        labels = _LABELS
    else:  # for the script's toasts too
        for key in _STYLES:
            opening += f' data-flashbag-label-{key}="{_escape(labels.get(key, ""))}"'
        dismiss = labels.get("dismiss") or _DISMISS
        opening += f' data-flashbag-label-dismiss="{_escape(dismiss)}"'
    parts = [
        opening + ">",
        # errors first, then the rest in the order they were flashed
        '<div class="flashbag-region" data-flashbag-region="assertive" role="alert"'
        ' aria-live="assertive" aria-atomic="false"></div>',
        '<div class="flashbag-region" data-flashbag-region="polite" role="status"'
        ' aria-live="polite" aria-atomic="false"></div>',
    ]
    items = [_message(item, labels) for item in messages]
    if items:
        parts += ['<div class="flashbag-pending" data-flashbag-pending>', *items]
        parts.append("</div>")
    parts.append("</div>")
    return _Markup("".join(parts))


def render_flashes(
    request: web.Request,
    *,
    toasts: bool = False,
    timeout: int | None = None,
    labels: Mapping[str, str] | None = None,
) -> str:
    """:func:`render_messages` of the request's messages (they count as
    shown), with the app's ``htmx_event``. Outside every scope: the empty
    area, and nothing is read."""
    bag = bag_of(request)
    messages = [] if bag is None else bag.get_flashed_messages(with_categories=True)
    return render_messages(
        messages,
        htmx_event=settings_of(request).htmx_event,
        toasts=toasts,
        timeout=timeout,
        labels=labels,
    )


def head_tags(prefix: str = STATIC_PREFIX) -> str:
    """The ``<link>`` and ``<script defer>`` tags of the stylesheet and the
    script, served under ``prefix`` (see :func:`add_static`)."""
    base = _escape(prefix.rstrip("/"))
    return _Markup(
        f'<link rel="stylesheet" href="{base}/flashbag.css">'
        f'<script src="{base}/flashbag.js" defer></script>'
    )


def add_static(
    app: web.Application, prefix: str = STATIC_PREFIX, *, name: str = "flashbag"
) -> web.AbstractResource:
    """Serve ``flashbag.js`` and ``flashbag.css`` under ``prefix``.

    A static route of ``app`` named ``name``; with ``@with_flashbag`` or
    ``FlashbagMixin`` it is outside every flash scope.
    """
    return app.router.add_static(prefix, STATIC, name=name)


def template_loader() -> Any:
    """A ``jinja2.FileSystemLoader`` for ``flashbag/messages.html``; combine
    it with the app's own loader in a ``jinja2.ChoiceLoader``."""
    import jinja2

    return jinja2.FileSystemLoader(str(TEMPLATES))
