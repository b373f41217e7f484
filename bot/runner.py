"""Run the embedded service: the engine, its delivery loop and a supervised inference worker process,
with whichever chat adapters are configured."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from engine.adapter import ChatAdapter
from engine.engine import Engine
from engine.settings import Settings

logger = logging.getLogger(__name__)


async def serve(
    settings: Settings,
    adapters: list[ChatAdapter],
    *,
    front: Callable[[Engine, asyncio.Event], Coroutine[Any, Any, None]] | None = None,
    start_worker: bool | None = None,
) -> int:
    """Start everything, run until SIGINT/SIGTERM (or until ``front`` returns), then stop cleanly:
    the worker gives its job back to the queue, and what is still owed is posted on the next start.

    Every adapter's ``run(engine, stop)`` (its connection to its platform: Socket Mode, the Discord
    gateway, the playground's web server; the console just waits) runs alongside; ``front`` is one more
    such task."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    from bot.app import open_engine, supervised_worker  # noqa: PLC0415 - app imports this module's callers

    engine = await open_engine(settings, adapters)
    if start_worker is None:
        start_worker = settings.run_worker
    worker = supervised_worker(settings, engine) if start_worker else None
    if worker:
        await worker.start()
        logger.info("inference worker started (log: %s)", settings.data_dir / "logs" / "worker.log")
    delivery = asyncio.create_task(engine.run(stop))
    ops = None
    if settings.ops_port is not None:
        from bot import ops_http  # noqa: PLC0415

        ops = await ops_http.serve(engine, settings.ops_host, settings.ops_port, delivery)
        logger.info(
            "ops endpoints on http://%s:%d/ (healthz, readyz, metrics)", settings.ops_host, settings.ops_port
        )
    fronts: list[asyncio.Task[None]] = [asyncio.create_task(a.run(engine, stop)) for a in adapters]
    if front:
        fronts.append(asyncio.create_task(front(engine, stop)))
    try:
        await stop.wait()
    finally:
        stop.set()
        for t in fronts:
            t.cancel()
        for r in await asyncio.gather(*fronts, return_exceptions=True):
            if isinstance(r, Exception):
                logger.error("adapter stopped with an error: %s", r, exc_info=r)
        await delivery
        if ops is not None:
            await ops.cleanup()
        if worker:
            await worker.stop()
        await engine.close()
    return 0
