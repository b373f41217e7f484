"""The worker on the queue protocol alone (an in-memory queue, a stand-in studio): a locked or absent
database is waited out, the finished round is not lost and the process does not die; each variant is
published and handed back as it is composed, before the round completes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from engine.artifacts import DatabaseArtifacts, LocalArtifacts
from engine.inference import worker as worker_mod
from engine.inference.worker import InferenceWorker
from engine.jobs import JobSpec, JobState, RoundResult, VariantResult
from engine.settings import Settings
from engine.store.db import make_engine, sessionmaker
from engine.store.migrate import upgrade_async
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


class RecordingQueue(FakeQueue):
    """Logs what the worker hands back, and what the artifact store held at that moment."""

    def __init__(self, artifacts: DatabaseArtifacts) -> None:
        super().__init__()
        self.artifacts = artifacts
        self.log: list[tuple[str, int | None, list[str]]] = []

    async def _stored(self) -> list[str]:
        return sorted(n.rsplit("/", 1)[-1] for n in await self.artifacts.stored("images/C1/round-1"))

    async def partial(self, job_id: str, worker: str, variant: VariantResult) -> bool:
        self.log.append(("partial", variant.index, await self._stored()))
        return await super().partial(job_id, worker, variant)

    async def complete(self, job_id: str, worker: str, result: RoundResult) -> bool:
        self.log.append(("complete", None, await self._stored()))
        return await super().complete(job_id, worker, result)


def _spec(variants: int = 3) -> JobSpec:
    return JobSpec(
        id="C1-R1",
        kind="round",
        campaign_id=1,
        round_number=1,
        user="u",
        brief={"product": "watch"},
        variants=variants,
    )


async def _database_artifacts(tmp_path: Path) -> tuple[DatabaseArtifacts, AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}"
    await upgrade_async(url)
    eng = make_engine(url)
    return DatabaseArtifacts(tmp_path / "worker", sessionmaker(eng)), eng


async def test_each_variant_is_published_and_handed_back_in_order_before_the_round_completes(
    tmp_path: Path,
) -> None:
    """No shared disk (the database store): a variant's image is in the store before the queue hears of
    it; the result comes after every variant, and only what was not published yet is published then."""
    artifacts, eng = await _database_artifacts(tmp_path)
    published: list[str] = []
    real = artifacts.publish

    async def publish(name: str) -> None:
        published.append(name.rsplit("/", 1)[-1])
        await real(name)

    artifacts.publish = publish  # type: ignore[method-assign]
    queue = RecordingQueue(artifacts)
    await queue.enqueue(_spec())
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    studio = StandInStudio()
    w = InferenceWorker(settings, queue, artifacts, name="w1", studio=studio)  # type: ignore[arg-type]
    try:
        assert await w.run(burst=True) == 0
    finally:
        await eng.dispose()
    assert queue.log == [
        ("partial", 1, ["variant-1.png"]),
        ("partial", 2, ["variant-1.png", "variant-2.png"]),
        ("partial", 3, ["variant-1.png", "variant-2.png", "variant-3.png"]),
        (
            "complete",
            None,
            ["contact-sheet.png", "copy.json", "copy.md", "variant-1.png", "variant-2.png", "variant-3.png"],
        ),
    ]
    assert published.count("variant-1.png") == 1 and len(published) == 6  # nothing published twice
    job = queue.jobs["C1-R1"]
    assert job.state == JobState.DONE and job.result is not None
    assert job.partial == job.result.variants  # what was handed back early is what the result holds
    assert studio.on_variant is None  # the hook is the job's only


async def test_a_partial_report_refused_stops_the_round(tmp_path: Path) -> None:
    """Cancelled while it composes: the worker hears it at the next variant and stops; no result."""

    class CancelAfterFirst(FakeQueue):
        async def partial(self, job_id: str, worker: str, variant: VariantResult) -> bool:
            if variant.index == 2:
                await self.cancel(job_id)
            return await super().partial(job_id, worker, variant)

    queue = CancelAfterFirst()
    await queue.enqueue(_spec(4))
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    w = InferenceWorker(settings, queue, LocalArtifacts(tmp_path), name="w1", studio=StandInStudio())  # type: ignore[arg-type]
    assert await w.run(burst=True) == 0
    job = queue.jobs["C1-R1"]
    assert job.state == JobState.CANCELLED and job.result is None
    assert [v.index for v in job.partial] == [1] and w.jobs_done == 0


def test_the_studio_hands_each_variant_over_as_soon_as_it_is_composed(tmp_path: Path) -> None:
    """The hook the worker uses (``Studio.on_variant``): called with each finished creative, in order,
    before the next one is composed and before the contact sheet. No models are needed to compose."""
    from PIL import Image

    from engine.brief import Brief
    from engine.inference.creative.types import CopyVariant, VisualRecord
    from engine.inference.record import Round, Variant
    from engine.inference.studio import Studio

    studio = Studio(Settings(data_dir=tmp_path, device="cpu", _env_file=None))  # type: ignore[call-arg]
    variants = [
        Variant(
            index=k,
            copy=CopyVariant(f"Run farther {k}", "A smart watch that keeps pace.", "Shop now"),
            visual=VisualRecord(concept="watch", seed=k),
            palette_index=k - 1,
            hero=Image.new("RGBA", (32, 32), (200, 40 * k, 0, 255)),
        )
        for k in range(1, 4)
    ]
    rnd = Round(number=1, brief=Brief(product="smart watch"), size="square", seed=1, variants=variants)
    seen: list[str] = []

    def on_variant(v: Variant) -> None:
        assert v.image is not None and rnd.sheet is None
        seen.append(f"variant {v.index}")

    studio.on_variant = on_variant
    studio._compose(rnd, lambda stage, frac: seen.append(stage), {})
    assert seen == [
        "composing variant 1/3",
        "variant 1",
        "composing variant 2/3",
        "variant 2",
        "composing variant 3/3",
        "variant 3",
        "done",
    ]
    assert rnd.sheet is not None


class BatchStudio(StandInStudio):
    """Records the jobs of every make_rounds call; the brief "broken" raises in its own part."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []

    def make_rounds(self, asks: list[Any]) -> list[Any]:
        self.calls.append([a.brief.product for a in asks])
        return super().make_rounds(asks)

    def first_round(self, brief: Any, **kw: Any) -> Any:
        if brief.product == "broken":
            raise RuntimeError("this job's own bug")
        return super().first_round(brief, **kw)


