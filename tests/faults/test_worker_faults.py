"""Issue 14, a hung or sick worker never stalls the queue: a job timeout enforced by the supervisor,
lease renewal only while generation progresses, sticky device errors and out-of-memory, capped restarts.

Scenarios about processes run real processes: the supervisor starts ``tests/fakes/faulty_worker.py`` (the
real worker with a stand-in studio that hangs, or raises a CUDA error, on its first job)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from bot.app import open_engine
from bot.supervisor import WorkerSupervisor
from engine import messages as say
from engine.artifacts import LocalArtifacts
from engine.engine import Engine
from engine.events import CommandEvent, Where
from engine.inference.worker import InferenceWorker
from engine.jobs import JobSpec, JobState
from engine.queue import EXIT_RECYCLE
from engine.queue.sql import SqlJobQueue
from engine.settings import Settings
from engine.store.db import database_url, make_engine, sessionmaker
from engine.store.migrate import upgrade_async
from tests.fakes.queue import FakeQueue
from tests.fakes.recording import RecordingAdapter
from tests.fakes.studio import StandInStudio

HERE = Where("test", "W1", "C-general")
ROOT = Path(__file__).resolve().parents[2]


def faulty_worker(fault: str) -> list[str]:
    return [sys.executable, "-m", "tests.fakes.faulty_worker", fault]


def _spec(job_id: str = "C1-R1") -> JobSpec:
    return JobSpec(
        id=job_id,
        kind="round",
        campaign_id=1,
        round_number=1,
        user="u",
        brief={"product": "watch"},
        variants=2,
    )


@dataclass
class Service:
    engine: Engine
    chat: RecordingAdapter
    settings: Settings
    env: dict[str, str]
    tmp: Path

    async def until(self, pred: Callable[[], bool], timeout: float = 90.0, what: str = "") -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            await self.engine.pump()
            if pred():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what or pred}")

    def supervisor(self, fault: str, **settings: object) -> WorkerSupervisor:
        return WorkerSupervisor(
            self.tmp,
            env=self.env,
            stop_timeout=5,
            settings=self.settings.model_copy(update=settings),
            queue=SqlJobQueue(self.engine.repo.sessions),
            command=faulty_worker(fault),
        )


@pytest.fixture
async def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Service]:
    env = {
        "CAMPAIGNBOT_DATA_DIR": str(tmp_path),
        "CAMPAIGNBOT_JOB_LEASE_SECONDS": "2",
        "CAMPAIGNBOT_JOB_STALL_SECONDS": "1",
        "CAMPAIGNBOT_JOB_TIMEOUT_SECONDS": "4",
        "CAMPAIGNBOT_WORKER_WATCH_INTERVAL": "0.2",
        "CAMPAIGNBOT_WORKER_RECYCLE_GRACE_SECONDS": "1",
        "CAMPAIGNBOT_STATUS_EDIT_INTERVAL": "0",
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    chat = RecordingAdapter()
    engine = await open_engine(settings, [chat])
    yield Service(engine, chat, settings, env, tmp_path)
    await engine.close()


async def test_hung_job_times_out_with_a_notice_the_worker_is_recycled_and_the_next_job_succeeds(
    service: Service,
) -> None:
    """Scenario: hung job -> timeout, notice, recycle, next job succeeds. The first job's generation hangs
    (it reported progress once, then blocks): past ``job_timeout_seconds`` the supervisor fails it without
    retry, the thread gets one notice, the stuck process is killed, and a fresh worker makes the next round."""
    h = service
    h.env["CAMPAIGNBOT_WORKER_BATCH_JOBS"] = "1"  # one job at a time (a hung batch: the next test)
    sup = h.supervisor("hang")
    await sup.start()
    try:
        first_pid = sup.pid
        assert first_pid is not None
        await h.engine.handle(
            CommandEvent(HERE, "alice", "smart watch for runners --variants 2", user_name="Alice")
        )
        await h.engine.handle(CommandEvent(HERE, "bob", "organic coffee --variants 2", user_name="Bob"))
        await h.until(lambda: len(h.chat.roots()) == 2, what="two campaigns")
        hung, nxt = h.chat.roots()[0].id, h.chat.roots()[1].id
        await h.until(lambda: len(h.chat.cards(nxt)) == 2, what="the next job's two cards")
        notices = [m.text for m in h.chat.thread(hung) if m.text.startswith("⚠️")]
        assert notices == [say.outcome("failed", 1, 1, say.job_timed_out(4))], h.chat.thread(hung)
        assert not h.chat.cards(hung)
        job = await h.engine.queue.get("C1-R1")
        assert job is not None and job.state == JobState.FAILED and job.attempts == 1  # not retried
        assert sup.recycles == 1 and sup.restarts == 1 and not sup.gave_up
        assert sup.pid != first_pid
        with pytest.raises(ProcessLookupError):  # the stuck process is gone (reaped)
            os.kill(first_pid, 0)
    finally:
        await sup.stop()
    log = (h.tmp / "logs" / "worker.log").read_text()
    assert "C2-R1: done" in log


async def test_a_hung_batch_is_retried_each_job_alone_and_both_rounds_are_made(service: Service) -> None:
    """Cross-job batching: two jobs taken together, and the batch's generation hangs. Which job is to blame
    is unknown, so past the job timeout both go back to the queue (a delivery counted, no notice), the stuck
    process is recycled, and the fresh worker makes each alone (a job delivered again is never batched)."""
    h = service
    h.env["CAMPAIGNBOT_WORKER_BATCH_JOBS"] = "4"
    h.env["CAMPAIGNBOT_WORKER_BATCH_WINDOW_MS"] = "500"  # the two commands land in one batch
    sup = h.supervisor("hang")
    await sup.start()
    try:
        await h.engine.handle(
            CommandEvent(HERE, "alice", "smart watch for runners --variants 2", user_name="Alice")
        )
        await h.engine.handle(CommandEvent(HERE, "bob", "organic coffee --variants 2", user_name="Bob"))
        await h.until(lambda: len(h.chat.roots()) == 2, what="two campaigns")
        roots = [r.id for r in h.chat.roots()]
        await h.until(lambda: all(len(h.chat.cards(r)) == 2 for r in roots), what="both rounds' cards")
        for job_id in ("C1-R1", "C2-R1"):
            job = await h.engine.queue.get(job_id)
            assert job is not None and job.state == JobState.DONE and job.attempts == 2
        assert not [m.text for r in roots for m in h.chat.thread(r) if m.text.startswith("⚠️")]
        assert sup.recycles == 1
    finally:
        await sup.stop()
    log = (h.tmp / "logs" / "worker.log").read_text()
    assert "batch of 2 jobs: C1-R1 C2-R1" in log
    assert "C1-R1: done" in log and "C2-R1: done" in log


class _Blocking(StandInStudio):
    """Its first generation reports progress once, then blocks until ``release`` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        super().__init__(lambda s: self._block())
        self.blocked = threading.Event()

    def _block(self) -> None:
        if not self.blocked.is_set():
            self.blocked.set()
            self.release.wait(30)


