"""The inference worker (``campaignbot worker``): loads the models once, warms up, then takes jobs from
the queue, reports progress (which renews its lease), stores images in the artifact store and hands each
variant back through the queue as soon as it is composed (its card is posted before the round is done), then
the typed result of the whole round. It talks to the engine only through the queue's consumer protocol
(:class:`engine.queue.JobConsumer`), never to a chat platform or to the engine's database tables.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gc
import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError

from engine import messages as say
from engine import metrics
from engine.artifacts import LocalArtifacts
from engine.brief import Brief
from engine.errors import CampaignbotError, JobError, UserError
from engine.inference import heap
from engine.inference.record import Round, Variant, write_round, write_variant
from engine.inference.studio import RoundAsk, Studio
from engine.jobs import Cancelled, Job, JobSpec, RoundResult, VariantResult
from engine.queue import EXIT_RECYCLE, JobConsumer, worker_name
from engine.settings import Settings
from engine.steering import Steering

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
GPU_BATCH_JOBS = 8  # jobs batched on a GPU when worker_batch_jobs is unset (not measured here: no GPU)
QUEUE_RETRY_MAX_S = 10.0  # back-off cap while the database is locked or away
QUEUE_RETRIES_WHEN_STOPPING = 3  # a stopping worker gives up on the database after this many tries
# Words of errors after which a CUDA context is poisoned: every later kernel in the process fails too.
_STICKY_DEVICE_ERRORS = (
    "cuda error",
    "device-side assert",
    "illegal memory access",
    "cublas_status",
    "cudnn_status",
    "unspecified launch failure",
    "misaligned address",
)
_OOM_WORDS = ("out of memory", "can't allocate memory", "cannot allocate memory")


class _Stopping(Exception):  # noqa: N818
    """The worker is shutting down: give the job back."""


@dataclass
class _Run:
    """One job as a worker runs it: its progress callback, lease renewal and timings."""

    job: Job
    state: dict[str, Any]
    started: float  # time.perf_counter() when it was taken
    progress: Callable[[str, float], None] = lambda stage, frac: None
    renewer: asyncio.Task[None] | None = None
    progress_s: float = 0.0  # time its generation spent waiting on progress reports
    folder: str = ""  # its round's folder in the artifact store
    handed: set[int] = dataclasses.field(default_factory=set)  # variants handed back while it was made
    on_variant: Callable[[Variant], None] | None = None


def lower_priority(settings: Settings) -> None:
    """Add ``worker_nice`` to this process's niceness (``campaignbot worker`` does at start): on a host the
    worker shares with the bot, answers to chat events and the database go before generation."""
    if settings.worker_nice:
        try:
            os.nice(settings.worker_nice)
        except OSError as exc:
            logger.warning("could not lower the worker's priority: %s", exc)


def is_out_of_memory(exc: BaseException) -> bool:
    """The device (CUDA) or the host (a CPU allocation) ran out of memory: worth one smaller-batch try."""
    if isinstance(exc, torch.OutOfMemoryError | MemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(w in str(exc).lower() for w in _OOM_WORDS)


def is_sticky_device_error(exc: BaseException) -> bool:
    """An error that leaves the process's device unusable (a CUDA error, a device-side assert): the job is
    retried in a fresh process, never in this one."""
    if is_out_of_memory(exc):
        return False
    accelerator_error = getattr(torch, "AcceleratorError", None)
    if accelerator_error is not None and isinstance(exc, accelerator_error):
        return True
    return isinstance(exc, RuntimeError) and any(w in str(exc).lower() for w in _STICKY_DEVICE_ERRORS)


def free_device_memory() -> None:
    """Give back what a failed generation held: Python garbage, then the CUDA caching allocator's blocks."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def round_ask(spec: JobSpec, progress: Any, on_variant: Any = None) -> RoundAsk:
    """The studio's request for the round a job asks for (``on_variant``: called with each finished
    creative, as soon as it is composed)."""
    brief = Brief.from_dict(spec.brief)
    common = {
        "on_variant": on_variant,
        "variants": spec.variants,
        "size": spec.size,
        "seed": spec.seed,
        "progress": progress,
        "cta": spec.cta,
    }
    if spec.parent is None or spec.fresh:
        return RoundAsk(brief, colour=spec.colour, **common)
    assert spec.parent_variant is not None
    return RoundAsk(
        brief,
        parent=Round.from_dict(spec.parent),
        choice=spec.parent_variant,
        steering=Steering(colour=spec.colour, strength=spec.strength, length_step=spec.length_step),
        note=spec.instruction,
        **common,
    )


