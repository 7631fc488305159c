"""htmx: the ``HX-Trigger`` header that delivers messages stays within 4096 bytes.

docs/lifecycle.rst, "Size" and "htmx": with ``setup(app, htmx_event=...)``
the messages a response to an htmx request would leave unseen go out in
``HX-Trigger``, in flash order, while the header value fits in 4096 bytes
(UTF-8); those that do not fit are not delivered and stay unseen, and the
lifecycle table decides what happens to them (this request's own unseen
messages are passed on; incoming ones a page did not show are consumed under
the default ``unread="drop"``). No proxy, and not aiohttp's own client,
refuses the response, whatever the visitor typed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

import aiohttp_flashbag as fb
from aiohttp_flashbag.testing import FlashRecord, Message, record_flashes

from ..conftest import Client
from ..support.sessions import MemoryStorage, Site, build_app

LIMIT = 4096
HX = {"HX-Request": "true"}


def delivered(resp: aiohttp.ClientResponse) -> list[Message]:
    """The messages of the response's ``flash`` event, checking its size."""
    values = resp.headers.getall("HX-Trigger", [])
    assert len(values) <= 1
    if not values:
        return []
    size = len(values[0].encode("utf-8"))
    assert size <= LIMIT, size
    return [
        Message(item["category"], item["message"])
        for item in json.loads(values[0]).get("flash", [])
    ]


def in_order_within(part: list[Message], whole: list[Message]) -> bool:
    """Is ``part`` a subsequence of ``whole``, in the same order?"""
    rest = iter(whole)
    return all(any(item == other for other in rest) for item in part)


# -- the app -------------------------------------------------------------------


async def prime(request: web.Request) -> web.Response:
    """Flashes what the JSON body lists, then redirects: the next incoming."""
    for category, message in await request.json():
        fb.flash(request, message, category)
    raise web.HTTPSeeOther("/elsewhere")


async def fragment(request: web.Request) -> web.Response:
    """Flashes what the JSON body lists; sets ``X-Trigger`` as its own trigger."""
    for category, message in await request.json():
        fb.flash(request, message, category)
    resp = web.Response(text="<li>fragment</li>")
    if "X-Trigger" in request.headers:
        resp.headers["HX-Trigger"] = request.headers["X-Trigger"]
    return resp


async def form(request: web.Request) -> web.Response:
    """Echoes the visitor's input in a form error, as forms do."""
    name = str((await request.post()).get("name", ""))
    fb.flash(request, f"{name} is not a valid name", "error")
    return web.Response(status=422, text="<p>error</p>")


def trigger_app() -> web.Application:
    return build_app(
        MemoryStorage(),  # no cookie to overflow: only the header is bounded
        {"/prime": prime, "/fragment": fragment, "/form": form},
        settings={"htmx_event": "flash", "max_bytes": None},
    )


def messages(prefix: str, count: int, size: int) -> list[Message]:
    return [Message("info", f"{prefix}{n}:" + "x" * size) for n in range(count)]


async def frag(
    client: Client, own: list[Message], **headers: str
) -> tuple[list[Message], FlashRecord]:
    with record_flashes() as records:
        resp = await client.post("/fragment", json=own, headers={**HX, **headers})
    assert resp.status == 200
    (record,) = records
    return delivered(resp), record


# -- this request's own messages ------------------------------------------------------


async def test_own_messages_are_delivered_in_order_while_they_fit(
    aiohttp_client: Any,
) -> None:
    client: Client = await aiohttp_client(trigger_app())
    own = messages("own", 6, 1200)
    sent, record = await frag(client, own)
    assert sent == own[:3]  # a fourth would take the header over 4096 bytes
    assert record.shown.messages == own[:3]
    # the others stay unseen: a page passes its own unseen messages on
    assert record.stored.messages == own[3:]
    sent, record = await frag(client, [])
    assert sent == own[3:]
    assert record.stored.messages == []


async def test_incoming_messages_come_first_and_unseen_ones_follow_the_table(
    aiohttp_client: Any,
) -> None:
    client: Client = await aiohttp_client(trigger_app())
    incoming = messages("in", 4, 1200)
    resp = await client.post("/prime", json=incoming, allow_redirects=False)
    assert resp.status == 303
    own = messages("own", 2, 1200)
    sent, record = await frag(client, own)
    assert sent == incoming[:3]
    assert record.shown.messages == incoming[:3]
    # unread="drop": the page consumed the incoming one it did not show;
    # its own unseen messages are passed on
    assert record.stored.messages == own


