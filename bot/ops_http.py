"""The service's own health, readiness and metrics over HTTP (``CAMPAIGNBOT_OPS_PORT``), for an orchestrator
(Kubernetes probes) and Prometheus; loopback by default (``CAMPAIGNBOT_OPS_HOST``).

- ``GET /healthz`` (liveness): 200 while the delivery loop runs.
- ``GET /readyz`` (readiness): 200 when the database and the queue answer (one cheap read each).
- ``GET /metrics``: Prometheus text (:mod:`engine.metrics`); the gauges kept in the database or the queue
  (queue depth, live workers, posts owed, dead letters) are read at scrape time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from engine import metrics
from engine.engine import Engine
from engine.store.db import lock_wait

logger = logging.getLogger(__name__)

READ_TIMEOUT_S = 2.0  # a probe answers within this, whatever the database does


async def _refresh(engine: Engine) -> None:
    owed, dead = await engine.repo.outbox_counts()
    metrics.OUTBOX_OWED.set(owed)
    metrics.DEAD_LETTERS.set(dead)
    metrics.QUEUE_DEPTH.set(await engine.queue.depth())
    recent = time.time() - 2 * engine.settings.job_lease_seconds
    states = Counter(
        w.state for w in await engine.queue.workers() if w.last_seen >= recent and w.state != "stopped"
    )
    for state in ("starting", "ready", "busy"):
        metrics.WORKERS_LIVE.labels(state).set(states.get(state, 0))


def app(engine: Engine, delivery: asyncio.Task[None] | None) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        if delivery is not None and delivery.done():
            return web.json_response({"ok": False, "status": "the delivery loop stopped"}, status=503)
        return web.json_response({"ok": True, "status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        try:
            with lock_wait(READ_TIMEOUT_S):
                await asyncio.wait_for(engine.repo.outbox_counts(), READ_TIMEOUT_S)
                await asyncio.wait_for(engine.queue.depth(), READ_TIMEOUT_S)
        except Exception as exc:  # any failure to answer means "not ready"; the reason is logged, not shown
            logger.warning("readiness: the database or the queue does not answer: %s", type(exc).__name__)
            return web.json_response(
                {"ok": False, "status": "the database or the queue does not answer"}, status=503
            )
        return web.json_response({"ok": True, "status": "ok"})

    async def metrics_page(_: web.Request) -> web.Response:
        try:
            with lock_wait(READ_TIMEOUT_S):
                await asyncio.wait_for(_refresh(engine), READ_TIMEOUT_S)
        except Exception as exc:  # the counters are still worth serving
            logger.warning("metrics: could not read the stored gauges: %s", type(exc).__name__)
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    a = web.Application()
    a.add_routes(
        [web.get("/healthz", healthz), web.get("/readyz", readyz), web.get("/metrics", metrics_page)]
    )
    return a


async def serve(
    engine: Engine, host: str, port: int, delivery: asyncio.Task[None] | None = None
) -> web.AppRunner:
    runner = web.AppRunner(app(engine, delivery), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
