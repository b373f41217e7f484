"""Acks first: the chat platforms give an event's answer 3 s, and a post in a thread has no such deadline.

The adapters, the engine's ack path and the delivery loop share one event loop (and, on the embedded
store, one database file). When 50 people type ``/campaign`` at once, the delivery loop would post the
first campaigns' roots and status lines between the commands still being answered, and every answer would
wait behind those writes and platform calls. :class:`AckFirst` counts the events being handled; the
delivery loop calls :meth:`AckFirst.turn` between its steps and waits, at most :data:`MAX_WAIT_S` a
step, until none is.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

MAX_WAIT_S = 0.5  # the longest a delivery step waits for answers in flight (then it goes on anyway)


class AckFirst:
    def __init__(self, max_wait_s: float = MAX_WAIT_S) -> None:
        self.max_wait_s = max_wait_s
        self.in_flight = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Around the handling of one event, up to its answer."""
        self.in_flight += 1
        self._quiet.clear()
        try:
            yield
        finally:
            self.in_flight -= 1
            if self.in_flight == 0:
                self._quiet.set()

    async def turn(self) -> None:
        """Wait until no event is being answered, or ``max_wait_s`` at most (a storm of events slows the
        posts down but never stops them)."""
        if self.in_flight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._quiet.wait(), self.max_wait_s)


async def no_wait() -> None:
    """The turn of a delivery loop that answers no events itself (tests, tools)."""
