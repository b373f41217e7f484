"""The durable queue's contract, run on every backend: SQLite (embedded), PostgreSQL and Redis Streams
(scale-out). A backend that is not reachable fails loudly; it never skips."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import pytest
from sqlalchemy import text, update

from engine.jobs import JobSpec, JobState, RoundResult, VariantResult
from engine.queue import JobQueue, JobWatchdog
from engine.queue.redis_queue import GROUP, RedisJobQueue
from engine.queue.sql import SqlJobQueue
from engine.store import JobRow, make_engine, sessionmaker
from engine.store.migrate import upgrade_async
from tests.pg import PG_URL
from tests.redis_keys import REDIS_URL, drop_prefix

RESULT = RoundResult(
    round={"round": 1, "variants": [{"index": 1}]},
    dir="images/C1/round-1",
    sheet="images/C1/round-1/contact-sheet.png",
    variants=[
        VariantResult(
            1, "Run Further", "A watch for every mile.", "Start now", "images/C1/round-1/variant-1.png"
        )
    ],
    timings={"copy_s": 1.5, "visual_s": 0.5},
)


def spec(i: str, user: str = "u1") -> JobSpec:
    return JobSpec(id=i, kind="round", campaign_id=1, round_number=1, user=user, brief={"product": "watch"})


class Queue(JobQueue, JobWatchdog, Protocol):
    """What the contract tests use: both ends and the supervisor's side."""


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
async def queue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Queue]:
    if request.param == "redis":
        q = RedisJobQueue(REDIS_URL, prefix=f"{{cbtest-{uuid.uuid4().hex[:12]}}}:")
        await q.redis.ping()  # Redis down: fail here, loudly
        yield q
        await drop_prefix(q.redis, q.prefix)
        await q.close()
        return
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'q.sqlite3'}"
    else:
        url = PG_URL
        eng = make_engine(url)
        async with eng.begin() as c:
            await c.execute(text("DROP SCHEMA public CASCADE"))
            await c.execute(text("CREATE SCHEMA public"))
        await eng.dispose()
    await upgrade_async(url)
    eng = make_engine(url)
    yield SqlJobQueue(sessionmaker(eng))
    await eng.dispose()


async def _expire(q: Queue, job_id: str) -> None:
    """The job's worker went silent past its lease."""
    if isinstance(q, RedisJobQueue):
        h = await q.redis.hmget(q.key(f"job:{job_id}"), ["entry", "worker"])
        await q.redis.hset(q.key(f"job:{job_id}"), "lease_until", 0)
        await q.redis.xclaim(q.key("jobs"), GROUP, h[1], 0, [h[0]], idle=10**9, justid=True)
        return
    assert isinstance(q, SqlJobQueue)
    async with q.sessions() as s, s.begin():
        await s.execute(update(JobRow).where(JobRow.id == job_id).values(lease_until=0.0))


async def _created_at(q: Queue, job_id: str, t: float) -> None:
    if isinstance(q, RedisJobQueue):
        await q.redis.hset(q.key(f"job:{job_id}"), "created_at", t)
        return
    assert isinstance(q, SqlJobQueue)
    async with q.sessions() as s, s.begin():
        await s.execute(update(JobRow).where(JobRow.id == job_id).values(created_at=t))


async def test_enqueue_is_idempotent_and_fifo(queue: Queue) -> None:
    assert await queue.enqueue(spec("a"))
    assert not await queue.enqueue(spec("a"))
    await asyncio.sleep(0.01)
    assert await queue.enqueue(spec("b"))
    assert await queue.depth() == 2
    assert await queue.position("a") == 1 and await queue.position("b") == 2
    j = await queue.claim("w1", 30)
    assert j is not None and j.id == "a" and j.state == "running" and j.attempts == 1
    assert j.spec.brief == {"product": "watch"}
    j2 = await queue.claim("w1", 30)
    assert j2 is not None and j2.id == "b"
    assert await queue.claim("w1", 30) is None


