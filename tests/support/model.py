"""The reference model of the flash lifecycle, and the requests it predicts.

``expect`` is written from docs/lifecycle.rst alone ("The table", "Unread
flashes", "Messages of this request", "New sessions", "Writes", "Size") and
from docs/translations.rst (levels, the minimum level, extra tags, lazy
messages). The property tests of tests/unit/ drive the same random requests
(``OPS``, ``ENDS``, the ``scoped`` handler) on the session
(``test_stateful.py``) and on the Redis flash store (``test_redis_model.py``)
and check both against it.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp_session
from aiohttp import web
from hypothesis import strategies as st

import aiohttp_flashbag as fb

from .opsapp import finish, run_ops

#: small, so that writes and carried flashes meet it
MAX_BYTES = 200
#: the app's levels and minimum level: "trace" is below it unless a request
#: lowers it with set_level
LEVELS = {"notice": 15, "trace": 5}
MIN_LEVEL = "debug"
DJANGO_LEVELS = {"debug": 10, "info": 20, "success": 25, "warning": 30, "error": 40}


def level(category: str) -> int:
    return {**DJANGO_LEVELS, **LEVELS}.get(category, 20)


def text(message: list[Any]) -> Any:
    """What a read returns for a model message ``[category, message, at,
    options?]``: a lazy one is formatted, or shown as written if that fails."""
    options = message[3] if len(message) > 3 else {}
    if "lazy" not in options:
        return message[1]
    try:
        return str(message[1].format(**options["lazy"]))
    except (KeyError, IndexError, ValueError):
        return message[1]


def tags(message: list[Any]) -> str:
    options = message[3] if len(message) > 3 else {}
    return " ".join(t for t in (options.get("tags", ""), message[0]) if t)


# -- the reference model ---------------------------------------------------


@dataclass
class Stored:
    """The stored bag: key -> [value, set at], and [category, message, set
    at], with the message's options last if it has any."""

    values: dict[str, list[Any]] = field(default_factory=dict)
    messages: list[list[Any]] = field(default_factory=list)

    def as_session_entry(self) -> Any:
        """As tests/conftest.py's ``unstamped`` shows what the session holds."""
        values = {key: value for key, (value, _) in self.values.items()}
        if not self.messages:
            return values or None
        return [1, values, [[m[0], m[1], *m[3:]] for m in self.messages]]

    def size(self) -> int:
        """Bytes of the stored form (docs/lifecycle.rst, "Size")."""
        values = {key: [at, value] for key, (value, at) in self.values.items()}
        messages = [[m[2], m[0], m[1], *m[3:]] for m in self.messages]
        stored = {"__aiohttp_flashbag__": [2, values, messages]}
        return len(json.dumps(stored)) if self else 0

    def __bool__(self) -> bool:
        return bool(self.values or self.messages)


FAILED = {"500", "500-raised", "crash"}
REDIRECTS = {"302", "303", "hx-redirect"}


