"""Messages rendered when read, in the reader's language, and the options a
stored message carries (docs/translations.rst).

A message entry of the stored form is ``[set_at, category, message]``
(``1`` after it for ``Markup``); a message with extra tags or a lazy one
has a JSON object of options last: ``{"tags": "..."}``, ``{"lazy":
{parameters}, "context": "..."}``, the message being then the id. A plain
message has none, so it costs the bytes it always did.
"""

from __future__ import annotations

import inspect
import logging
import re
import string
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeAlias

from aiohttp import web

from ._rule import JSON, Flash
from ._stored import Refused, copied, plain

logger: Final = logging.getLogger("aiohttp_flashbag")

#: ``setup(app, translate=...)``: ``(request, message_id, parameters,
#: context) -> str``, the finished text in the reader's language.
Translate: TypeAlias = Callable[[web.Request, str, dict[str, JSON], "str | None"], str]


class LazyMessage:
    """A message flashed untranslated: the id, its parameters and its context.

    Made by :func:`lazy`; rendered when a request reads it, by that app's
    ``translate`` (``str.format`` of the id with the parameters without one).
    """

    __slots__ = ("context", "message_id", "parameters")

    message_id: str
    context: str | None
    parameters: dict[str, JSON]

    def __init__(
        self, message_id: str, context: str | None, parameters: dict[str, JSON]
    ) -> None:
        self.message_id = message_id
        self.context = context
        self.parameters = parameters

    def __repr__(self) -> str:
        args = [repr(self.message_id)]
        if self.context is not None:
            args.append(f"context={self.context!r}")
        args += [f"{name}={value!r}" for name, value in self.parameters.items()]
        return f"lazy({', '.join(args)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LazyMessage):
            return NotImplemented
        return (self.message_id, self.context, self.parameters) == (
            other.message_id,
            other.context,
            other.parameters,
        )

    __hash__ = None  # type: ignore[assignment]  # its parameters can change


def lazy(
    message_id: str, /, *, context: str | None = None, **parameters: Any
) -> LazyMessage:
    """A message to render when it is read, in the reader's language.

    ``flash(request, lazy("Saved {count} items", count=3))`` stores the id,
    the ``context`` and the ``parameters`` (JSON data, checked here), never
    text; a read renders it with ``setup(app, translate=...)``, or with
    ``message_id.format(**parameters)`` without one.
    """
    if not isinstance(message_id, str):
        raise TypeError(f"lazy(): the message id must be a str, got {message_id!r}")
    if context is not None and not isinstance(context, str):
        raise TypeError(
            f"lazy({message_id!r}): context must be a str or None, got {context!r}"
        )
    try:
        # plain text, as JSON writes it: a Markup id is not kept as Markup,
        # and a str enumeration's member is its text, not its name
        text = str(plain(message_id))
        if context is not None:
            context = str(plain(context))
        # depth 2: as the parameters sit in the stored options
        checked = {name: plain(value, 2) for name, value in parameters.items()}
    except Refused as exc:
        raise TypeError(
            f"lazy({message_id!r}): the parameters must be JSON data: {exc}"
        ) from None
    return LazyMessage(text, context, checked)


def options_of(message: Any, category: str, extra_tags: str) -> dict[str, Any] | None:
    """The stored options of a message flashed with ``extra_tags``: ``None``
    for a plain one. TypeError, naming the category, for extra tags that are
    not text.
    """
    if not isinstance(extra_tags, str):
        raise TypeError(
            f"flash({category!r}): extra_tags must be a str, got {extra_tags!r}"
        )
    options: dict[str, Any] = {}
    if extra_tags:
        try:
            options["tags"] = plain(extra_tags)  # text, as JSON writes it
        except Refused as exc:
            raise TypeError(f"flash({category!r}): extra_tags: {exc}") from None
    if isinstance(message, LazyMessage):
        try:  # checked again: its attributes may have changed since lazy()
            options["lazy"] = plain(message.parameters, 1)
            if message.context is not None:
                options["context"] = plain(message.context)
        except Refused as exc:
            raise TypeError(
                f"flash({category!r}): {message!r} holds what cannot be stored: {exc}"
            ) from None
    return options or None


def is_lazy(flash: Flash) -> bool:
    return flash.options is not None and "lazy" in flash.options


_CONVERSIONS: Final[dict[str | None, Callable[[Any], Any]]] = {
    None: lambda value: value,
    "s": str,
    "r": repr,
    "a": ascii,
}


#: ``[key]`` after a field's name: an index into a parameter, as in str.format
_INDEX: Final = re.compile(r"\[([^\[\]]+)\]")


def formatted(message_id: str, parameters: Mapping[str, Any]) -> str:
    """``message_id.format(**parameters)``, for fields by name, indexed as
    ``str.format`` indexes (``{user[name]}``, ``{items[0]}``), with a format
    spec of small numbers: the id may come from a cookie the visitor can
    write, and ``{x.__class__}`` or a width of a billion must not reach
    ``str.format``. ``ValueError`` for anything else, ``LookupError`` or
    ``TypeError`` for a parameter or an index that is not there.
    """
    parts = []
    for literal, field, spec, conversion in string.Formatter().parse(message_id):
        parts.append(literal)
        if field is None:
            continue
        name, bracket, rest = field.partition("[")
        indexes = _INDEX.findall(bracket + rest)
        if (
            not name.isidentifier()
            or "".join(f"[{index}]" for index in indexes) != bracket + rest
            or conversion not in _CONVERSIONS
            or "{" in (spec or "")
            or any(len(digits) > 3 for digits in re.findall(r"\d+", spec or ""))
        ):
            raise ValueError(f"the field {{{field}}} is not a plain named field")
        value = parameters[name]
        for index in indexes:  # JSON data: objects, arrays and text index
            if not isinstance(value, (dict, list, str)):
                raise TypeError(f"{{{field}}}: {type(value).__name__} has no items")
            value = value[int(index) if index.isdigit() else index]
        value = _CONVERSIONS[conversion](value)
        parts.append(format(value, spec or ""))
    return "".join(parts)


def render(flash: Flash, request: Any, translate: Translate | None) -> str:
    """The text of a lazy message for ``request``; never raises.

    If ``translate`` or the formatting fails, the id as written, with a
    WARNING that names it and the error.
    """
    options: Mapping[str, Any] = flash.options or {}
    message_id = str(flash.value)
    parameters: dict[str, JSON] = copied(options.get("lazy", {}))  # type: ignore[assignment]
    try:
        if translate is None:
            return formatted(message_id, parameters)
        text = translate(request, message_id, parameters, options.get("context"))
        if not isinstance(text, str):
            if inspect.iscoroutine(text):  # closed: it is never awaited
                text.close()
                raise TypeError(
                    "translate returned a coroutine: it must be synchronous "
                    "and return the text (reads of flashes are synchronous)"
                )
            raise TypeError(f"translate returned a {type(text).__name__}, not a str")
        return str(text)
    except Exception as exc:  # a page is never an error because of a message
        logger.warning(
            "Cannot render the message %r (%s: %s); showing it as written",
            message_id,
            type(exc).__name__,
            exc,
        )
        return message_id