def as_job_round(spec: JobSpec, rnd: Round) -> Round:
    """The studio's round numbered as the job's (a fresh round of a campaign records where it came from)."""
    rnd.number = spec.round_number
    if spec.parent is not None and spec.fresh:
        rnd.parent_round = int(spec.parent["round"])
        rnd.instruction = spec.instruction
    return rnd


def run_spec(studio: Studio, spec: JobSpec, progress: Any, on_variant: Any = None) -> Round:
    """Make the round a job asks for."""
    [made] = studio.make_rounds([round_ask(spec, progress, on_variant)])
    if isinstance(made, Exception):
        raise made
    return as_job_round(spec, made)


def run_specs(studio: Studio, specs: list[tuple[JobSpec, Any, Any]]) -> list[Round | Exception]:
    """Make several jobs' rounds together (see :meth:`Studio.make_rounds`); each job's outcome on its own.
    ``specs``: (spec, progress, on_variant) per job."""
    made = studio.make_rounds([round_ask(spec, progress, on_variant) for spec, progress, on_variant in specs])
    return [
        m if isinstance(m, Exception) else as_job_round(spec, m)
        for (spec, _, _), m in zip(specs, made, strict=True)
    ]


def variant_result(v: Variant, folder: str) -> VariantResult:
    """The typed record of one written variant, its image named relative to the artifact store."""
    return VariantResult(
        index=v.index,
        headline=v.copy.headline,
        body=v.copy.body,
        cta=v.copy.cta,
        image=f"{folder}/variant-{v.index}.png",
        visual=v.visual.to_dict(),
        palette_index=v.palette_index,
        colour_hint=v.colour_hint,
    )


def round_result(rnd: Round, folder: str) -> RoundResult:
    """The typed result of a written round: every file named relative to the artifact store."""
    return RoundResult(
        round=rnd.to_dict(),
        dir=folder,
        sheet=f"{folder}/contact-sheet.png",
        variants=[variant_result(v, folder) for v in rnd.variants],
        size=rnd.size,
        seed=rnd.seed,
        models=dict(rnd.models),
        timings=dict(rnd.timings),
    )