async def test_a_stalled_generation_loses_its_lease_and_another_worker_takes_the_job(tmp_path: Path) -> None:
    """Scenario: progress-only lease renewal. A generation that stops reporting progress is not kept alive by
    the heartbeat: its lease runs out, a second worker takes the job and finishes it, and the stuck worker,
    when it wakes up, cannot finish it too."""
    url = database_url(tmp_path, None)
    await upgrade_async(url)
    db = make_engine(url)
    sessions = sessionmaker(db)
    settings = Settings(data_dir=tmp_path, job_stall_seconds=0.5, _env_file=None)  # type: ignore[call-arg]
    artifacts = LocalArtifacts(tmp_path)
    queue = SqlJobQueue(sessions)
    await queue.enqueue(_spec())
    stuck_studio = _Blocking()
    stuck = InferenceWorker(
        settings, SqlJobQueue(sessions), artifacts, name="stuck", lease_s=1, poll_s=0.1, studio=stuck_studio
    )  # type: ignore[arg-type]
    other = InferenceWorker(
        settings,
        SqlJobQueue(sessions),
        artifacts,
        name="other",
        lease_s=1,
        poll_s=0.1,
        studio=StandInStudio(),
    )  # type: ignore[arg-type]
    tasks = [asyncio.create_task(stuck.run())]
    try:
        await asyncio.to_thread(stuck_studio.blocked.wait, 10)
        tasks.append(asyncio.create_task(other.run()))
        for _ in range(100):  # the lease is 1 s; on main the heartbeat renewed it forever
            job = await queue.get("C1-R1")
            assert job is not None
            if job.state == JobState.DONE:
                break
            await asyncio.sleep(0.1)
        assert job.state == JobState.DONE and job.worker == "other" and job.attempts == 2
        stuck_studio.release.set()  # the stuck generation wakes up: its work is no longer wanted
        w = None
        for _ in range(50):
            w = await queue.watch("stuck")
            if w is not None and w.state == "ready":
                break
            await asyncio.sleep(0.1)
        assert w is not None and w.state == "ready"  # it gave up the job and is free again
        assert stuck.jobs_done == 0 and other.jobs_done == 1
        job = await queue.get("C1-R1")
        assert job is not None and job.worker == "other" and job.state == JobState.DONE
    finally:
        stuck_studio.release.set()
        stuck.stop.set()
        other.stop.set()
        await asyncio.gather(*tasks)
        await db.dispose()


