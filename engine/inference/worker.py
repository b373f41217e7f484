"""The inference worker process (``campaignbot worker``): loads the models once, warms up, then takes
jobs from the queue, reports progress (which renews its lease), stores images under the data dir and
hands the result back through the queue. It never talks to a chat platform.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import torch

from engine.brief import Brief
from engine.errors import CampaignbotError, UserError
from engine.inference.studio import Round, Studio, write_round
from engine.jobqueue import SqlJobQueue
from engine.jobs import Cancelled, Job, JobSpec
from engine.migrate import upgrade_async
from engine.settings import Settings
from engine.store import Worker, database_url, make_engine, now, sessionmaker

logger = logging.getLogger(__name__)


class _Stopping(Exception):  # noqa: N818
    """The worker is shutting down: give the job back."""


def run_spec(studio: Studio, spec: JobSpec, progress: Any) -> Round:
    """Make the round a job asks for."""
    brief = Brief.from_dict(spec.brief)
    if spec.parent is None or spec.fresh:
        rnd = studio.first_round(
            brief,
            variants=spec.variants,
            size=spec.size,
            seed=spec.seed,
            progress=progress,
            cta=spec.cta,
            colour=spec.colour,
        )
        rnd.number = spec.round_number
        if spec.parent is not None:
            rnd.parent_round = int(spec.parent["round"])
            rnd.instruction = spec.instruction
        return rnd
    parent = Round.from_dict(spec.parent)
    assert spec.parent_variant is not None
    rnd = studio.refine_round(
        parent,
        spec.parent_variant,
        instruction=spec.instruction,
        variants=spec.variants,
        size=spec.size,
        seed=spec.seed,
        progress=progress,
        brief=brief,
        colour=spec.colour,
        strength=spec.strength,
        cta=spec.cta,
    )
    rnd.number = spec.round_number
    return rnd


def health_check(device: torch.device) -> str:
    """Touch the device: a small matmul whose result is checked."""
    a = torch.ones(64, 64, device=device)
    v = float((a @ a).sum().item())
    if v != 64.0**3:
        raise RuntimeError(f"device {device} computed {v}, expected {64.0**3}")
    return f"ok: {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'})"


class InferenceWorker:
    def __init__(
        self,
        settings: Settings,
        *,
        name: str | None = None,
        lease_s: float | None = None,
        poll_s: float = 0.5,
        studio: Studio | None = None,
    ):
        self.settings = settings
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.lease_s = lease_s or settings.job_lease_seconds
        self.poll_s = poll_s
        self.studio = studio or Studio(settings)
        url = database_url(settings.data_dir, settings.database_url)
        self.db = make_engine(url)
        self.url = url
        self.sessions = sessionmaker(self.db)
        self.queue = SqlJobQueue(self.sessions)
        self.stop = asyncio.Event()
        self.jobs_done = 0

    async def _beat(self, state: str) -> None:
        async with self.sessions() as s, s.begin():
            w = await s.get(Worker, self.name)
            if w is None:
                s.add(
                    Worker(
                        name=self.name,
                        pid=os.getpid(),
                        device=str(self.studio.device),
                        state=state,
                        last_seen=now(),
                    )
                )
            else:
                w.state, w.last_seen, w.pid = state, now(), os.getpid()

    async def run(self, *, burst: bool = False) -> int:
        """Serve jobs until stopped (or, with ``burst``, until the queue is empty)."""
        await upgrade_async(self.url)
        await self._beat("starting")
        t = time.perf_counter()
        await asyncio.to_thread(self.studio.warm_up)
        logger.info(
            "worker %s ready on %s in %.1fs (%s)",
            self.name,
            self.studio.device,
            time.perf_counter() - t,
            health_check(self.studio.device),
        )
        await self._beat("ready")
        try:
            while not self.stop.is_set():
                job = await self.queue.claim(self.name, self.lease_s)
                if job is None:
                    if burst:
                        break
                    await self._beat("ready")
                    try:
                        await asyncio.wait_for(self.stop.wait(), self.poll_s)
                    except TimeoutError:
                        pass
                    continue
                await self._beat("busy")
                await self.run_job(job)
        finally:
            await self._beat("stopped")
            await self.db.dispose()
        return 0

    async def run_job(self, job: Job) -> None:
        spec = job.spec
        loop = asyncio.get_running_loop()
        log = {"job": job.id, "attempt": job.attempts}
        logger.info("job %s: start (delivery %d)", job.id, job.attempts)
        state: dict[str, Any] = {"stage": "starting", "pct": 0}

        def progress(stage: str, frac: float) -> None:
            if self.stop.is_set():
                raise _Stopping()
            state["stage"], state["pct"] = stage, int(frac * 100)
            ok = asyncio.run_coroutine_threadsafe(
                self.queue.progress(job.id, self.name, stage, state["pct"], self.lease_s), loop
            ).result(timeout=60)
            if not ok:
                raise Cancelled()

        async def heartbeat() -> None:
            while True:
                await asyncio.sleep(max(0.2, self.lease_s / 3))
                if not await self.queue.progress(
                    job.id, self.name, str(state["stage"]), int(state["pct"]), self.lease_s
                ):
                    return

        hb = asyncio.create_task(heartbeat())
        try:
            rnd = await asyncio.to_thread(run_spec, self.studio, spec, progress)
            out_dir = (
                self.settings.data_dir / "images" / f"C{spec.campaign_id}" / f"round-{spec.round_number}"
            )
            await asyncio.to_thread(write_round, rnd, out_dir)
            result = {
                "round": rnd.to_dict(),
                "dir": str(out_dir.resolve()),
                "images": [str((out_dir / f"variant-{v.index}.png").resolve()) for v in rnd.variants],
                "sheet": str((out_dir / "contact-sheet.png").resolve()),
            }
            if await self.queue.complete(job.id, self.name, result):
                self.jobs_done += 1
                logger.info("job %s: done in %s", job.id, {k: round(v, 2) for k, v in rnd.timings.items()})
            else:
                logger.warning("job %s: finished but no longer ours (cancelled or taken over)", job.id)
        except Cancelled:
            logger.info("job %s: cancelled", job.id)
        except _Stopping:
            await self.queue.release(job.id, self.name)
            logger.info("job %s: given back to the queue (worker stopping)", job.id)
        except UserError as exc:
            await self.queue.fail(job.id, self.name, str(exc))
            logger.info("job %s: user error: %s", job.id, exc, extra=log)
        except CampaignbotError as exc:
            await self.queue.fail(job.id, self.name, str(exc))
            logger.error("job %s: %s", job.id, exc)
        except Exception as exc:  # a bug or a device error: retried up to the delivery cap
            logger.exception("job %s: failed", job.id)
            await self.queue.fail(job.id, self.name, f"internal error ({type(exc).__name__})", retry=True)
        finally:
            hb.cancel()


def main(argv: list[str] | None = None) -> int:
    import argparse  # noqa: PLC0415

    ap = argparse.ArgumentParser(prog="campaignbot worker", description="Run the inference worker.")
    ap.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    ap.add_argument(
        "--health", action="store_true", help="touch the device, load the models, print ok and exit"
    )
    ap.add_argument("--device", default=None)
    ap.add_argument("--name", default=None)
    a = ap.parse_args(argv)
    settings = Settings()
    if a.device:
        settings.device = a.device
    if a.health:
        studio = Studio(settings)
        print(health_check(studio.device))
        studio.warm_up()
        print("models:", studio.model_names("en"))
        return 0
    worker = InferenceWorker(settings, name=a.name)

    async def _main() -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop.set)
        return await worker.run(burst=a.burst)

    return asyncio.run(_main())


__all__ = ["InferenceWorker", "Path", "health_check", "main", "run_spec"]


if __name__ == "__main__":
    import sys

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main())