async def test_concurrent_claims_never_share_a_job(queue: Queue) -> None:
    for i in range(6):
        await queue.enqueue(spec(f"j{i}"))
    got = await asyncio.gather(*(queue.claim(f"w{i}", 30) for i in range(8)))
    ids = [j.id for j in got if j is not None]
    assert sorted(ids) == [f"j{i}" for i in range(6)]


async def test_expired_lease_is_taken_again_until_the_cap(queue: Queue) -> None:
    await queue.enqueue(spec("a"), max_attempts=2)
    j = await queue.claim("w1", 30)
    assert j is not None
    assert await queue.claim("w2", 30) is None  # lease still valid
    await _expire(queue, "a")
    j = await queue.claim("w2", 30)
    assert j is not None and j.worker == "w2" and j.attempts == 2
    # the first worker lost its lease: its reports are refused
    assert not await queue.progress("a", "w1", "x", 50, 30)
    assert not await queue.complete("a", "w1", RESULT)
    await _expire(queue, "a")
    assert await queue.claim("w3", 30) is None  # delivered twice already: fails instead
    failed = await queue.get("a")
    assert failed is not None and failed.state == "failed"
    assert "stopped 2 times" in (failed.error or "")


async def test_progress_complete_and_unhandled(queue: Queue) -> None:
    await queue.enqueue(spec("a"))
    j = await queue.claim("w1", 30)
    assert j is not None
    assert await queue.progress("a", "w1", "drawing", 40, 30)
    got = await queue.get("a")
    assert (
        got is not None and (got.stage, got.percent) == ("drawing", 40) and got.progress_seq > j.progress_seq
    )
    assert await queue.complete("a", "w1", RESULT)
    assert [x.id for x in await queue.unhandled()] == ["a"]
    await queue.mark_handled("a")
    assert await queue.unhandled() == []
    done = await queue.get("a")
    assert done is not None and done.state is JobState.DONE
    assert done.result == RESULT and done.result.seconds == 2.0  # typed across the boundary, names relative


def _variant(k: int, headline: str = "") -> VariantResult:
    return VariantResult(
        k,
        headline or f"Headline {k}",
        "Body.",
        "Start now",
        f"images/C1/round-1/variant-{k}.png",
        visual={"seed": 7 + k, "latent": [0.1 + k / 3, -1e-17, 2.0**-40]},  # floats exactly, across JSON
        palette_index=k - 1,
    )


async def test_partial_variants_are_seen_while_the_job_runs(queue: Queue) -> None:
    """A worker hands back each variant as it is finished; the engine sees them on the running job, in the
    order reported, before the result. A variant reported again replaces its earlier report in place."""
    await queue.enqueue(spec("a"))
    j = await queue.claim("w1", 30)
    assert j is not None and j.partial == []
    assert await queue.partial("a", "w1", _variant(2))
    assert await queue.partial("a", "w1", _variant(1))
    got = await queue.get("a")
    assert got is not None and got.state == JobState.RUNNING and got.result is None
    assert got.partial == [_variant(2), _variant(1)]  # typed, every field (and float) as sent
    (seen,) = await queue.unhandled()
    assert seen.partial == [_variant(2), _variant(1)]
    assert not await queue.partial("a", "w2", _variant(3))  # not w2's job
    assert await queue.partial("a", "w1", _variant(2, "Made again"))
    got = await queue.get("a")
    assert got is not None and [(v.index, v.headline) for v in got.partial] == [
        (2, "Made again"),
        (1, "Headline 1"),
    ]
    assert await queue.complete("a", "w1", RESULT)
    assert not await queue.partial("a", "w1", _variant(3))  # finished: no more
    done = await queue.get("a")
    assert done is not None and done.result == RESULT and len(done.partial) == 2


