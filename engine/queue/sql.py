"""The embedded durable job queue: the ``jobs`` table of the store's SQL database (SQLite by default).

Jobs are written before a command is acknowledged. A worker claims a job with a lease and renews it
with every progress report; a job whose worker died (lease expired) is claimed again, up to
``max_attempts`` deliveries, after which it fails with one clear message. Cancel is cooperative:
a queued job is cancelled at once, a running one at its next progress report.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engine.jobs import Job, JobSpec, JobState, RoundResult, VariantResult, WorkerInfo, merge_partial
from engine.queue.base import WorkerWatch
from engine.store.models import JobRow, Worker, now

logger = logging.getLogger(__name__)

ACTIVE = ("queued", "running")


def _to_job(r: JobRow) -> Job:
    return Job(
        id=r.id,
        spec=JobSpec.from_dict(r.payload),
        state=JobState(r.state),
        attempts=r.attempts,
        max_attempts=r.max_attempts,
        worker=r.worker,
        lease_until=r.lease_until,
        cancel_requested=r.cancel_requested,
        stage=r.stage,
        percent=r.percent,
        progress_seq=r.progress_seq,
        result=RoundResult.from_dict(r.result) if r.result else None,
        error=r.error,
        created_at=r.created_at,
        finished_at=r.finished_at,
        handled=r.handled,
        partial=[VariantResult.from_dict(v) for v in r.partial or []],
    )


def _claimed(row: JobRow, worker: str, lease_s: float, t: float) -> dict[str, Any]:
    """What taking ``row`` changes: it runs for ``worker``, or it ends (cancelled, or delivered too often)."""
    if row.cancel_requested:
        return {"state": "cancelled", "finished_at": t, "stage": "cancelled"}
    if row.attempts >= row.max_attempts:
        return {
            "state": "failed",
            "finished_at": t,
            "stage": "failed",
            "error": f"the worker stopped {row.attempts} times while making this; giving up",
        }
    return {
        "state": "running",
        "worker": worker,
        "lease_until": t + lease_s,
        "attempts": row.attempts + 1,
        "stage": "starting",
        "progress_seq": row.progress_seq + 1,
    }


def _job_row(spec: JobSpec, max_attempts: int) -> JobRow:
    t = now()
    return JobRow(
        id=spec.id,
        kind=spec.kind,
        payload=spec.to_dict(),
        user=spec.user,
        max_attempts=max_attempts,
        created_at=t,
        updated_at=t,
    )


class SqlJobQueue:
    """The embedded queue: the ``jobs`` table of the store's database (SQLite by default). Worker
    heartbeats go to the ``workers`` table beside it. Implements :class:`engine.queue.JobQueue`."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ):
        self.sessions = sessions
        self._on_close = on_close  # what closes the database, when this queue owns it (a worker's queue)

    async def close(self) -> None:
        if self._on_close is not None:
            await self._on_close()

    async def heartbeat(self, worker: str, state: str, *, device: str, pid: int | None = None) -> None:
        async with self.sessions() as s, s.begin():
            w = await s.get(Worker, worker)
            if w is None:
                s.add(
                    Worker(name=worker, pid=pid or os.getpid(), device=device, state=state, last_seen=now())
                )
            else:
                w.state, w.last_seen, w.pid, w.device = state, now(), pid or os.getpid(), device

    async def workers(self) -> list[WorkerInfo]:
        async with self.sessions() as s:
            rows = (await s.execute(select(Worker).order_by(Worker.name))).scalars().all()
        return [WorkerInfo(name=w.name, state=w.state, device=w.device, last_seen=w.last_seen) for w in rows]

    async def watch(self, worker: str) -> WorkerWatch | None:
        """What ``worker`` is doing: its last heartbeat and the job running under its name (the supervisor's
        watchdog). None if it never beat."""
        async with self.sessions() as s:
            w = await s.get(Worker, worker)
            if w is None:
                return None
            rows = (
                (
                    await s.execute(
                        select(JobRow)
                        .where(JobRow.state == "running", JobRow.worker == worker)
                        .order_by(JobRow.updated_at.desc())
                    )
                )
                .scalars()
                .all()
            )
        row = rows[0] if rows else None
        return WorkerWatch(
            worker=worker,
            state=w.state,
            busy_since=w.last_seen if w.state == "busy" else None,
            job_id=row.id if row else None,
            cancel_requested=bool(row and row.cancel_requested),
            last_progress=row.updated_at if row else None,
            job_ids=tuple(r.id for r in rows),
        )

    async def abandon(self, job_id: str, worker: str, error: str | None) -> bool:
        """End a job its worker will not finish (hung, or cancelled and still running): failed with ``error``,
        not retried, or cancelled when ``error`` is None. False if it is no longer running for ``worker``."""
        async with self.sessions() as s, s.begin():
            row = await s.get(JobRow, job_id)
            if row is None or row.state != "running" or row.worker != worker:
                return False
            if error is None:
                row.state, row.stage = "cancelled", "cancelled"
            else:
                row.state, row.stage, row.error = "failed", "failed", error[:2000]
            row.finished_at = row.updated_at = now()
            row.progress_seq += 1
            return True

    async def enqueue(self, spec: JobSpec, *, max_attempts: int = 3) -> bool:
        """Add a job; False (and nothing changes) if a job with this id exists already."""
        async with self.sessions() as s, s.begin():
            if await s.get(JobRow, spec.id) is not None:
                return False
            s.add(_job_row(spec, max_attempts))
        return True

    def job_row(self, spec: JobSpec, sessions: Any, *, max_attempts: int = 3) -> JobRow | None:
        """The jobs row of ``spec``, for a transaction of the store that writes its round: the embedded queue
        is a table of that database when it opens the same sessions (as the engine builds it), so the
        round and its job commit together, with one commit fewer on the command's path."""
        return _job_row(spec, max_attempts) if sessions is self.sessions else None

    async def claim(self, worker: str, lease_s: float) -> Job | None:
        """Take the oldest queued job, or one whose worker's lease ran out. Jobs delivered
        ``max_attempts`` times already fail instead of being taken again."""
        while True:
            async with self.sessions() as s, s.begin():
                t = now()
                row = (
                    await s.execute(
                        select(JobRow)
                        .where(
                            (JobRow.state == "queued")
                            | ((JobRow.state == "running") & (JobRow.lease_until < t))
                        )
                        .order_by(JobRow.created_at, JobRow.id)
                        .limit(1)
                    )
                ).scalar_one_or_none()
                if row is None:
                    return None
                prev_state, prev_worker = row.state, row.worker
                new = _claimed(row, worker, lease_s, t)
                # optimistic: only if nobody else changed it meanwhile (portable across SQLite and PostgreSQL)
                res = await s.execute(
                    update(JobRow)
                    .where(
                        JobRow.id == row.id,
                        JobRow.state == prev_state,
                        JobRow.attempts == row.attempts,
                        (JobRow.worker == prev_worker) if prev_worker else JobRow.worker.is_(None),
                    )
                    .values(updated_at=t, **new)
                )
                if res.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                if new["state"] != "running":
                    logger.warning("job %s %s before a worker could take it", row.id, new["state"])
                    continue
                if prev_state == "running":
                    logger.warning(
                        "job %s: worker %s lost its lease; %s takes it (delivery %d)",
                        row.id,
                        prev_worker,
                        worker,
                        row.attempts + 1,
                    )
                await s.flush()
                got = await s.get(JobRow, row.id, populate_existing=True)
                assert got is not None
                return _to_job(got)

    async def progress(self, job_id: str, worker: str, stage: str, percent: int, lease_s: float) -> bool:
        """Report progress and renew the lease. False means stop: the job was cancelled or taken over."""
        async with self.sessions() as s, s.begin():
            row = await s.get(JobRow, job_id)
            if row is None or row.state != "running" or row.worker != worker:
                return False
            if row.cancel_requested:
                row.state, row.stage, row.finished_at = "cancelled", "cancelled", now()
                row.progress_seq += 1
                return False
            row.stage, row.percent = stage[:80], max(0, min(100, int(percent)))
            row.lease_until, row.updated_at = now() + lease_s, now()
            row.progress_seq += 1
            return True

    async def partial(self, job_id: str, worker: str, variant: VariantResult) -> bool:
        """One finished variant of a running job (its files published already), for the engine to post
        before the round is done. False means stop, as for :meth:`progress`; the lease is not renewed."""
        async with self.sessions() as s, s.begin():
            row = await s.get(JobRow, job_id, with_for_update=True)
            if row is None or row.state != "running" or row.worker != worker:
                return False
            if row.cancel_requested:
                row.state, row.stage, row.finished_at = "cancelled", "cancelled", now()
                row.progress_seq += 1
                return False
            got = [VariantResult.from_dict(v) for v in row.partial or []]
            row.partial = [v.to_dict() for v in merge_partial(got, variant)]
            row.updated_at = now()
            return True

    async def complete(self, job_id: str, worker: str, result: RoundResult) -> bool:
        async with self.sessions() as s, s.begin():
            row = await s.get(JobRow, job_id)
            if row is None or row.state != "running" or row.worker != worker:
                return False
            row.state, row.result, row.stage, row.percent = "done", result.to_dict(), "done", 100
            row.finished_at = row.updated_at = now()
            row.progress_seq += 1
            return True

    async def fail(self, job_id: str, worker: str, error: str, *, retry: bool = False) -> bool:
        async with self.sessions() as s, s.begin():
            row = await s.get(JobRow, job_id)
            if row is None or row.state != "running" or row.worker != worker:
                return False
            if retry and row.attempts < row.max_attempts:
                row.state, row.worker, row.lease_until, row.stage = "queued", None, 0.0, "queued (retry)"
            else:
                row.state, row.error, row.stage, row.finished_at = "failed", error[:2000], "failed", now()
            row.updated_at = now()
            row.progress_seq += 1
            return True

    async def release(self, job_id: str, worker: str) -> bool:
        """Give a running job back to the queue (a worker stopping cleanly); the delivery is not counted."""
        async with self.sessions() as s, s.begin():
            row = await s.get(JobRow, job_id)
            if row is None or row.state != "running" or row.worker != worker:
                return False
            row.state, row.worker, row.lease_until, row.stage = "queued", None, 0.0, "queued"
            row.attempts = max(0, row.attempts - 1)
            row.updated_at = now()
            row.progress_seq += 1
            return True

    async def cancel(self, job_id: str) -> bool:
        """Cancel a queued job now, or ask a running one to stop. False if it had already finished."""
        async with self.sessions() as s, s.begin():
            row = await s.get(JobRow, job_id)
            if row is None or row.state not in ACTIVE:
                return False
            if row.state == "queued":
                row.state, row.stage, row.finished_at = "cancelled", "cancelled", now()
                row.progress_seq += 1
            else:
                row.cancel_requested = True
            row.updated_at = now()
            return True

    async def get(self, job_id: str) -> Job | None:
        async with self.sessions() as s:
            row = await s.get(JobRow, job_id)
            return _to_job(row) if row else None

    async def position(self, job_id: str) -> int:
        """1 = next to run (or running); 0 if the job is not waiting."""
        async with self.sessions() as s:
            row = await s.get(JobRow, job_id)
            if row is None or row.state not in ACTIVE:
                return 0
            if row.state == "running":
                return 1
            ahead = await s.scalar(
                select(func.count())
                .select_from(JobRow)
                .where(
                    JobRow.state.in_(ACTIVE),
                    (JobRow.created_at < row.created_at)
                    | ((JobRow.created_at == row.created_at) & (JobRow.id < row.id)),
                )
            )
            return int(ahead or 0) + 1

    async def active_for_user(self, user: str) -> int:
        async with self.sessions() as s:
            n = await s.scalar(
                select(func.count()).select_from(JobRow).where(JobRow.user == user, JobRow.state.in_(ACTIVE))
            )
            return int(n or 0)

    async def depth(self) -> int:
        async with self.sessions() as s:
            n = await s.scalar(select(func.count()).select_from(JobRow).where(JobRow.state.in_(ACTIVE)))
            return int(n or 0)

    async def running(self) -> list[Job]:
        async with self.sessions() as s:
            rows = (await s.execute(select(JobRow).where(JobRow.state == "running"))).scalars().all()
            return [_to_job(r) for r in rows]

    async def unhandled(self) -> list[Job]:
        """Jobs whose progress or outcome the engine has not fully handled yet (active or newly finished)."""
        async with self.sessions() as s:
            rows = (
                (
                    await s.execute(
                        select(JobRow).where(JobRow.handled.is_(False)).order_by(JobRow.created_at, JobRow.id)
                    )
                )
                .scalars()
                .all()
            )
            return [_to_job(r) for r in rows]

    async def mark_handled(self, job_id: str) -> None:
        async with self.sessions() as s, s.begin():
            await s.execute(update(JobRow).where(JobRow.id == job_id).values(handled=True))

    async def drop_older_than(self, ttl_s: float) -> list[Job]:
        """Queued jobs older than ``ttl_s`` are dropped (after a long outage) instead of replayed."""
        cutoff = now() - ttl_s
        async with self.sessions() as s, s.begin():
            rows = (
                (await s.execute(select(JobRow).where(JobRow.state == "queued", JobRow.created_at < cutoff)))
                .scalars()
                .all()
            )
            for r in rows:
                r.state, r.stage, r.finished_at = "dropped", "dropped", now()
                r.error = "it waited longer than the queue's time limit"
                r.progress_seq += 1
            return [_to_job(r) for r in rows]
