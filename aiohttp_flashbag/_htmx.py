"""htmx: its client-side redirects, and messages delivered in ``HX-Trigger``
(docs/htmx.rst).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from multidict import CIMultiDict

from ._flashbag import Flashbag
from ._rule import Flash

#: htmx and common proxies refuse longer headers; messages that do not fit
#: stay unseen.
HX_TRIGGER_LIMIT: Final = 4096
#: The headers of htmx's client-side redirects, in lower case.
_REDIRECTING: Final = frozenset({"hx-redirect", "hx-location", "hx-refresh"})


def redirects(headers: CIMultiDict[str]) -> bool:
    """Do these response headers send the browser elsewhere (or reload)?"""
    if _REDIRECTING.isdisjoint(map(str.lower, headers)):
        return False  # one pass over the names, where each look-up is another
    return (
        "HX-Redirect" in headers  # htmx follows these whatever the status
        or "HX-Location" in headers
        or headers.get("HX-Refresh") == "true"
    )


def listens(headers: Mapping[str, str]) -> bool:
    """Is the request one of htmx's that reads ``HX-Trigger`` from the answer?

    htmx loads a page missing from its history cache with ``HX-Request`` as
    well, but never reads that answer's triggers (docs/htmx.rst).
    """
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def deliver(
    headers: CIMultiDict[str], event: str, bag: Flashbag, unseen: Iterable[Flash]
) -> list[Flash]:
    """Add ``event`` with the unseen messages to ``HX-Trigger``, keeping what
    is there, while the header fits ``HX_TRIGGER_LIMIT`` bytes; returns the
    messages delivered.
    """
    triggers: dict[str, Any] = {}
    for value in headers.getall("HX-Trigger", []):
        existing = value.strip()
        if existing.startswith("{"):
            try:
                parsed = json.loads(existing)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                return []  # not one to merge into: kept as it is
            triggers.update(parsed)
        elif existing:  # a comma-separated list of event names
            for name in existing.split(","):
                if name.strip():
                    triggers.setdefault(name.strip(), None)
    earlier = triggers.get(event)
    if earlier is not None and not isinstance(earlier, list):
        return []  # the handler's own detail for the event: kept as it is
    detail = list(earlier or ())
    triggers[event] = detail
    size = len(json.dumps(triggers))
    delivered: list[Flash] = []
    for flash in unseen:
        message = bag.as_message(flash)  # rendered, with its level and tags
        item = {
            "category": message.category,
            "message": message.message,
            "level": message.level,
            "tags": message.tags,
        }
        grown = size + len(json.dumps(item)) + (2 if detail else 0)
        if grown > HX_TRIGGER_LIMIT:
            break
        detail.append(item)
        delivered.append(flash)
        size = grown
    if delivered:
        headers["HX-Trigger"] = json.dumps(triggers)
    return delivered