async def test_ready_jobs_are_made_in_one_batch_and_a_bad_one_fails_alone(tmp_path: Path) -> None:
    """Cross-job batching: with worker_batch_jobs=3 the three ready jobs go to the studio in one call; the
    one that raises is retried (a delivery counted), its batch-mates complete; a job delivered again is
    then made alone. Unset on a CPU, one job at a time."""
    queue = FakeQueue()
    for i, product in enumerate(["watch", "broken", "coffee"], start=1):
        spec = _spec()
        spec.id, spec.campaign_id, spec.brief = f"C{i}-R1", i, {"product": product}
        await queue.enqueue(spec)
    settings = Settings(data_dir=tmp_path, worker_batch_jobs=3, _env_file=None)  # type: ignore[call-arg]
    studio = BatchStudio()
    w = InferenceWorker(settings, queue, LocalArtifacts(tmp_path), name="w1", studio=studio)  # type: ignore[arg-type]
    assert await w.run(burst=True) == 0
    assert studio.calls[0] == ["watch", "broken", "coffee"]
    assert all(call == ["broken"] for call in studio.calls[1:]) and len(studio.calls) == 3  # retried alone
    assert queue.jobs["C1-R1"].state == queue.jobs["C3-R1"].state == JobState.DONE
    assert queue.jobs["C2-R1"].state == JobState.FAILED and queue.jobs["C2-R1"].attempts == 3
    one = InferenceWorker(
        Settings(data_dir=tmp_path, _env_file=None), FakeQueue(), LocalArtifacts(tmp_path), studio=studio
    )  # type: ignore[arg-type,call-arg]
    assert one.batch_jobs == 1  # unset on a CPU: one at a time (measured faster there)
