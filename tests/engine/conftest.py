"""The fast engine suite: a real engine on a SQLite store in a temporary folder, an in-memory queue and a
recording chat adapter; tests play the worker through the queue's consumer side. No worker process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import text

from engine.artifacts import LocalArtifacts
from engine.engine import Engine
from engine.events import CommandEvent, ReactionEvent, ReplyEvent, Where
from engine.jobs import Job, RoundResult, VariantResult
from engine.settings import Settings
from engine.store.db import database_url, make_engine
from engine.store.migrate import upgrade_async
from engine.store.repo import Repo
from tests.fakes.queue import FakeQueue
from tests.fakes.recording import Posted, RecordingAdapter
from tests.pg import PG_URL

HERE = Where("test", "W1", "C-general")


@dataclass
class Studio:
    """Everything a fast engine test touches."""

    engine: Engine
    queue: FakeQueue
    chat: RecordingAdapter
    artifacts: LocalArtifacts

    async def command(self, text: str, user: str = "alice", event_id: str = "") -> str | None:
        r = await self.engine.handle(
            CommandEvent(HERE, user, text, event_id=event_id, user_name=user.title())
        )
        return r.text if r else None

    async def reply(self, text: str, user: str = "alice", thread: str | None = None) -> str | None:
        where = Where(HERE.platform, HERE.workspace, HERE.channel, thread or self.thread())
        r = await self.engine.handle(ReplyEvent(where, user, text, message_id=f"r{len(self.chat.messages)}"))
        return r.text if r else None

    async def react(self, message: Posted, emoji: str, user: str = "alice") -> None:
        where = Where(HERE.platform, HERE.workspace, HERE.channel, message.thread)
        await self.engine.handle(ReactionEvent(where, user, message.id, emoji))

    def thread(self, n: int = 0) -> str:
        return self.chat.roots()[n].id

    async def pump(self, times: int = 3) -> None:
        for _ in range(times):
            await self.engine.pump()

    async def start(self, worker: str = "w1") -> Job:
        """Play the worker: claim the next queued job and report progress."""
        job = await self.queue.claim(worker, 30)
        assert job is not None, "nothing queued"
        assert await self.queue.progress(job.id, worker, "writing copy", 30, 30)
        return job

    def make(self, job: Job, headline: str = "Headline") -> list[VariantResult]:
        """Write a job's images (as the worker does) and return its variants."""
        folder = self.artifacts.round_dir(job.spec.campaign_id, job.spec.round_number)
        out = self.artifacts.path(folder)
        out.mkdir(parents=True, exist_ok=True)
        variants = []
        for k in range(1, job.spec.variants + 1):
            Image.new("RGB", (8, 8), (k * 20, 0, 0)).save(out / f"variant-{k}.png")
            variants.append(
                VariantResult(
                    k,
                    f"{headline} {k} of {job.id}",
                    f"Body {k}.",
                    "Start now",
                    f"{folder}/variant-{k}.png",
                    visual={"seed": job.spec.seed + k},
                )
            )
        return variants

    async def finish(self, job: Job, variants: list[VariantResult], worker: str = "w1") -> None:
        """Play the worker's end of a round: the contact sheet and copy written, the result handed back."""
        folder = self.artifacts.round_dir(job.spec.campaign_id, job.spec.round_number)
        out = self.artifacts.path(folder)
        Image.new("RGB", (8, 8)).save(out / "contact-sheet.png")
        (out / "copy.md").write_text("# copy\n")
        lineage = {
            "round": job.spec.round_number,
            "seed": job.spec.seed,
            "variants": [{"index": v.index} for v in variants],
        }
        result = RoundResult(
            round=lineage,
            dir=folder,
            sheet=f"{folder}/contact-sheet.png",
            variants=variants,
            size=job.spec.size,
            seed=job.spec.seed,
            models={"copy": "tiny@1", "visual": "tiny@1"},
            timings={"copy_s": 1.0, "visual_s": 1.0},
        )
        assert await self.queue.complete(job.id, worker, result)

    async def work(self, *, fail: str | None = None) -> Job:
        """Play the worker for the next queued job: claim it, report progress, write its images, finish."""
        job = await self.start()
        if fail:
            await self.queue.fail(job.id, "w1", fail)
            return job
        await self.finish(job, self.make(job))
        return job


async def _fresh_postgres() -> str:
    eng = make_engine(PG_URL)
    async with eng.begin() as c:
        await c.execute(text("DROP SCHEMA public CASCADE"))
        await c.execute(text("CREATE SCHEMA public"))
    await eng.dispose()
    return PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
async def studio(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Studio]:
    """The same engine flows on both stores: every repository query runs on SQLite and PostgreSQL (a
    backend that is not reachable fails loudly; it never skips)."""
    settings = Settings(
        data_dir=tmp_path, status_edit_interval=0, reaction_debounce_seconds=0, _env_file=None
    )  # type: ignore[call-arg]
    url = database_url(settings.data_dir, None) if request.param == "sqlite" else await _fresh_postgres()
    await upgrade_async(url)
    chat = RecordingAdapter()
    queue = FakeQueue()
    artifacts = LocalArtifacts(tmp_path)
    engine = Engine(settings, Repo(make_engine(url)), queue, artifacts, [chat])
    await engine.start()
    yield Studio(engine, queue, chat, artifacts)
    await engine.close()
