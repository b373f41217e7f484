"""The worker on the queue protocol alone (an in-memory queue, a stand-in studio): a locked or absent
database is waited out, the finished round is not lost and the process does not die."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from engine.artifacts import LocalArtifacts
from engine.inference import worker as worker_mod
from engine.inference.worker import InferenceWorker
from engine.jobs import JobSpec, JobState
from engine.settings import Settings
from tests.fakes.queue import FakeQueue
from tests.fakes.studio import StandInStudio


class LockedQueue(FakeQueue):
    """Every call fails ``failures[name]`` times with SQLite's "database is locked" first."""

    def __init__(self, failures: dict[str, int]) -> None:
        super().__init__()
        self.failures = dict(failures)

    def _maybe_fail(self, name: str) -> None:
        if self.failures.get(name, 0) > 0:
            self.failures[name] -= 1
            raise OperationalError(name, {}, Exception("database is locked"))

    async def claim(self, worker: str, lease_s: float) -> Any:
        self._maybe_fail("claim")
        return await super().claim(worker, lease_s)

    async def progress(self, *args: Any) -> bool:
        self._maybe_fail("progress")
        return await super().progress(*args)

    async def complete(self, *args: Any) -> bool:
        self._maybe_fail("complete")
        return await super().complete(*args)

    async def heartbeat(self, *args: Any, **kwargs: Any) -> None:
        self._maybe_fail("heartbeat")
        await super().heartbeat(*args, **kwargs)


async def test_a_locked_database_is_waited_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_mod, "QUEUE_RETRY_MAX_S", 0.01)
    queue = LockedQueue({"heartbeat": 2, "claim": 2, "progress": 1, "complete": 3})
    spec = JobSpec(
        id="C1-R1",
        kind="round",
        campaign_id=1,
        round_number=1,
        user="u",
        brief={"product": "watch"},
        variants=2,
    )
    await queue.enqueue(spec)
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    w = InferenceWorker(settings, queue, LocalArtifacts(tmp_path), name="w1", studio=StandInStudio())  # type: ignore[arg-type]
    assert await w.run(burst=True) == 0
    job = queue.jobs["C1-R1"]
    assert job.state == JobState.DONE and w.jobs_done == 1
    assert job.result is not None and job.result.variants[1].image == "images/C1/round-1/variant-2.png"
    assert (tmp_path / "images/C1/round-1/variant-2.png").exists()
    assert all(n == 0 for n in queue.failures.values())  # every failure was met and waited out
