"""The worker's health server (issue 15): readiness follows loading, the queue and draining; liveness fails
for a job past the job timeout; /metrics counts finished jobs and creatives. A real worker (stand-in studio)
on a real queue, over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import aiohttp

from bot import worker_http
from engine.artifacts import LocalArtifacts
from engine.inference.worker import InferenceWorker
from engine.jobs import JobSpec, JobState
from engine.queue.sql import SqlJobQueue
from engine.settings import Settings
from engine.store.db import database_url, make_engine, sessionmaker
from engine.store.migrate import upgrade_async
from tests.fakes.studio import StandInStudio


def _spec(job_id: str) -> JobSpec:
    return JobSpec(
        id=job_id,
        kind="round",
        campaign_id=1,
        round_number=int(job_id[-1]),
        user="u",
        brief={"product": "watch"},
        variants=2,
    )


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as r:
        return r.status, await r.text()


async def test_health_readiness_and_metrics_of_a_running_worker(tmp_path: Path) -> None:
    url = database_url(tmp_path, None)
    await upgrade_async(url)
    db = make_engine(url)
    queue = SqlJobQueue(sessionmaker(db))
    settings = Settings(data_dir=tmp_path, job_timeout_seconds=0.5, _env_file=None)  # type: ignore[call-arg]
    release = threading.Event()
    first = threading.Event()

    def hang_on_second(_: StandInStudio) -> None:
        if first.is_set():
            release.wait(20)
        first.set()

    worker = InferenceWorker(
        settings,
        SqlJobQueue(sessionmaker(db)),
        LocalArtifacts(tmp_path),
        name="w1",
        poll_s=0.05,
        studio=StandInStudio(hang_on_second),  # type: ignore[arg-type]
    )
    runner = await worker_http.serve(worker, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{worker_http.bound_port(runner)}"
    task = None
    try:
        async with aiohttp.ClientSession() as http:
            status, body = await _get(http, f"{base}/readyz")
            assert status == 503 and "loading" in body  # not started yet
            assert (await _get(http, f"{base}/healthz"))[0] == 200
            before = await _get(http, f"{base}/metrics")
            assert before[0] == 200
            done_before = _sample(before[1], 'campaignbot_worker_jobs_total{outcome="done"}')
            variants_before = _sample(before[1], "campaignbot_worker_variants_total")

            await queue.enqueue(_spec("C1-R1"))
            task = asyncio.create_task(worker.run())
            for _ in range(200):
                job = await queue.get("C1-R1")
                if job is not None and job.state == JobState.DONE:
                    break
                await asyncio.sleep(0.05)
            assert (await _get(http, f"{base}/readyz"))[0] == 200
            text = (await _get(http, f"{base}/metrics"))[1]
            assert _sample(text, 'campaignbot_worker_jobs_total{outcome="done"}') == done_before + 1
            assert _sample(text, "campaignbot_worker_variants_total") == variants_before + 2
            assert "campaignbot_worker_job_run_seconds_bucket" in text

            await queue.enqueue(_spec("C1-R2"))  # this one hangs past the 0.5 s job timeout
            for _ in range(200):
                status, body = await _get(http, f"{base}/healthz")
                if status == 503:
                    break
                await asyncio.sleep(0.05)
            assert status == 503 and "past the job timeout" in body and "C1-R2" in body

            worker.stop.set()  # draining
            status, body = await _get(http, f"{base}/readyz")
            assert status == 503 and "draining" in body
    finally:
        release.set()
        worker.stop.set()
        if task is not None:
            await task
        await runner.cleanup()
        await db.dispose()


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0