async def test_a_sticky_cuda_error_exits_for_a_recycle_and_a_fresh_process_makes_the_round(
    service: Service,
) -> None:
    """Scenario: sticky CUDA error -> exit code -> recycle. The worker gives the job back for a retry and
    exits with EXIT_RECYCLE; the supervisor starts a fresh process at once (not a crash: no back-off, not
    counted), which makes the round."""
    h = service
    sup = h.supervisor("cuda", worker_restart_limit=1)  # a counted crash would stop all restarts
    await sup.start()
    try:
        await h.engine.handle(
            CommandEvent(HERE, "alice", "smart watch for runners --variants 2", user_name="Alice")
        )
        await h.until(
            lambda: bool(h.chat.roots()) and len(h.chat.cards(h.chat.roots()[0].id)) == 2, what="cards"
        )
        job = await h.engine.queue.get("C1-R1")
        assert job is not None and job.state == JobState.DONE and job.attempts == 2
        assert sup.recycles == 1 and sup.restarts == 1 and not sup.gave_up
    finally:
        await sup.stop()
    log = (h.tmp / "logs" / "worker.log").read_text()
    assert "device error; this worker process stops" in log


async def test_a_sticky_cuda_error_in_process_fails_the_job_for_retry_and_stops_with_exit_recycle(
    tmp_path: Path,
) -> None:
    """Scenario: sticky CUDA error -> exit code (the worker's side, without processes)."""

    def fault(_: StandInStudio) -> None:
        raise torch.AcceleratorError("CUDA error: device-side assert triggered")

    queue = FakeQueue()
    await queue.enqueue(_spec("C1-R1"))
    await queue.enqueue(_spec("C2-R1"))
    # one job at a time: in a batch, C2 would share the poisoned generation and be retried with C1
    settings = Settings(data_dir=tmp_path, worker_batch_jobs=1, _env_file=None)  # type: ignore[call-arg]
    w = InferenceWorker(settings, queue, LocalArtifacts(tmp_path), name="w1", studio=StandInStudio(fault))  # type: ignore[arg-type]
    assert await w.run(burst=True) == EXIT_RECYCLE
    first, second = queue.jobs["C1-R1"], queue.jobs["C2-R1"]
    assert first.state == JobState.QUEUED and first.attempts == 1  # for a fresh process
    assert second.state == JobState.QUEUED and second.attempts == 0  # never run on the poisoned device


def _oom(times: int) -> Callable[[StandInStudio], None]:
    def fault(studio: StandInStudio) -> None:
        if len(studio.batches) <= times:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    return fault


async def test_out_of_memory_is_retried_once_in_smaller_batches_and_succeeds(tmp_path: Path) -> None:
    """Scenario: OOM -> one smaller-batch retry -> success."""
    queue = FakeQueue()
    await queue.enqueue(_spec())
    settings = Settings(data_dir=tmp_path, worker_oom_batch=3, _env_file=None)  # type: ignore[call-arg]
    studio = StandInStudio(_oom(1))
    w = InferenceWorker(settings, queue, LocalArtifacts(tmp_path), name="w1", studio=studio)  # type: ignore[arg-type]
    assert await w.run(burst=True) == 0
    assert queue.jobs["C1-R1"].state == JobState.DONE and queue.jobs["C1-R1"].attempts == 1
    assert studio.batches == [None, 3] and studio.max_batch is None  # the next job gets full batches again


async def test_out_of_memory_twice_fails_cleanly_with_a_friendly_message(tmp_path: Path) -> None:
    """Scenario: OOM -> one smaller-batch retry -> clean failure (no retry, no exception text for the user)."""
    queue = FakeQueue()
    await queue.enqueue(_spec())
    settings = Settings(data_dir=tmp_path, worker_oom_batch=2, _env_file=None)  # type: ignore[call-arg]
    studio = StandInStudio(_oom(99))
    w = InferenceWorker(settings, queue, LocalArtifacts(tmp_path), name="w1", studio=studio)  # type: ignore[arg-type]
    assert await w.run(burst=True) == 0  # the process is fine: no recycle
    job = queue.jobs["C1-R1"]
    assert job.state == JobState.FAILED and job.attempts == 1 and job.error == say.OUT_OF_MEMORY
    assert studio.batches == [None, 2]
    assert "memory" in say.outcome("failed", 1, 1, job.error) and "Error" not in say.outcome(
        "failed", 1, 1, job.error
    )


async def test_restarts_after_crashes_are_capped_with_one_clear_log_line(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    """Scenario: restart cap. A worker that crashes at once is restarted with back-off, at most
    ``worker_restart_limit`` crashes within the window; then the supervisor stops and says what to do, and
    the queued job stays queued."""
    h = service
    await h.engine.handle(
        CommandEvent(HERE, "alice", "smart watch for runners --variants 2", user_name="Alice")
    )
    sup = h.supervisor("crash", worker_restart_limit=3, worker_restart_window_seconds=120)
    caplog.set_level(logging.WARNING, logger="bot.supervisor")
    await sup.start()
    try:
        for _ in range(300):
            if sup.gave_up:
                break
            await asyncio.sleep(0.1)
        assert sup.gave_up and sup.restarts == 2 and sup.recycles == 0
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and "not restarting" in errors[0] and "worker.log" in errors[0], errors
        await asyncio.sleep(1.5)  # longer than the last back-off: nothing is started again
        assert sup.restarts == 2 and sup.proc is not None and sup.proc.returncode == 3
        job = await h.engine.queue.get("C1-R1")
        assert job is not None and job.state == JobState.QUEUED
    finally:
        await sup.stop()