async def test_partial_tells_a_cancelled_or_replaced_worker_to_stop(queue: Queue) -> None:
    await queue.enqueue(spec("a"))
    await queue.enqueue(spec("b"))
    assert (await queue.claim("w1", 30)) is not None
    assert await queue.partial("a", "w1", _variant(1))
    assert await queue.cancel("a")
    assert not await queue.partial("a", "w1", _variant(2))  # cancelled: the worker stops
    cancelled = await queue.get("a")
    assert cancelled is not None and cancelled.state == JobState.CANCELLED
    assert [v.index for v in cancelled.partial] == [1]
    # a worker that lost its lease is refused; the new holder's reports join the earlier delivery's
    assert (await queue.claim("w1", 30)) is not None
    assert await queue.partial("b", "w1", _variant(1))
    await _expire(queue, "b")
    again = await queue.claim("w2", 30)
    assert again is not None and again.id == "b" and [v.index for v in again.partial] == [1]
    assert not await queue.partial("b", "w1", _variant(2))
    assert await queue.partial("b", "w2", _variant(1, "Made again"))
    assert await queue.partial("b", "w2", _variant(2))
    got = await queue.get("b")
    assert got is not None and [(v.index, v.headline) for v in got.partial] == [
        (1, "Made again"),
        (2, "Headline 2"),
    ]


async def test_worker_heartbeats(queue: Queue) -> None:
    assert await queue.workers() == []
    await queue.heartbeat("w1", "starting", device="cpu", pid=123)
    await queue.heartbeat("w1", "ready", device="cpu", pid=123)
    await queue.heartbeat("w2", "busy", device="cuda:0", pid=7)
    got = await queue.workers()
    assert [(w.name, w.state, w.device) for w in got] == [("w1", "ready", "cpu"), ("w2", "busy", "cuda:0")]


async def test_cancel_queued_and_running(queue: Queue) -> None:
    await queue.enqueue(spec("a"))
    await queue.enqueue(spec("b"))
    assert await queue.cancel("b")
    assert (await queue.get("b")).state == "cancelled"  # type: ignore[union-attr]
    j = await queue.claim("w1", 30)
    assert j is not None and j.id == "a"
    assert await queue.cancel("a")
    assert not await queue.progress("a", "w1", "x", 10, 30)  # the worker is told to stop
    assert (await queue.get("a")).state == "cancelled"  # type: ignore[union-attr]
    assert not await queue.cancel("a")


async def test_release_fail_retry_and_limits(queue: Queue) -> None:
    await queue.enqueue(spec("a", user="u1"))
    await queue.enqueue(spec("b", user="u1"))
    assert await queue.active_for_user("u1") == 2 and await queue.active_for_user("u2") == 0
    j = await queue.claim("w1", 30)
    assert j is not None
    assert await queue.release("a", "w1")
    again = await queue.claim("w1", 30)
    assert again is not None and again.id == "a" and again.attempts == 1  # a clean stop is not a delivery
    assert await queue.fail("a", "w1", "boom", retry=True)
    assert (await queue.get("a")).state == "queued"  # type: ignore[union-attr]
    j = await queue.claim("w1", 30)
    assert j is not None and j.id == "a"
    assert await queue.fail("a", "w1", "bad brief")
    assert (await queue.get("a")).error == "bad brief"  # type: ignore[union-attr]


async def test_ttl_drops_old_queued_jobs(queue: Queue) -> None:
    await queue.enqueue(spec("old"))
    await _created_at(queue, "old", 1000.0)
    await queue.enqueue(spec("new"))
    dropped = await queue.drop_older_than(3600)
    assert [j.id for j in dropped] == ["old"]
    assert (await queue.get("old")).state == "dropped"  # type: ignore[union-attr]
    assert (await queue.get("new")).state == "queued"  # type: ignore[union-attr]


