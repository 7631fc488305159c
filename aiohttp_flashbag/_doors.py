"""The three doors into a flash scope: the middleware for every request of
an app, the decorator for one handler or view method, the mixin for every
method of a class-based view (docs/lifecycle.rst, "Scopes").
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from aiohttp import web
from aiohttp.abc import AbstractView

from ._flashbag import Flashbag
from ._scope import get_flashbag, run_in_scope
from ._sessions import is_a

_P = ParamSpec("_P")
_R = TypeVar("_R")


# -- the middleware ------------------------------------------------------------


@web.middleware
async def flashbag_middleware(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """Open a flash scope around every request of the application.

    Install it after ``aiohttp_session.setup()`` so that it runs inside the
    session middleware.
    """
    return await run_in_scope(request, handler, request)


# -- the decorator -------------------------------------------------------------


def with_flashbag(
    handler: Callable[_P, Awaitable[_R]],
) -> Callable[_P, Coroutine[Any, Any, _R]]:
    """Run the flash lifecycle around one handler.

    Works on ``async def handler(request)``, on methods of class-based views
    (``async def get(self)``) and on ``async def handler(self, request)``;
    a call may pass the request by keyword or before other arguments.
    Other requests of the application never touch flashes. Anything but an
    ``async def`` function is refused here, not at request time.
    """
    if not inspect.iscoroutinefunction(handler):
        raise TypeError(
            "@with_flashbag wraps an `async def` handler or view method, got "
            f"{handler!r}; put it below @staticmethod/@classmethod, and make the "
            "function async"
        )

    @functools.wraps(handler)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if args and is_a(args[-1], web.BaseRequest):  # what aiohttp passes
            request: web.Request = args[-1]  # type: ignore[assignment]
        elif args and isinstance(args[0], AbstractView):  # a view's method
            request = args[0].request
        else:
            request = _other_request(args, kwargs, handler)
        return await run_in_scope(request, handler, *args, **kwargs)

    return wrapper


def _other_request(
    args: tuple[Any, ...], kwargs: dict[str, Any], handler: Callable[..., Any]
) -> web.Request:
    """The request of a call that passes it elsewhere than last (by
    keyword, or before other arguments: the signature the decorator keeps
    allows it); TypeError without one.
    """
    for arg in (*args, *kwargs.values()):
        if isinstance(arg, web.BaseRequest):
            return arg  # type: ignore[return-value]
    name = getattr(handler, "__qualname__", None) or repr(handler)  # a partial
    raise TypeError(
        f"@with_flashbag on {name}: expected the request among the arguments, "
        "or a view as the first"
    )


# -- the mixin -----------------------------------------------------------------


@types.coroutine
def _dispatch(
    view_await: Callable[[], Generator[Any, None, web.StreamResponse]],
) -> Generator[Any, None, web.StreamResponse]:
    """The view's own dispatch (its ``__await__``) as a coroutine: it starts
    only here, once the scope is open.
    """
    return (yield from view_await())


if TYPE_CHECKING:
    _ViewBase = web.View
else:
    _ViewBase = object


class FlashbagMixin(_ViewBase):
    """Run the flash lifecycle around every method of a class-based view.

    Use it before ``web.View``: ``class FormView(FlashbagMixin, web.View)``.
    ``self.flashbag`` is the request's :class:`Flashbag`.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        mro = cls.__mro__
        if AbstractView in mro and mro.index(AbstractView) < mro.index(FlashbagMixin):
            raise TypeError(
                f"{cls.__name__}: list FlashbagMixin before the view class in "
                f"the bases, as in class {cls.__name__}(FlashbagMixin, web.View)"
            )

    @property
    def flashbag(self) -> Flashbag:
        """The request's :class:`Flashbag`."""
        return get_flashbag(self.request)

    def __await__(self) -> Generator[Any, None, web.StreamResponse]:
        return run_in_scope(self.request, _dispatch, super().__await__).__await__()
