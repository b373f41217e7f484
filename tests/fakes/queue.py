"""An in-memory job queue with the same contract as the SQL one (both protocols), for the fast engine
suite: no database for jobs, no worker process. Tests play the worker through its consumer side."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from engine.jobs import Job, JobSpec, JobState, RoundResult, VariantResult, WorkerInfo, merge_partial


class FakeQueue:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self._order: list[str] = []
        self._workers: dict[str, WorkerInfo] = {}

    def _bump(self, job: Job, **changes: object) -> None:
        for k, v in changes.items():
            setattr(job, k, v)
        job.progress_seq += 1

    # -- producer -----------------------------------------------------------------------------------------
    def job_row(self, spec: JobSpec, sessions: Any, *, max_attempts: int = 3) -> None:
        return None  # in memory, not in the store's database: enqueued after the round is written

    async def enqueue(self, spec: JobSpec, *, max_attempts: int = 3) -> bool:
        if spec.id in self.jobs:
            return False
        self.jobs[spec.id] = Job(
            id=spec.id, spec=spec, state=JobState.QUEUED, max_attempts=max_attempts, created_at=time.time()
        )
        self._order.append(spec.id)
        return True

    async def cancel(self, job_id: str) -> bool:
        j = self.jobs.get(job_id)
        if j is None or not j.state.active:
            return False
        if j.state == JobState.QUEUED:
            self._bump(j, state=JobState.CANCELLED, stage="cancelled", finished_at=time.time())
        else:
            j.cancel_requested = True
        return True

    async def get(self, job_id: str) -> Job | None:
        j = self.jobs.get(job_id)
        return replace(j, partial=list(j.partial)) if j else None

    async def position(self, job_id: str) -> int:
        j = self.jobs.get(job_id)
        if j is None or not j.state.active:
            return 0
        if j.state == JobState.RUNNING:
            return 1
        active = [i for i in self._order if self.jobs[i].state.active]
        return active.index(job_id) + 1

    async def active_for_user(self, user: str) -> int:
        return sum(1 for j in self.jobs.values() if j.spec.user == user and j.state.active)

    async def depth(self) -> int:
        return sum(1 for j in self.jobs.values() if j.state.active)

    async def unhandled(self) -> list[Job]:
        return [replace(j, partial=list(j.partial)) for i in self._order if not (j := self.jobs[i]).handled]

    async def mark_handled(self, job_id: str) -> None:
        self.jobs[job_id].handled = True

    async def drop_older_than(self, ttl_s: float) -> list[Job]:
        cutoff = time.time() - ttl_s
        out = []
        for j in self.jobs.values():
            if j.state == JobState.QUEUED and j.created_at < cutoff:
                self._bump(
                    j, state=JobState.DROPPED, stage="dropped", error="too old", finished_at=time.time()
                )
                out.append(replace(j))
        return out

    async def workers(self) -> list[WorkerInfo]:
        return sorted(self._workers.values(), key=lambda w: w.name)

    # -- consumer -----------------------------------------------------------------------------------------
    async def claim(self, worker: str, lease_s: float) -> Job | None:
        for i in self._order:
            j = self.jobs[i]
            if j.state == JobState.QUEUED:
                self._bump(
                    j, state=JobState.RUNNING, worker=worker, attempts=j.attempts + 1, stage="starting"
                )
                return replace(j)
        return None

    async def progress(self, job_id: str, worker: str, stage: str, percent: int, lease_s: float) -> bool:
        j = self.jobs[job_id]
        if j.state != JobState.RUNNING or j.worker != worker:
            return False
        if j.cancel_requested:
            self._bump(j, state=JobState.CANCELLED, stage="cancelled")
            return False
        self._bump(j, stage=stage, percent=percent)
        return True

    async def partial(self, job_id: str, worker: str, variant: VariantResult) -> bool:
        j = self.jobs[job_id]
        if j.state != JobState.RUNNING or j.worker != worker:
            return False
        if j.cancel_requested:
            self._bump(j, state=JobState.CANCELLED, stage="cancelled")
            return False
        j.partial = merge_partial(j.partial, variant)
        return True

    async def complete(self, job_id: str, worker: str, result: RoundResult) -> bool:
        j = self.jobs[job_id]
        if j.state != JobState.RUNNING or j.worker != worker:
            return False
        self._bump(j, state=JobState.DONE, result=result, stage="done", percent=100, finished_at=time.time())
        return True

    async def fail(self, job_id: str, worker: str, error: str, *, retry: bool = False) -> bool:
        j = self.jobs[job_id]
        if j.state != JobState.RUNNING or j.worker != worker:
            return False
        if retry and j.attempts < j.max_attempts:
            self._bump(j, state=JobState.QUEUED, worker=None)
        else:
            self._bump(j, state=JobState.FAILED, error=error, stage="failed", finished_at=time.time())
        return True

    async def release(self, job_id: str, worker: str) -> bool:
        j = self.jobs[job_id]
        if j.state != JobState.RUNNING or j.worker != worker:
            return False
        self._bump(j, state=JobState.QUEUED, worker=None, attempts=max(0, j.attempts - 1))
        return True

    async def heartbeat(self, worker: str, state: str, *, device: str, pid: int) -> None:
        self._workers[worker] = WorkerInfo(worker, state, device, time.time())

    async def close(self) -> None:
        return None