async def test_watchdog_sees_the_workers_job_and_abandons_it(queue: Queue) -> None:
    """The supervisor's side: what its worker runs (since when, cancelled or not), and ending a job the
    worker will not finish: failed without retry, or cancelled; never a job that is another worker's."""
    assert await queue.watch("w1") is None
    await queue.enqueue(spec("a"))
    await queue.enqueue(spec("b"))
    await queue.heartbeat("w1", "ready", device="cpu", pid=1)
    w = await queue.watch("w1")
    assert w is not None and w.state == "ready" and w.busy_since is None and w.job_id is None
    assert (await queue.claim("w1", 60)) is not None
    await queue.heartbeat("w1", "busy", device="cpu", pid=1)
    w = await queue.watch("w1")
    assert w is not None and w.busy_since is not None and w.job_id == "a" and not w.cancel_requested
    assert await queue.cancel("a")
    w = await queue.watch("w1")
    assert w is not None and w.cancel_requested
    assert not await queue.abandon("a", "w2", "timed out")  # not w2's job
    assert await queue.abandon("a", "w1", None)
    job = await queue.get("a")
    assert job is not None and job.state == JobState.CANCELLED
    assert (await queue.claim("w1", 60)) is not None
    assert await queue.abandon("b", "w1", "it took too long")
    job = await queue.get("b")
    assert job is not None and job.state == JobState.FAILED and job.error == "it took too long"
    assert not await queue.complete("b", "w1", RESULT)  # the stuck worker's late result is refused
    assert not await queue.abandon("b", "w1", "again")


async def test_a_silent_workers_lease_runs_out_in_real_time(queue: Queue) -> None:
    """No backdoor: the first worker never reports progress; once its lease has passed, another takes it."""
    await queue.enqueue(spec("a"))
    assert (await queue.claim("w1", 0.3)) is not None
    assert await queue.claim("w2", 0.3) is None
    assert await queue.progress("a", "w1", "writing", 10, 0.3)  # a report renews the lease
    await asyncio.sleep(0.45)
    j = await queue.claim("w2", 0.3)
    assert j is not None and j.id == "a" and j.worker == "w2" and j.attempts == 2
    assert not await queue.progress("a", "w1", "late", 50, 0.3)


async def test_a_job_given_back_runs_before_newer_ones(queue: Queue) -> None:
    await queue.enqueue(spec("a"))
    await asyncio.sleep(0.01)
    await queue.enqueue(spec("b"))
    j = await queue.claim("w1", 30)
    assert j is not None and j.id == "a"
    assert await queue.release("a", "w1")
    assert await queue.position("a") == 1 and await queue.position("b") == 2
    again = await queue.claim("w2", 30)
    assert again is not None and again.id == "a"
    assert await queue.fail("a", "w2", "device hiccup", retry=True)
    third = await queue.claim("w3", 30)
    assert third is not None and third.id == "a" and third.attempts == 2


async def test_redis_dead_letters_and_nothing_left_pending(tmp_path: Path) -> None:
    """Redis only: a job past its delivery cap ends in the dead-letter stream with its reason; a finished job
    leaves no pending entry and no stream entry behind; a handled job's hash expires."""
    q = RedisJobQueue(REDIS_URL, prefix=f"{{cbtest-{uuid.uuid4().hex[:12]}}}:", keep_seconds=60)
    try:
        await q.enqueue(spec("a"), max_attempts=1)
        await q.enqueue(spec("b"))
        await q.enqueue(spec("c"))
        j = await q.claim("w1", 30)
        assert j is not None and j.id == "a"
        await _expire(q, "a")  # its worker died
        nxt = await q.claim("w2", 30)  # "a" was delivered once already: it fails, "b" is taken
        assert nxt is not None and nxt.id == "b"
        failed = await q.get("a")
        assert (
            failed is not None
            and failed.state == JobState.FAILED
            and "stopped 1 times" in (failed.error or "")
        )
        dead = await q.dead_letters()
        assert [d["id"] for d in dead] == ["a"] and "stopped 1 times" in dead[0]["reason"]
        assert await q.complete("b", "w2", RESULT)
        assert await q.cancel("c")
        assert (await q.redis.xpending(q.key("jobs"), GROUP))["pending"] == 0
        assert await q.redis.xlen(q.key("jobs")) == 0
        assert await q.depth() == 0 and await q.active_for_user("u1") == 0
        await q.mark_handled("b")
        ttl = await q.redis.ttl(q.key("job:b"))
        assert 0 < ttl <= 60
    finally:
        await drop_prefix(q.redis, q.prefix)
        await q.close()