def expect(
    stored: Stored, ops: list[list[Any]], end: str, now: int, unread: str
) -> tuple[list[Any], Stored]:
    """(what each operation returns, what is stored afterwards).

    ``now`` is the time the request's writes are stamped with.
    """
    incoming = copy.deepcopy(stored)
    out: dict[str, Any] = {}
    own: list[list[Any]] = []  # [category, message, now?, shown?, options?]
    # the order of this request's writes: own flashes give way in it
    writes = iter(range(1, 10**6))
    value_seq: dict[str, int] = {}
    message_seq: list[int] = []
    min_level: int | None = level(MIN_LEVEL)
    read: set[str] = set()
    read_messages: set[int] = set()
    kept: set[str] = set()
    keep_everything = False
    carry = True
    new_session = False
    results: list[Any] = []
    for name, *args in copy.deepcopy(ops):
        result: Any = None
        if name == "get":
            read.add(args[0])
            found = incoming.values.get(args[0])
            result = found[0] if found else (args[1] if len(args) > 1 else None)
        elif name == "contains":
            result = args[0] in incoming.values
        elif name in ("messages", "messages_full"):
            with_categories, wanted = (True, args[0]) if len(args) == 1 else args
            shown = []
            for i, message in enumerate(incoming.messages):
                if not wanted or message[0] in wanted:
                    read_messages.add(i)
                    shown.append(message)
            for entry in own:
                if not wanted or entry[0] in wanted:
                    entry[3] = True
                    shown.append([entry[0], entry[1], None, *entry[4:]])
            if name == "messages_full":
                result = [[m[0], text(m), level(m[0]), tags(m)] for m in shown]
            else:
                result = [
                    [m[0], text(m)] if with_categories else text(m) for m in shown
                ]
        elif name == "get_level":
            result = min_level
        elif name == "set_level":
            wanted_level = args[0]
            if isinstance(wanted_level, str):
                wanted_level = level(wanted_level)
            min_level = wanted_level
        elif name == "set":
            out[args[0]] = args[1]
            value_seq[args[0]] = next(writes)
        elif name == "append":
            if not isinstance(out.get(args[0], []), list):
                result = {"error": "TypeError"}
            else:
                out.setdefault(args[0], []).append(args[1])
                value_seq[args[0]] = next(writes)
        elif name == "replace_all":
            out = dict(args[0])
            value_seq = {key: next(writes) for key in out}
        elif name in ("flash", "flash_now", "flash_tagged", "flash_lazy"):
            if name == "flash_lazy":
                category, message, parameters, extra_tags = args
                options = {"tags": extra_tags} if extra_tags else {}
                options["lazy"] = parameters
            else:
                message, category = args[:2]
                extra_tags = args[2] if name == "flash_tagged" else ""
                options = {"tags": extra_tags} if extra_tags else {}
            if min_level is None or level(category) >= min_level:
                entry = [category, message, name == "flash_now", False]
                own.append(entry + ([options] if options else []))
                message_seq.append(next(writes))
        elif name == "keep":
            kept.update(args)
            keep_everything = keep_everything or not args
        elif name == "clear":
            out, own, kept = {}, [], set()
            value_seq, message_seq = {}, []
            keep_everything, carry = False, False
        elif name == "log_in":
            new_session = True
        results.append(result)

    if end == "crash":
        return results, stored
    if end in FAILED:  # the visitor has the new session, and no flashes in it
        return results, Stored() if new_session else stored
    if new_session:
        values, messages = {}, []
    elif end == "HEAD":
        values, messages = incoming.values, incoming.messages
    else:
        unread_travels = carry and (end in REDIRECTS or unread == "keep")
        values = {
            k: v
            for k, v in incoming.values.items()
            if keep_everything or k in kept or (unread_travels and k not in read)
        }
        messages = [
            m
            for i, m in enumerate(incoming.messages)
            if keep_everything or (unread_travels and i not in read_messages)
        ]
    stays = [not m[2] and (end == "HEAD" or not m[3]) for m in own]
    own_stored = [m for m, kept_it in zip(own, stays, strict=True) if kept_it]
    own_seq = [n for n, kept_it in zip(message_seq, stays, strict=True) if kept_it]
    carried = Stored({k: v for k, v in values.items() if k not in out}, messages)
    after = Stored(
        {**carried.values, **{k: [v, now] for k, v in out.items()}},
        messages + [[m[0], m[1], now, *m[4:]] for m in own_stored],
    )
    # Over max_bytes, flashes give way (docs/lifecycle.rst, "Size"): first
    # own ones that could never be stored, then the oldest carried (values
    # first within a second, each in stored order), then own ones, in the
    # order they were written.
    n_carried = len(carried.messages)
    entries: list[tuple[str, Any, int]] = [
        ("v", k, at) for k, (_, at) in after.values.items()
    ] + [("m", i, m[2]) for i, m in enumerate(after.messages)]

    def alone(kind: str, which: Any) -> int:
        if kind == "v":
            return Stored({which: after.values[which]}, []).size()
        return Stored({}, [after.messages[which]]).size()

    def is_own(kind: str, which: Any) -> bool:
        return which in out if kind == "v" else which >= n_carried

    def then(kind: str, which: Any) -> int:
        if not is_own(kind, which):
            return int(kind == "m")
        return value_seq[which] if kind == "v" else own_seq[which - n_carried]

    order = sorted(
        entries,
        key=lambda e: (
            not (is_own(e[0], e[1]) and alone(e[0], e[1]) > MAX_BYTES),
            is_own(e[0], e[1]),
            e[2],
            then(e[0], e[1]),
        ),
    )
    messages_left = dict(enumerate(after.messages))

    def current() -> Stored:
        return Stored(after.values, list(messages_left.values()))

    for kind, which, _ in order:
        if current().size() <= MAX_BYTES:
            break
        if kind == "v":
            del after.values[which]
        else:
            del messages_left[which]
    after = current()
    return results, after


