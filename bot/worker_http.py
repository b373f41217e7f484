"""The worker's health, readiness and metrics over HTTP (``CAMPAIGNBOT_WORKER_HTTP_PORT``), for an orchestrator
(Kubernetes probes) and for Prometheus. It only reads the worker's state; it never touches a job.

- ``GET /healthz`` (liveness): 200 while the process is sound; 503 when its job has run past
  ``job_timeout_seconds`` (hung: the orchestrator restarts the process, as the supervisor would recycle it)
  or the worker asked to be replaced (a sticky device error).
- ``GET /readyz`` (readiness): 200 once the models are loaded and warmed up and the queue answers; 503
  while loading, draining (SIGTERM) or while the queue is away.
- ``GET /metrics``: Prometheus text format (:mod:`engine.metrics`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from engine.jobs import Job
from engine.settings import Settings


class InferenceWorker(Protocol):
    """What these endpoints read of :class:`engine.inference.worker.InferenceWorker` (the bot package does
    not import the inference package: it pulls in torch)."""

    settings: Settings
    name: str
    stop: asyncio.Event
    exit_code: int
    jobs_done: int
    ready: bool
    queue_ok: bool
    current: Job | None
    current_since: float | None


def liveness(worker: InferenceWorker) -> tuple[bool, str]:
    if worker.exit_code != 0:
        return False, "this process asked to be replaced (a device error)"
    if worker.current is not None and worker.current_since is not None:
        busy = time.monotonic() - worker.current_since
        if busy > worker.settings.job_timeout_seconds:
            return False, f"job {worker.current.id} has run for {busy:.0f} s, past the job timeout"
    return True, "ok"


def readiness(worker: InferenceWorker) -> tuple[bool, str]:
    if worker.stop.is_set():
        return False, "draining"
    if not worker.ready:
        return False, "loading the models"
    if not worker.queue_ok:
        return False, "the queue does not answer"
    return True, "ok"


def app(worker: InferenceWorker) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        ok, why = liveness(worker)
        return web.json_response({"ok": ok, "status": why}, status=200 if ok else 503)

    async def readyz(_: web.Request) -> web.Response:
        ok, why = readiness(worker)
        body = {"ok": ok, "status": why, "worker": worker.name, "jobs_done": worker.jobs_done}
        return web.json_response(body, status=200 if ok else 503)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    a = web.Application()
    a.add_routes([web.get("/healthz", healthz), web.get("/readyz", readyz), web.get("/metrics", metrics)])
    return a


async def serve(worker: InferenceWorker, host: str, port: int) -> web.AppRunner:
    """Start serving; the caller cleans the runner up. ``port`` 0 picks a free one (see ``bound_port``)."""
    runner = web.AppRunner(app(worker), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    for addr in runner.addresses:
        return int(addr[1])
    raise RuntimeError("not serving")
