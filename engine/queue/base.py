"""The job queue as both ends see it. The engine produces jobs and reads their progress; the worker
consumes them. Only the composition root (``bot.app``) names an implementation (:mod:`.sql` today)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any, Protocol

from engine.jobs import Job, JobSpec, RoundResult, VariantResult, WorkerInfo


class JobProducer(Protocol):
    """The engine's side: enqueue, cancel, watch."""

    async def enqueue(self, spec: JobSpec, *, max_attempts: int = 3) -> bool: ...
    def job_row(self, spec: JobSpec, sessions: Any, *, max_attempts: int = 3) -> Any | None:
        """The row that enqueues ``spec`` when added to a write transaction of ``sessions`` (an
        ``async_sessionmaker``), or None when this queue does not live in that database: then the caller
        writes its rows and calls :meth:`enqueue` after them."""
        ...

    async def cancel(self, job_id: str) -> bool: ...
    async def get(self, job_id: str) -> Job | None: ...
    async def position(self, job_id: str) -> int: ...
    async def active_for_user(self, user: str) -> int: ...
    async def depth(self) -> int: ...
    async def unhandled(self) -> list[Job]: ...
    async def mark_handled(self, job_id: str) -> None: ...
    async def drop_older_than(self, ttl_s: float) -> list[Job]: ...
    async def workers(self) -> list[WorkerInfo]: ...
    async def close(self) -> None: ...


class JobConsumer(Protocol):
    """The worker's side: claim with a lease, report progress (renews it), hand back each variant as it is
    finished (``partial``: its files published first; the producer sees it in :attr:`Job.partial`), finish,
    say it is alive. ``progress``, ``partial`` and ``complete`` answer False when the job is no longer the
    worker's (cancelled, or taken over after its lease ran out): the worker stops."""

    async def claim(self, worker: str, lease_s: float) -> Job | None: ...
    async def progress(self, job_id: str, worker: str, stage: str, percent: int, lease_s: float) -> bool: ...
    async def partial(self, job_id: str, worker: str, variant: VariantResult) -> bool: ...
    async def complete(self, job_id: str, worker: str, result: RoundResult) -> bool: ...
    async def fail(self, job_id: str, worker: str, error: str, *, retry: bool = False) -> bool: ...
    async def release(self, job_id: str, worker: str) -> bool: ...
    async def heartbeat(self, worker: str, state: str, *, device: str, pid: int) -> None: ...
    async def close(self) -> None: ...


class JobQueue(JobProducer, JobConsumer, Protocol):
    """A queue implementation serves both ends."""


# The exit status of a worker process that stops because the process is no good any more (a sticky device
# error): its supervisor starts a fresh one at once and does not count it as a crash (75 is EX_TEMPFAIL).
EXIT_RECYCLE = 75


def worker_name(pid: int | None = None) -> str:
    """The name a worker process goes by in the queue: ``{hostname}-{pid}``, so its supervisor, which
    knows the pid, can find the job it runs."""
    return f"{socket.gethostname()}-{os.getpid() if pid is None else pid}"


@dataclass
class WorkerWatch:
    """What a worker's supervisor sees of it through the queue."""

    worker: str
    state: str  # the worker's last heartbeat: starting ready busy stopped
    busy_since: float | None  # when it said "busy" (it beats "busy" as it takes a job); None unless busy
    job_id: str | None = None  # the job running under its name, if any
    cancel_requested: bool = False
    last_progress: float | None = None  # when that job last reported progress (or was taken)
    job_ids: tuple[str, ...] = ()  # every job running under its name (a batch: more than one)


class JobWatchdog(Protocol):
    """The supervisor's side: see what its worker runs, abandon a job it will not finish."""

    async def watch(self, worker: str) -> WorkerWatch | None: ...
    async def abandon(self, job_id: str, worker: str, error: str | None) -> bool: ...
    async def fail(self, job_id: str, worker: str, error: str, *, retry: bool = False) -> bool: ...
