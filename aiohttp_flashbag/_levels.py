"""Message levels and tags, as in Django (docs/translations.rst, and
docs/coming-from.rst, "Django").

A message's category is stored; its level is looked up when it is needed
(a minimum level is set, or a reader asks ``Message.level``) in the levels
of the app that owns the route. Nothing here runs for a plain message on a
site that sets no minimum level.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, NamedTuple

DEBUG: Final = 10
INFO: Final = 20
SUCCESS: Final = 25
WARNING: Final = 30
ERROR: Final = 40

#: Django's levels for the five categories it knows; ``"message"`` (Flask's
#: default category) and any other category are ``INFO``.
LEVELS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "debug": DEBUG,
        "info": INFO,
        "success": SUCCESS,
        "warning": WARNING,
        "error": ERROR,
    }
)


def level_of(category: str, levels: Mapping[str, int] = LEVELS) -> int:
    """The level of ``category`` in ``levels``; ``INFO`` for an unknown one."""
    return levels.get(category, INFO)


class _Pair(NamedTuple):
    category: str
    message: Any


class Message(_Pair):
    """One flashed message: a ``(category, message)`` pair.

    It unpacks, compares and hashes as that pair (``copy`` and ``pickle``
    keep its extra tags and level), and offers Django's names
    too: :attr:`level`, :attr:`level_tag`, :attr:`extra_tags`, :attr:`tags`,
    and ``str(message)``, the text; so a Django template's
    ``<li class="{{ message.tags }}">{{ message }}</li>`` works unchanged
    in Jinja2 (a ``Markup`` message stays safe, other text is escaped).
    """

    #: the ``extra_tags`` it was flashed with
    extra_tags: str = ""
    #: the levels of the app that read it
    _levels: Mapping[str, int] = LEVELS

    def __new__(  # noqa: PYI034 - no typing.Self before Python 3.11
        cls, category: str, message: Any, extra_tags: str = ""
    ) -> Message:
        self = super().__new__(cls, category, message)
        if extra_tags:
            self.extra_tags = extra_tags
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        """Copied and pickled whole: the pair, the extra tags and the levels
        it was read with (the app's levels are a read-only view, which
        neither ``copy`` nor ``pickle`` takes)."""
        levels = None if self._levels is LEVELS else dict(self._levels)
        return (_rebuilt, (self.category, self.message, self.extra_tags, levels))

    def _replace(self, /, **changes: Any) -> Message:
        """A copy with ``changes`` to the pair; the extra tags stay."""
        copy = super()._replace(**changes)
        copy.__dict__.update(self.__dict__)
        return copy

    @property
    def level(self) -> int:
        """The category's level in the app that read it (``INFO`` if unknown)."""
        return level_of(self.category, self._levels)

    @property
    def level_tag(self) -> str:
        """The category, Django's name for it."""
        return self.category

    @property
    def tags(self) -> str:
        """The extra tags, then the level tag, space-separated."""
        if self.extra_tags and self.category:
            return f"{self.extra_tags} {self.category}"
        return self.extra_tags or self.category

    def __str__(self) -> str:
        return str(self.message)

    def __html__(self) -> str:
        """The text for a template: a ``Markup`` message as it is, other text
        escaped (what Jinja2 does with ``{{ message.message }}``)."""
        html_of = getattr(self.message, "__html__", None)
        if html_of is not None:
            return str(html_of())
        try:
            from markupsafe import escape
        except ImportError:  # pragma: no cover - markupsafe comes with Jinja2
            return html.escape(str(self.message))
        return str(escape(str(self.message)))

    def __repr__(self) -> str:
        tags = f", extra_tags={self.extra_tags!r}" if self.extra_tags else ""
        return f"Message(category={self.category!r}, message={self.message!r}{tags})"


def _rebuilt(
    category: str, message: Any, extra_tags: str, levels: dict[str, int] | None
) -> Message:
    """A copied or unpickled :class:`Message` (see ``Message.__reduce__``)."""
    copy = Message(category, message, extra_tags)
    if levels is not None:
        copy._levels = MappingProxyType(levels)
    return copy


def read_message(
    category: str, text: Any, options: dict[str, Any] | None, levels: Mapping[str, int]
) -> Message:
    """The :class:`Message` a read returns for a stored message."""
    message = Message(category, text, options.get("tags", "") if options else "")
    if levels is not LEVELS:
        message._levels = levels
    return message


def options_ok(options: dict[str, Any]) -> bool:
    """Are a stored message's options (JSON data: aiohttp_flashbag/_lazy.py)
    of the shapes this version writes? Keys it does not know are kept and
    ignored.
    """
    return (
        isinstance(options.get("tags", ""), str)
        and isinstance(options.get("lazy", {}), dict)
        and isinstance(options.get("context", ""), str)
    )


# -- settings ---------------------------------------------------------------------


def checked_levels(levels: Mapping[str, int] | None) -> Mapping[str, int]:
    """``setup(levels=...)`` over the default levels; TypeError if malformed."""
    if levels is None:
        return LEVELS
    if not isinstance(levels, Mapping):
        raise TypeError(
            "levels must be a mapping of category to int level, such as "
            f'{{"notice": 25}}, got {type(levels).__name__}'
        )
    for category, level in levels.items():
        if not isinstance(category, str):
            raise TypeError(f"levels: a category must be a str, got {category!r}")
        if not isinstance(level, int) or isinstance(level, bool):
            raise TypeError(f"levels[{category!r}] must be an int level, got {level!r}")
    return MappingProxyType({**LEVELS, **levels})


def checked_level(
    level: int | str | None, levels: Mapping[str, int], name: str
) -> int | None:
    """A minimum level given as an ``int``, a category or ``None``, as an
    ``int`` or ``None``; TypeError or ValueError naming ``name`` if not one.
    """
    if level is None:
        return None
    if isinstance(level, str):
        if level not in levels and level != "message":
            known = ", ".join(sorted({*levels, "message"}))
            raise ValueError(
                f"{name}: {level!r} is not a category with a level; give an int "
                f"or one of: {known} (setup(app, levels=...) adds categories)"
            )
        return level_of(level, levels)
    if not isinstance(level, int) or isinstance(level, bool):
        raise TypeError(
            f"{name} must be an int level, a category name or None, got {level!r}"
        )
    return level
