"""Run the embedded service: the engine, its delivery loop and a supervised inference worker process,
with whichever chat adapters are configured."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from engine.adapter import ChatAdapter
from engine.service import Engine
from engine.settings import Settings
from engine.supervisor import WorkerSupervisor

logger = logging.getLogger(__name__)


async def serve(
    settings: Settings,
    adapters: list[ChatAdapter],
    *,
    front: Callable[[Engine, asyncio.Event], Coroutine[Any, Any, None]] | None = None,
    start_worker: bool = True,
) -> int:
    """Start everything, run until SIGINT/SIGTERM (or until ``front`` returns), then stop cleanly:
    the worker gives its job back to the queue, and what is still owed is posted on the next start."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    engine = Engine(settings, adapters)
    await engine.start()
    worker = WorkerSupervisor(settings.data_dir) if start_worker else None
    if worker:
        await worker.start()
        logger.info("inference worker started (log: %s)", settings.data_dir / "logs" / "worker.log")
    delivery = asyncio.create_task(engine.run(stop))
    front_task: asyncio.Task[None] | None = asyncio.create_task(front(engine, stop)) if front else None
    try:
        await stop.wait()
    finally:
        stop.set()
        if front_task:
            front_task.cancel()
            await asyncio.gather(front_task, return_exceptions=True)
        await delivery
        if worker:
            await worker.stop()
        await engine.close()
    return 0
