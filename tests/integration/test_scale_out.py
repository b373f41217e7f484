"""Issue 15, the scale-out scenario: two bot replicas in Slack HTTP mode behind a load balancer and three
inference workers, all separate processes with separate data dirs, sharing nothing but PostgreSQL (state,
outbox, artifacts) and Redis (the job queue). The wire fake of Slack spreads 20 /campaign commands over
the replicas; one worker is killed with SIGKILL while it makes a round; a fourth worker is added mid-run.
Every campaign must get every card exactly once in its own thread, and nothing may be left pending."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp
import pytest
import redis.asyncio as aioredis

from tests.engine.conftest import _fresh_postgres
from tests.fakes.slack import FakeSlack, Message
from tests.redis_keys import REDIS_URL, drop_prefix

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGNS = 20
VARIANTS = 2
USERS = ["U0ALICE", "U0BOB"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    tmp: Path
    common: dict[str, str]
    fake: FakeSlack
    procs: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    logs: list[IO[bytes]] = field(default_factory=list)

    async def spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115 - the child writes it; closed in stop()
        self.logs.append(log)
        self.procs[name] = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", *args, env=env, stdout=log, stderr=log, cwd=ROOT
        )

    async def replica(self, name: str) -> None:
        port = _free_port()
        self.ports[name] = port
        env = self.common | self.fake.env("http", SLACK_HOST="127.0.0.1", SLACK_PORT=str(port))
        env |= {"SLACK_EDIT_INTERVAL": "0.3", "CAMPAIGNBOT_RUN_WORKER": "false"}
        env["CAMPAIGNBOT_DATA_DIR"] = str(self.tmp / name)
        await self.spawn(name, ["run"], env)

    async def worker(self, name: str, models: dict[str, str]) -> None:
        port = _free_port()
        self.ports[name] = port
        env = self.common | models | {"CAMPAIGNBOT_WORKER_HTTP_PORT": str(port)}
        env["CAMPAIGNBOT_DATA_DIR"] = str(self.tmp / name)
        await self.spawn(name, ["worker", "--name", name], env)

    async def wait_http(self, name: str, path: str, timeout: float = 120.0) -> None:
        end = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < end:
                proc = self.procs[name]
                if proc.returncode is not None:
                    raise AssertionError(f"{name} exited {proc.returncode}:\n{self.log(name)}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"http://127.0.0.1:{self.ports[name]}{path}") as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.2)
        raise AssertionError(f"{name} not ready:\n{self.log(name)}")

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")[-3000:]

    async def stop(self) -> None:
        for p in self.procs.values():
            if p.returncode is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                await asyncio.wait_for(p.wait(), 20)
            except TimeoutError:
                p.kill()
                await p.wait()
        for f in self.logs:
            f.close()


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    fake = await FakeSlack(mode="http").start()
    prefix = f"{{cbscale-{uuid.uuid4().hex[:10]}}}:"
    common = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
        "CAMPAIGNBOT_DATABASE_URL": await _fresh_postgres(),
        "CAMPAIGNBOT_QUEUE_URL": REDIS_URL,
        "CAMPAIGNBOT_QUEUE_PREFIX": prefix,
        "CAMPAIGNBOT_ARTIFACT_STORE": "database",
        "CAMPAIGNBOT_JOB_LEASE_SECONDS": "3",
        "CAMPAIGNBOT_STATUS_EDIT_INTERVAL": "0",
        "CAMPAIGNBOT_MAX_JOBS_PER_USER": str(CAMPAIGNS),
        "CAMPAIGNBOT_QUEUE_CAP": str(2 * CAMPAIGNS),
    }
    c = Cluster(tmp_path, common, fake)
    try:
        yield c
    finally:
        await c.stop()
        r = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
        await drop_prefix(r, prefix)
        await r.aclose()
        await fake.close()


def _key(m: Message) -> str | None:
    payload = (m.metadata or {}).get("event_payload") or {}
    return payload.get("key")


async def test_two_replicas_three_workers_one_killed_one_added_every_card_exactly_once(
    cluster: Cluster, tiny_copy_model_dir: Path, tiny_visual_checkpoint: Path
) -> None:
    c, fake = cluster, cluster.fake
    models = {
        "CAMPAIGNBOT_COPY_MODEL": str(tiny_copy_model_dir),
        "CAMPAIGNBOT_VISUAL_MODEL": str(tiny_visual_checkpoint),
    }
    t0 = time.monotonic()
    await asyncio.gather(c.replica("bot-a"), c.replica("bot-b"))
    for w in ("w0", "w1", "w2"):
        await c.worker(w, models)
    await asyncio.gather(*(c.wait_http(b, "/healthz") for b in ("bot-a", "bot-b")))
    fake.app_urls = [f"http://127.0.0.1:{c.ports[b]}/slack/events" for b in ("bot-a", "bot-b")]
    await asyncio.gather(*(c.wait_http(w, "/readyz") for w in ("w0", "w1", "w2")))
    started = time.monotonic() - t0

    for i in range(CAMPAIGNS):
        d = await fake.slash(USERS[i % 2], f"product number {i} for runners --variants {VARIANTS} --seed {i}")
        assert d.status == 200 and d.ack is not None, d

    queue = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    prefix = c.common["CAMPAIGNBOT_QUEUE_PREFIX"]
    killed_job = None
    try:
        # kill w0 while it makes a round
        end = time.monotonic() + 120
        while killed_job is None and time.monotonic() < end:
            for jk in [k async for k in queue.scan_iter(match=prefix + "job:*")]:
                h = await queue.hmget(jk, ["state", "worker"])
                if h == ["running", "w0"]:
                    killed_job = jk.removeprefix(prefix + "job:")
                    break
            else:
                await asyncio.sleep(0.05)
        assert killed_job is not None, c.log("w0")
        c.procs["w0"].kill()
        await c.procs["w0"].wait()
        await c.worker("w3", models)  # added mid-run

        def delivered() -> bool:
            roots = fake.roots()
            return len(roots) == CAMPAIGNS and all(len(fake.cards(r)) >= VARIANTS for r in roots)

        end = time.monotonic() + 600
        while not delivered() and time.monotonic() < end:
            await asyncio.sleep(0.5)
        assert delivered(), {r.text[:40]: len(fake.cards(r)) for r in fake.roots()}
        took = time.monotonic() - t0
        await asyncio.sleep(4)  # anything a replica still owed, or would post twice, shows up meanwhile

        roots = fake.roots()
        assert len(roots) == CAMPAIGNS
        products: Counter[str] = Counter()
        for root in roots:
            thread = fake.thread(root)
            cards = fake.cards(root)
            assert len(cards) == VARIANTS and len(fake.grids(root)) == 1, [m.text for m in thread]
            keys = [k for m in thread if (k := _key(m))]
            dup = [k for k, n in Counter(keys).items() if n > 1]
            assert not dup, dup
            job_prefix = {k.split(":")[0] for k in keys if k.startswith("C")}
            assert len(job_prefix) == 1  # every card of this thread came from this campaign's job
            m = re.search(r"product number (\d+)", root.text)
            products[m.group(1) if m else root.text] += 1
        assert sorted(products) == sorted(str(i) for i in range(CAMPAIGNS)) and set(products.values()) == {1}

        pending = await queue.xpending(prefix + "jobs", "workers")
        assert pending["pending"] == 0
        assert await queue.zcard(prefix + "active") == 0
        states = {}
        for jk in [k async for k in queue.scan_iter(match=prefix + "job:*")]:
            h = await queue.hgetall(jk)
            states[jk.removeprefix(prefix + "job:")] = (h["state"], h["worker"], int(h["attempts"]))
        assert len(states) == CAMPAIGNS and {s for s, _, _ in states.values()} == {"done"}, states
        assert states[killed_job][1] != "w0" and states[killed_job][2] == 2  # taken again once, by another
        by_worker = Counter(w for _, w, _ in states.values())
        assert by_worker["w3"] >= 1, by_worker  # the worker added mid-run took jobs
        assert fake.problems == [], (len(fake.problems), fake.problems[:5])
        result = {
            "campaigns": CAMPAIGNS,
            "cards": sum(len(fake.cards(r)) for r in roots),
            "duplicates": 0,
            "jobs_by_worker": dict(by_worker),
            "killed_job": killed_job,
            "start_s": round(started, 1),
            "total_s": round(took, 1),
        }
        print("scale-out:", json.dumps(result))  # the figures for the note (pytest -s)
    finally:
        await queue.aclose()