async def test_the_handlers_own_trigger_counts(aiohttp_client: Any) -> None:
    client: Client = await aiohttp_client(trigger_app())
    mine = {"itemAdded": {"html": "<li>" + "y" * 3000 + "</li>"}}
    own = messages("own", 2, 600)
    with record_flashes() as records:
        resp = await client.post(
            "/fragment", json=own, headers={**HX, "X-Trigger": json.dumps(mine)}
        )
    assert delivered(resp) == own[:1]
    assert json.loads(resp.headers["HX-Trigger"])["itemAdded"] == mine["itemAdded"]
    assert records[0].stored.messages == own[1:]


async def test_non_ascii_text_is_counted_in_utf_8(aiohttp_client: Any) -> None:
    client: Client = await aiohttp_client(trigger_app())
    own = [Message("info", f"{n}: " + "é☃😀" * 100) for n in range(8)]
    sent, record = await frag(client, own)
    assert sent, "at least one message fits"
    assert sent == own[: len(sent)]
    assert record.shown.messages == sent
    assert record.stored.messages == own[len(sent) :]


async def test_a_long_echoed_input_never_makes_the_response_unreadable(
    aiohttp_client: Any,
) -> None:
    """18 KB of visitor input in a form error: aiohttp's client refuses a
    header line over 8190 bytes, as many proxies refuse one over 4 or 8 KB.
    """
    client: Client = await aiohttp_client(trigger_app())
    name = "n" * 18_000
    with record_flashes() as records:
        resp = await client.post("/form", data={"name": name}, headers=HX)
        assert resp.status == 422
        assert await resp.text() == "<p>error</p>"
    assert delivered(resp) == []
    error = Message("error", f"{name} is not a valid name")
    assert records[0].shown.messages == []
    assert records[0].stored.messages == [error]  # unseen, passed on


# -- generated --------------------------------------------------------------------


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    served = Site(trigger_app())
    yield served
    served.close()


TEXT = st.tuples(st.sampled_from(list('xé☃😀"\\<\n')), st.integers(0, 2500)).map(
    lambda pair: pair[0] * pair[1]
)
OWN = st.lists(
    st.tuples(st.sampled_from(["info", "error", "ünïcödé"]), TEXT).map(
        lambda pair: Message(*pair)
    ),
    max_size=8,
)
HANDLER_TRIGGER = st.one_of(
    st.none(),
    st.integers(0, 4500).map(lambda n: json.dumps({"itemAdded": "z" * n})),
    st.just("itemAdded, listChanged"),
)


def unseen_of(own: list[Message], sent: list[Message]) -> list[Message]:
    """``own`` less ``sent`` (an in-order part of it), in order."""
    rest = list(sent)
    unseen = []
    for message in own:
        if rest and message == rest[0]:
            rest.pop(0)
        else:
            unseen.append(message)
    return unseen


@settings(max_examples=60)
@given(own=OWN, handler_trigger=HANDLER_TRIGGER)
def test_the_header_is_bounded_and_the_rest_stays_unseen(
    site: Site, own: list[Message], handler_trigger: str | None
) -> None:
    handler_size = 0 if handler_trigger is None else len(handler_trigger.encode())

    async def visit() -> tuple[list[str], FlashRecord]:
        headers = dict(HX)
        if handler_trigger is not None:
            headers["X-Trigger"] = handler_trigger
        async with aiohttp.ClientSession() as client:
            with record_flashes() as records:
                async with client.post(
                    site.url("/fragment"), json=own, headers=headers
                ) as resp:
                    assert resp.status == 200
                    values = resp.headers.getall("HX-Trigger", [])
            (record,) = records
        return values, record

    values, record = site.run(visit())
    assert len(values) <= 1
    if handler_size <= LIMIT:
        assert all(len(value.encode("utf-8")) <= LIMIT for value in values)
    trigger = json.loads(values[0]) if values and values[0].startswith("{") else {}
    sent = [Message(m["category"], m["message"]) for m in trigger.get("flash", [])]
    if handler_size > LIMIT:  # no room at all: the handler's header stands
        assert sent == []
        assert values == [handler_trigger]
    assert in_order_within(sent, own)
    assert record.shown.messages == sent
    assert record.stored.messages == unseen_of(own, sent)
    if own and handler_trigger is None and len(json.dumps(own[0])) < 500:
        assert sent, "the first message fits, so it is delivered"
