"""The three scopes over real HTTP: middleware, decorator, mixin, and nesting."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web

import aiohttp_flashbag
from aiohttp_flashbag import (
    Flashbag,
    FlashbagMixin,
    flash,
    flashbag_get,
    flashbag_set,
    get_flashed_messages,
    with_flashbag,
)

from ..conftest import COOKIE, Client, CountingStorage, make_app

SCOPES = ["middleware", "decorator", "mixin"]


async def form_get(request: web.Request) -> web.Response:
    error = flashbag_get(request, "error")
    return web.Response(text=f"form error={error}")


async def form_post(request: web.Request) -> web.Response:
    post = await request.post()
    if not post.get("name"):
        flashbag_set(request, "error", "Name is required")
        raise web.HTTPSeeOther("/")
    return web.Response(text=f"Hello, {post['name']!s}")


class FormView(FlashbagMixin, web.View):
    async def get(self) -> web.Response:
        return await form_get(self.request)

    async def post(self) -> web.Response:
        return await form_post(self.request)


async def asset(request: web.Request) -> web.Response:
    return web.Response(text="body { color: black }", content_type="text/css")


async def poll(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def form_app(scope: str, storage: Any = None) -> web.Application:
    noise: list[tuple[str, str, Any]] = [
        ("GET", "/favicon.ico", asset),
        ("GET", "/static/site.css", asset),
        ("GET", "/api/poll", poll),
    ]
    routes: list[tuple[str, str, Any]]
    if scope == "middleware":
        routes = [("GET", "/", form_get), ("POST", "/", form_post)]
    elif scope == "decorator":
        routes = [
            ("GET", "/", with_flashbag(form_get)),
            ("POST", "/", with_flashbag(form_post)),
        ]
    else:
        routes = [("*", "/", FormView)]
    return make_app(routes + noise, storage=storage, middleware=scope == "middleware")


@pytest.mark.parametrize("scope", SCOPES)
async def test_seed_form_flow(aiohttp_client: Any, scope: str) -> None:
    client: Client = await aiohttp_client(form_app(scope))

    resp = await client.post("/", data={"name": ""}, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/"
    assert COOKIE in resp.cookies

    resp = await client.get("/")
    assert await resp.text() == "form error=Name is required"

    resp = await client.get("/")
    assert await resp.text() == "form error=None"

    resp = await client.post("/", data={"name": "Ann"})
    assert await resp.text() == "Hello, Ann"


@pytest.mark.parametrize("scope", ["decorator", "mixin"])
async def test_unscoped_requests_do_not_eat_the_flash(
    aiohttp_client: Any, scope: str
) -> None:
    client: Client = await aiohttp_client(form_app(scope))
    await client.post("/", data={"name": ""}, allow_redirects=False)
    for path in ["/favicon.ico", "/static/site.css", "/api/poll", "/api/poll"]:
        resp = await client.get(path)
        assert resp.status == 200
        assert COOKIE not in resp.cookies, path
    resp = await client.get("/")
    assert await resp.text() == "form error=Name is required"


async def test_the_middleware_scopes_every_request(aiohttp_client: Any) -> None:
    """The app-wide option consumes on any page, as 0.0.3 did: its trade-off."""
    client: Client = await aiohttp_client(form_app("middleware"))
    await client.post("/", data={"name": ""}, allow_redirects=False)
    await client.get("/favicon.ico")
    resp = await client.get("/")
    assert await resp.text() == "form error=None"


@pytest.mark.parametrize("scope", SCOPES)
async def test_a_chain_of_redirects_carries_the_flash(
    aiohttp_client: Any, scope: str
) -> None:
    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/")

    routes: list[tuple[str, str, Any]] = [
        ("GET", "/hop", hop if scope == "middleware" else with_flashbag(hop))
    ]
    app = form_app(scope)
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    client: Client = await aiohttp_client(app)
    await client.post("/", data={"name": ""}, allow_redirects=False)
    resp = await client.get("/hop", allow_redirects=False)
    assert resp.status == 302
    resp = await client.get("/hop")  # follows the redirect to the page
    assert await resp.text() == "form error=Name is required"
    resp = await client.get("/")
    assert await resp.text() == "form error=None"


class TestNesting:
    async def test_middleware_and_decorator_run_the_lifecycle_once(
        self, aiohttp_client: Any
    ) -> None:
        counting = CountingStorage(aiohttp_flashbag_storage())

        @with_flashbag
        async def page(request: web.Request) -> web.Response:
            assert get_flashed_messages(request) == []
            flash(request, "from page")
            raise web.HTTPFound("/show")

        async def show(request: web.Request) -> web.Response:
            return web.json_response(get_flashed_messages(request))

        app = make_app(
            [("GET", "/", page), ("GET", "/show", show)],
            storage=counting.storage,
            middleware=True,
        )
        client: Client = await aiohttp_client(app)
        resp = await client.get("/")
        assert await resp.json() == ["from page"]
        assert counting.loads == 2
        assert counting.saves == 2  # one per request, not one per scope

    async def test_mixin_and_decorated_method(self, aiohttp_client: Any) -> None:
        class View(FlashbagMixin, web.View):
            @with_flashbag
            async def get(self) -> web.Response:
                seen = self.flashbag.get("n", 0)
                assert isinstance(seen, int)
                self.flashbag.set("n", seen + 1)
                return web.json_response(seen)

        counting = CountingStorage(aiohttp_flashbag_storage())
        client: Client = await aiohttp_client(
            make_app([("*", "/", View)], storage=counting.storage)
        )
        assert [await (await client.get("/")).json() for _ in range(3)] == [0, 1, 2]
        assert counting.loads == 3  # one session load per request, not per scope
        assert counting.saves == 3

    async def test_decorator_on_a_view_method(self, aiohttp_client: Any) -> None:
        class View(web.View):
            @with_flashbag
            async def get(self) -> web.Response:
                return web.json_response(flashbag_get(self.request, "x"))

            @with_flashbag
            async def post(self) -> web.Response:
                flashbag_set(self.request, "x", "posted")
                raise web.HTTPSeeOther("/")

            async def put(self) -> web.Response:
                try:
                    flashbag_set(self.request, "x", "never")
                except RuntimeError as exc:
                    return web.json_response(str(exc))
                return web.json_response(None)

        client: Client = await aiohttp_client(make_app([("*", "/", View)]))
        assert await (await client.post("/")).json() == "posted"
        assert await (await client.get("/")).json() is None
        error = await (await client.put("/")).json()  # the method has no scope
        for way in (
            "@aiohttp_flashbag.with_flashbag",
            "FlashbagMixin",
            "flashbag_middleware",
        ):
            assert way in error

    async def test_decorator_on_a_method_taking_the_request(
        self, aiohttp_client: Any
    ) -> None:
        class Handlers:
            def __init__(self) -> None:
                self.greeting = "hi"

            @with_flashbag
            async def set(self, request: web.Request) -> web.Response:
                flashbag_set(request, "g", self.greeting)
                raise web.HTTPSeeOther("/get")

            @with_flashbag
            async def get(self, request: web.Request) -> web.Response:
                return web.json_response(flashbag_get(request, "g"))

        handlers = Handlers()
        app = make_app([("POST", "/set", handlers.set), ("GET", "/get", handlers.get)])
        client: Client = await aiohttp_client(app)
        assert await (await client.post("/set")).json() == "hi"


def aiohttp_flashbag_storage() -> Any:
    from aiohttp_session import SimpleCookieStorage

    return SimpleCookieStorage()


class TestTheDoors:
    def test_decorator_keeps_name_doc_and_signature(self) -> None:
        async def handler(request: web.Request) -> web.Response:
            """Doc."""
            return web.Response()

        wrapped = with_flashbag(handler)
        assert wrapped.__name__ == "handler"
        assert wrapped.__doc__ == "Doc."
        assert inspect.signature(wrapped) == inspect.signature(handler)
        assert inspect.iscoroutinefunction(wrapped)

    def test_decorator_refuses_what_is_not_callable(self) -> None:
        with pytest.raises(TypeError, match="async def"):
            with_flashbag("nope")  # type: ignore[arg-type]

    async def test_decorator_needs_a_request(self) -> None:
        @with_flashbag
        async def handler(request: web.Request) -> None:
            return None

        with pytest.raises(TypeError, match="expected the request"):
            await handler("not a request")  # type: ignore[arg-type]

    def test_mixin_must_come_before_the_view(self) -> None:
        with pytest.raises(TypeError, match="FlashbagMixin before"):

            class Wrong(web.View, FlashbagMixin):  # type: ignore[misc,metaclass]
                pass

    async def test_middleware_is_called_with_request_and_handler(
        self, aiohttp_client: Any
    ) -> None:
        # An old-style (app, handler) factory would be called with the app
        # and warn (an error here); the middleware opens a scope instead.
        seen: list[bool] = []

        async def handler(request: web.Request) -> web.Response:
            seen.append(isinstance(aiohttp_flashbag.get_flashbag(request), Flashbag))
            return web.Response(text="ok")

        client: Client = await aiohttp_client(
            make_app([("GET", "/", handler)], middleware=True)
        )
        resp = await client.get("/")
        assert (resp.status, await resp.text()) == (200, "ok")
        assert seen == [True]


if TYPE_CHECKING:  # checked by mypy --strict in tests/test_quality.py
    from typing import assert_type

    class TypedView(web.View):
        @with_flashbag
        async def get(self) -> web.Response:
            return web.Response()

    @with_flashbag
    async def typed_handler(request: web.Request) -> web.Response:
        return web.Response()

    async def _signatures_are_kept(view: TypedView, request: web.Request) -> None:
        assert_type(await view.get(), web.Response)
        assert_type(await typed_handler(request), web.Response)
        await view.get(request)  # type: ignore[call-arg]
        await typed_handler(view)  # type: ignore[arg-type]


async def test_a_view_whose_scope_cannot_open_starts_no_dispatch() -> None:
    """Without the session middleware the scope refuses to open (docs/
    lifecycle.rst, "Bad input and faults"): the view's own dispatch must not
    have been started, or Python warns that it was never awaited."""
    import gc
    import warnings

    from aiohttp.test_utils import make_mocked_request

    class Page(aiohttp_flashbag.FlashbagMixin, web.View):
        async def get(self) -> web.Response:
            return web.Response(text="never")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match="session middleware"):
            await Page(make_mocked_request("GET", "/"))
        gc.collect()  # an un-awaited coroutine warns when it is collected
    assert not [w for w in caught if "never awaited" in str(w.message)]
