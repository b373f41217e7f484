"""Acks first: the delivery loop's turn waits while events are being answered, and never for long."""

from __future__ import annotations

import asyncio
import time

from engine.priority import AckFirst


async def test_a_turn_waits_for_the_answers_in_flight() -> None:
    gate = AckFirst(max_wait_s=5.0)
    order: list[str] = []

    async def answer() -> None:
        with gate.answering():
            await asyncio.sleep(0.05)
            order.append("answered")

    async def deliver() -> None:
        await asyncio.sleep(0)  # the answer starts first
        await gate.turn()
        order.append("posted")

    await asyncio.gather(answer(), deliver())
    assert order == ["answered", "posted"]
    assert gate.in_flight == 0


async def test_a_storm_of_answers_holds_a_turn_back_only_max_wait() -> None:
    gate = AckFirst(max_wait_s=0.1)
    with gate.answering():
        t = time.monotonic()
        await gate.turn()
        waited = time.monotonic() - t
    assert 0.08 <= waited < 2.0
    t = time.monotonic()
    await gate.turn()  # nothing in flight: no wait at all
    assert time.monotonic() - t < 0.05


async def test_an_answer_that_fails_still_ends_its_count() -> None:
    gate = AckFirst()
    try:
        with gate.answering():
            raise ValueError("boom")
    except ValueError:
        pass
    assert gate.in_flight == 0