def stage_times(
    timings: dict[str, float], progress_s: float, complete_s: float, started: float, job: Job
) -> dict[str, float]:
    """Where a finished job's seconds went, for its "done" log line: the round's own stages (``copy_s``,
    ``visual_s``, ``compose_s``: each includes the progress reports made inside it; ``write_s`` the PNGs
    and records; ``store_s`` publishing to the artifact store), then ``progress_s`` (of those stages, the
    time spent waiting on progress reports), ``complete_s`` (handing the result back), ``other_s`` (the
    rest of the time since the job was taken: nothing named) and ``wait_s`` (time queued before it was
    taken, not part of the run)."""
    out = {k: round(v, 3) for k, v in timings.items()}
    out["progress_s"] = round(progress_s, 3)
    out["complete_s"] = round(complete_s, 3)
    total = time.perf_counter() - started
    out["other_s"] = round(max(0.0, total - sum(timings.values()) - complete_s), 3)
    out["wait_s"] = round(max(0.0, time.time() - job.created_at - total), 3)
    return out


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
        queue: JobConsumer,
        artifacts: LocalArtifacts,
        *,
        name: str | None = None,
        lease_s: float | None = None,
        poll_s: float = 0.5,
        studio: Studio | None = None,
    ):
        self.settings = settings
        self.queue = queue
        self.artifacts = artifacts
        self.name = name or worker_name()
        self.lease_s = lease_s or settings.job_lease_seconds
        self.stall_s = settings.job_stall_seconds
        self.exit_code = 0  # EXIT_RECYCLE once this process should be replaced
        self.poll_s = poll_s
        self.studio = studio or Studio(settings)
        self.stop = asyncio.Event()
        self.jobs_done = 0
        # what the health endpoints read (bot.worker_http)
        self.ready = False  # models loaded and warmed up
        self.queue_ok = True  # the last queue call succeeded (False while retrying with back-off)
        self.current: Job | None = None  # the first job of the batch it runs
        self.current_jobs: list[Job] = []  # every job of that batch
        self.current_since: float | None = None  # time.monotonic() when the current job was taken

    async def _beat(self, state: str) -> None:
        await self._retry(
            "heartbeat",
            lambda: self.queue.heartbeat(self.name, state, device=str(self.studio.device), pid=os.getpid()),
        )

    async def _retry(self, what: str, call: Callable[[], Awaitable[_T]]) -> _T:
        """``call()``, again with back-off while the database is locked or away: the worker waits it out
        (a finished round is not lost, the process does not die and reload its models)."""
        for attempt in itertools.count():
            try:
                got = await call()
                self.queue_ok = True
                return got
            except (DBAPIError, OSError, RedisError) as exc:
                self.queue_ok = False
                metrics.QUEUE_ERRORS.inc()
                if self.stop.is_set() and attempt >= QUEUE_RETRIES_WHEN_STOPPING:
                    raise
                delay = min(QUEUE_RETRY_MAX_S, 0.5 * 2**attempt)
                logger.warning("worker %s: %s failed (%s); retrying in %.1f s", self.name, what, exc, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def run(self, *, burst: bool = False) -> int:
        """Serve jobs until stopped (or, with ``burst``, until the queue is empty)."""
        await self._beat("starting")
        heap.limit_arenas()  # before the first to_thread: see engine.inference.heap
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
        self.ready = True
        metrics.WORKER_READY.set(1)
        try:
            while not self.stop.is_set():
                jobs = await self._claim_batch()
                if not jobs:
                    if burst:
                        break
                    await self._beat("ready")
                    try:
                        await asyncio.wait_for(self.stop.wait(), self.poll_s)
                    except TimeoutError:
                        pass
                    continue
                await self._beat("busy")
                for job in jobs:
                    metrics.JOB_WAIT_SECONDS.observe(max(0.0, time.time() - job.created_at))
                self.current, self.current_since = jobs[0], time.monotonic()
                self.current_jobs = jobs
                metrics.WORKER_BUSY.set(1)
                try:
                    await self.run_jobs(jobs)
                finally:
                    heap.trim()
                    for _ in jobs:
                        metrics.JOB_RUN_SECONDS.observe(time.monotonic() - self.current_since)
                    self.current, self.current_since, self.current_jobs = None, None, []
                    metrics.WORKER_BUSY.set(0)
        finally:
            self.ready = False
            metrics.WORKER_READY.set(0)
            await self._beat("stopped")
            await self.queue.close()
        return self.exit_code

    @property
    def batch_jobs(self) -> int:
        """Most jobs taken at once: ``worker_batch_jobs``, or by device when unset. On this project's 2-core
        CPU batches of 8 finish 8 concurrent campaigns sooner (18.7 s against 24.3 s, bench/results/load.json)
        but the median campaign's last card later (18.0 s against 15.2 s): a batch holds every card back for
        its shared copy stage, and batching speeds up only the copy model, 1.6x at most on two cores. A GPU
        is mostly idle on one round's 24 rows."""
        if self.settings.worker_batch_jobs is not None:
            return self.settings.worker_batch_jobs
        return GPU_BATCH_JOBS if self.studio.device.type == "cuda" else 1

    async def _claim_batch(self) -> list[Job]:
        """The next job, and up to ``worker_batch_jobs`` in all: the ones ready now, and those that become
        ready within ``worker_batch_window_ms`` of the first (so a lone job waits at most that long)."""
        first = await self._retry("claim", lambda: self.queue.claim(self.name, self.lease_s))
        if first is None:
            return []
        jobs = [first]
        limit = self.batch_jobs
        # the window stays well inside the lease of the jobs already taken (nothing renews them yet)
        window = min(self.settings.worker_batch_window_ms / 1000, self.lease_s / 4)
        deadline = time.monotonic() + window
        while len(jobs) < limit and not self.stop.is_set():
            job = await self._retry("claim", lambda: self.queue.claim(self.name, self.lease_s))
            if job is not None:
                jobs = [j for j in jobs if j.id != job.id] + [job]  # taken again: the newer delivery
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                break
            await asyncio.sleep(min(left, 0.01))
        return jobs

    async def run_job(self, job: Job) -> None:
        """Make one job's round and hand it back (a batch of one)."""
        await self.run_jobs([job])

    async def run_jobs(self, jobs: list[Job]) -> None:
        """Make the rounds of ``jobs`` together (one job: alone, with the out-of-memory retry), then hand
        each back on its own: one job's error, cancellation or lost lease never touches its batch-mates."""
        runs = [self._start(job) for job in jobs]
        # A job delivered again (its worker died, hung or failed on it) runs alone, after the batch: a job
        # that kills or hangs its worker then takes no batch-mates with it a second time.
        fresh = [r for r in runs if r.job.attempts <= 1]
        groups = ([fresh] if fresh else []) + [[r] for r in runs if r.job.attempts > 1]
        try:
            for group in groups:
                if len(group) == 1:
                    try:
                        outcomes: list[Round | BaseException] = [
                            await self._make_round(group[0].job, group[0].progress, group[0].on_variant)
                        ]
                    except Exception as exc:
                        outcomes = [exc]
                else:
                    outcomes = await self._make_rounds(group)
                for run, outcome in zip(group, outcomes, strict=True):
                    await self._finish(run, outcome)
        finally:
            for run in runs:
                if run.renewer is not None:
                    run.renewer.cancel()

    def _start(self, job: Job) -> _Run:
        """A job's run: its progress callback (which raises to stop or cancel it) and lease renewal."""
        loop = asyncio.get_running_loop()
        logger.info("job %s: start (delivery %d)", job.id, job.attempts)
        state: dict[str, Any] = {"stage": "starting", "pct": 0, "at": time.monotonic()}
        run = _Run(job=job, state=state, started=time.perf_counter())

        def progress(stage: str, frac: float) -> None:
            if self.stop.is_set():
                raise _Stopping()
            t = time.perf_counter()
            state["stage"], state["pct"], state["at"] = stage, int(frac * 100), time.monotonic()
            report = self._retry(
                "progress", lambda: self.queue.progress(job.id, self.name, stage, state["pct"], self.lease_s)
            )
            ok = asyncio.run_coroutine_threadsafe(report, loop).result(timeout=120)
            run.progress_s += time.perf_counter() - t
            if not ok:
                raise Cancelled()

        run.folder = self.artifacts.round_dir(job.spec.campaign_id, job.spec.round_number)

        def on_variant(v: Variant) -> None:
            """A variant is composed (in the studio's thread): write its image, publish it, and only then
            hand it back, so the engine can post its card before the round is done."""
            write_variant(v, self.artifacts.path(run.folder))
            ok = asyncio.run_coroutine_threadsafe(self._hand_back(job, run.folder, v), loop).result(
                timeout=120
            )
            if not ok:
                raise Cancelled()
            run.handed.add(v.index)

        run.progress, run.on_variant = progress, on_variant
        run.renewer = asyncio.create_task(self._renew_while_progressing(job, state))
        return run

    async def _make_rounds(self, runs: list[_Run]) -> list[Round | BaseException]:
        """Several jobs' rounds in one studio batch; a job that ran out of memory in it is made again alone
        (with the smaller-batch retry of :meth:`_make_round`)."""
        logger.info("batch of %d jobs: %s", len(runs), " ".join(r.job.id for r in runs))
        made: list[Round | BaseException] = list(
            await asyncio.to_thread(
                run_specs, self.studio, [(r.job.spec, r.progress, r.on_variant) for r in runs]
            )
        )
        if any(isinstance(m, BaseException) and is_out_of_memory(m) for m in made):
            free_device_memory()
        for i, (run, m) in enumerate(zip(runs, made, strict=True)):
            if isinstance(m, BaseException) and is_out_of_memory(m):
                logger.warning(
                    "job %s: out of memory in a batch of %d; making it alone", run.job.id, len(runs)
                )
                try:
                    made[i] = await self._make_round(run.job, run.progress, run.on_variant)
                except Exception as exc:
                    made[i] = exc
        return made

    async def _finish(self, run: _Run, outcome: Round | BaseException) -> None:
        """Store a made round and hand its result back, or report why there is none."""
        job = run.job
        log = {"job": job.id, "attempt": job.attempts}
        try:
            if isinstance(outcome, BaseException):
                raise outcome
            rnd, folder = outcome, run.folder
            t = time.perf_counter()
            written = await asyncio.to_thread(write_round, rnd, self.artifacts.path(folder), done=run.handed)
            rnd.timings["write_s"] = time.perf_counter() - t
            t = time.perf_counter()
            for path in written:  # what is not in the store yet, before the result says it is there
                await self._retry(
                    "publish", functools.partial(self.artifacts.publish, self.artifacts.name(path))
                )
            rnd.timings["store_s"] = time.perf_counter() - t
            result = round_result(rnd, folder)
            t = time.perf_counter()
            if await self._retry("complete", lambda: self.queue.complete(job.id, self.name, result)):
                self.jobs_done += 1
                metrics.JOBS_FINISHED.labels("done").inc()
                metrics.VARIANTS_MADE.inc(len(result.variants))
                logger.info(
                    "job %s: done in %.2f s %s",
                    job.id,
                    time.perf_counter() - run.started,
                    stage_times(rnd.timings, run.progress_s, time.perf_counter() - t, run.started, job),
                )
            else:
                metrics.JOBS_FINISHED.labels("lost").inc()
                logger.warning("job %s: finished but no longer ours (cancelled or taken over)", job.id)
        except Cancelled:
            metrics.JOBS_FINISHED.labels("cancelled").inc()
            logger.info("job %s: cancelled (or taken over by another worker)", job.id)
        except _Stopping:
            await self._retry("release", lambda: self.queue.release(job.id, self.name))
            metrics.JOBS_FINISHED.labels("released").inc()
            logger.info("job %s: given back to the queue (worker stopping)", job.id)
        except UserError as exc:
            message = str(exc)
            await self._retry("fail", lambda: self.queue.fail(job.id, self.name, message))
            metrics.JOBS_FINISHED.labels("user_error").inc()
            logger.info("job %s: user error: %s", job.id, exc, extra=log)
        except CampaignbotError as exc:
            message = str(exc)
            await self._retry("fail", lambda: self.queue.fail(job.id, self.name, message))
            metrics.JOBS_FINISHED.labels("failed").inc()
            logger.error("job %s: %s", job.id, exc)
        except Exception as exc:  # a bug or a device error: retried up to the delivery cap
            metrics.JOBS_FINISHED.labels("failed").inc()
            await self._failed(job, exc)

    async def _hand_back(self, job: Job, folder: str, v: Variant) -> bool:
        """Publish a finished variant's image, then report it (:meth:`JobConsumer.partial`); False when the job
        is no longer this worker's."""
        image = f"{folder}/variant-{v.index}.png"
        await self._retry("publish", lambda: self.artifacts.publish(image))
        got = variant_result(v, folder)
        return await self._retry("partial", lambda: self.queue.partial(job.id, self.name, got))

    async def _renew_while_progressing(self, job: Job, state: dict[str, Any]) -> None:
        """Renew the job's lease while its generation reports progress: a generation silent for longer than
        ``job_stall_seconds`` is not kept alive, so its lease runs out and another worker may take the job
        (this one's late ``complete`` is then refused)."""
        stalled = False
        while True:
            await asyncio.sleep(max(0.2, self.lease_s / 3))
            quiet = time.monotonic() - float(state["at"])
            if quiet > self.stall_s:
                if not stalled:
                    logger.warning(
                        "job %s: no progress for %.0f s; its lease is no longer renewed", job.id, quiet
                    )
                stalled = True
                continue
            stalled = False
            if not await self._retry(
                "heartbeat",
                lambda: self.queue.progress(
                    job.id, self.name, str(state["stage"]), int(state["pct"]), self.lease_s
                ),
            ):
                return

    async def _make_round(self, job: Job, progress: Any, on_variant: Any = None) -> Round:
        """The round of ``job``; after running out of memory, caches are freed and it is tried once more in
        smaller batches (``worker_oom_batch``); a second time it fails cleanly, with a friendly message."""
        try:
            return await asyncio.to_thread(run_spec, self.studio, job.spec, progress, on_variant)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            logger.warning(
                "job %s: out of memory (%s); trying once more in batches of %d",
                job.id,
                exc,
                self.settings.worker_oom_batch,
            )
        free_device_memory()
        self.studio.max_batch = self.settings.worker_oom_batch
        try:
            return await asyncio.to_thread(run_spec, self.studio, job.spec, progress, on_variant)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            logger.error("job %s: out of memory again in smaller batches (%s)", job.id, exc)
            free_device_memory()
            raise JobError(say.OUT_OF_MEMORY) from exc
        finally:
            self.studio.max_batch = None

    async def _failed(self, job: Job, exc: Exception) -> None:
        """An unexpected error: the job is retried (up to the delivery cap). After a sticky device error the
        retry happens in a fresh process: this one stops with :data:`EXIT_RECYCLE`."""
        error = f"internal error ({type(exc).__name__})"
        sticky = is_sticky_device_error(exc)
        if sticky:
            logger.error(
                "job %s: device error; this worker process stops and a fresh one takes over",
                job.id,
                exc_info=exc,
            )
        else:
            logger.error("job %s: failed", job.id, exc_info=exc)
        await self._retry("fail", lambda: self.queue.fail(job.id, self.name, error, retry=True))
        if sticky:
            self.exit_code = EXIT_RECYCLE
            self.stop.set()


def health(settings: Settings) -> int:
    """``campaignbot worker --health``: touch the device, load the models, print ok."""
    studio = Studio(settings)
    print(health_check(studio.device))
    studio.warm_up()
    print("models:", studio.model_names("en"))
    return 0


__all__ = [
    "EXIT_RECYCLE",
    "InferenceWorker",
    "health",
    "health_check",
    "is_out_of_memory",
    "is_sticky_device_error",
    "round_result",
    "round_ask",
    "run_spec",
    "run_specs",
    "stage_times",
]
