"""On SQLite the admissions of one process wait their turn on an asyncio lock, not in the database's busy
handler; a wait that runs out answers like a busy database and never leaves the lock held."""

from __future__ import annotations

import asyncio

import pytest

from engine.store.repo import _acquire


async def test_a_wait_that_runs_out_raises_and_leaves_the_lock_to_its_holder() -> None:
    lock = asyncio.Lock()
    await lock.acquire()
    with pytest.raises(TimeoutError):
        await _acquire(lock, 0.05)
    assert lock.locked()  # still the first holder's
    lock.release()
    assert not lock.locked()  # the timed-out wait took nothing
    await _acquire(lock, 0.05)
    assert lock.locked()
    lock.release()


async def test_a_cancelled_wait_takes_nothing() -> None:
    lock = asyncio.Lock()
    await lock.acquire()
    waiter = asyncio.ensure_future(_acquire(lock, 5.0))
    await asyncio.sleep(0.01)
    waiter.cancel()
    lock.release()  # granted to the waiter at about the moment it is cancelled
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.sleep(0)
    assert not lock.locked()


async def test_turns_are_taken_in_order() -> None:
    lock = asyncio.Lock()
    order: list[int] = []

    async def one(i: int) -> None:
        await _acquire(lock, 5.0)
        try:
            await asyncio.sleep(0.001)
            order.append(i)
        finally:
            lock.release()

    await asyncio.gather(*(one(i) for i in range(10)))
    assert order == list(range(10))