# -- what a request does ---------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c"])
CATEGORIES = st.sampled_from(["message", "error", "info", "notice", "trace"])
LEVEL = st.sampled_from([None, 5, 15, 20, 25, "trace", "debug", "notice", "error"])
EXTRA_TAGS = st.sampled_from(["", "a", "b c"])
#: lazy message ids: some format, some fail to (shown as written)
MESSAGE_IDS = st.sampled_from(
    ["Saved {n}", "Hi {name}!", "{n}: {name}", "Odd {", "{x}"]
)
PARAMETERS = st.fixed_dictionaries(
    {}, optional={"n": st.integers(0, 99), "name": st.text(max_size=4)}
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-1000, 1000)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=4,
)
OPS = st.one_of(
    st.tuples(st.just("get"), KEYS).map(list),
    st.tuples(st.just("get"), KEYS, JSON).map(list),
    st.tuples(st.just("contains"), KEYS).map(list),
    st.tuples(st.just("messages"), st.booleans(), st.lists(CATEGORIES, max_size=2)).map(
        list
    ),
    st.tuples(st.just("set"), KEYS, JSON).map(list),
    st.tuples(st.just("append"), KEYS, JSON).map(list),
    st.tuples(st.just("replace_all"), st.dictionaries(KEYS, JSON, max_size=2)).map(
        list
    ),
    st.tuples(
        st.sampled_from(["flash", "flash_now"]), st.text(max_size=8), CATEGORIES
    ).map(list),
    st.tuples(st.just("flash_tagged"), st.text(max_size=8), CATEGORIES, EXTRA_TAGS).map(
        list
    ),
    st.tuples(
        st.just("flash_lazy"), CATEGORIES, MESSAGE_IDS, PARAMETERS, EXTRA_TAGS
    ).map(list),
    st.tuples(st.just("messages_full"), st.lists(CATEGORIES, max_size=2)).map(list),
    st.tuples(st.just("set_level"), LEVEL).map(list),
    st.just(["get_level"]),
    st.lists(KEYS, max_size=2).map(lambda keys: ["keep", *keys]),
    st.just(["clear"]),
    st.just(["log_in"]),
)
ENDS = st.sampled_from(
    ["200", "400", "stream", "HEAD", *sorted(REDIRECTS), *sorted(FAILED)]
)
N_CLIENTS = 3


@fb.with_flashbag
async def scoped(request: web.Request) -> web.StreamResponse:
    """tests/support/opsapp.py's operations, and ``log_in``: a new session that
    holds a user, as a log in makes.
    """
    results: list[Any] = []
    for op in json.loads(request.headers["X-Ops"]):
        if op == ["log_in"]:
            session = await aiohttp_session.new_session(request)
            session["user"] = "ann"
            results.append(None)
        else:
            results += run_ops(request, [op])
    return finish(request, results)
