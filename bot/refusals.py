"""One way for an adapter to tell the engine's outbox that a platform refused for good: a decorator
that turns the exceptions a ``classify`` function recognises into :class:`PermanentPlatformError`."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from engine.errors import PermanentPlatformError

_P = ParamSpec("_P")
_R = TypeVar("_R")
Call = Callable[_P, Coroutine[Any, Any, _R]]


def permanent_when(
    classify: Callable[[Exception], str | None],
) -> Callable[[Call[_P, _R]], Call[_P, _R]]:
    """A decorator for an adapter's outbound calls: when ``classify(exc)`` names a reason, the call
    raises :class:`PermanentPlatformError` with it (the outbox gives the message up at once); any other
    exception passes through unchanged (retried, or logged as a bug)."""

    def decorate(call: Call[_P, _R]) -> Call[_P, _R]:
        @functools.wraps(call)
        async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return await call(*args, **kwargs)
            except Exception as exc:
                reason = classify(exc)
                if reason is None:
                    raise
                raise PermanentPlatformError(reason) from exc

        return wrapper

    return decorate
