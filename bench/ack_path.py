"""The ack path alone: what one ``/campaign`` costs the engine before its answer, on the embedded store.

    .venv/bin/python bench/ack_path.py [--commands 50] [--repeats 3]

No platform, no worker: the real engine (``bot.app.open_engine``: SQLite in a temporary data dir, the
embedded queue) handles ``CommandEvent``s as an adapter would hand them over. Two figures:

- **serial**: ``--commands`` commands one after another; wall and CPU milliseconds per command, and how
  that splits between the duplicate check (``Repo.seen``), the campaign's transaction
  (``Repo.create_campaign``, with the admission count ``Repo._admit`` inside it) and a separate enqueue
  (``queue.enqueue``: zero calls when the job is written in the round's transaction);
- **burst**: ``--commands`` commands at once (``asyncio.gather``), each one's latency to its answer
  (median, p90, p99, max), as the load benchmark's burst but without the HTTP, the bot's delivery loop or a
  worker beside it.

The best of ``--repeats`` runs (fresh data dir each) is kept. Writes ``bench/results/ack_path.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load import spread  # noqa: E402  (the load benchmark's percentiles)

from bot.app import open_engine  # noqa: E402
from engine.engine import Engine  # noqa: E402
from engine.events import CommandEvent, Where  # noqa: E402
from engine.settings import Settings  # noqa: E402

HERE = Where("bench", "T1", "C1")
TEXT = "smart watch for runners --variants 4"


def _timed(obj: Any, name: str, into: dict[str, float], calls: collections.Counter[str]) -> None:
    """Wrap ``obj.name`` (a coroutine method) to add its wall time to ``into[name]``."""
    fn = getattr(obj, name)

    @functools.wraps(fn)
    async def wrapper(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        try:
            return await fn(*a, **k)
        finally:
            into[name] += time.perf_counter() - t
            calls[name] += 1

    setattr(obj, name, wrapper)


async def _engine(tmp: Path) -> Engine:
    os.environ["CAMPAIGNBOT_DATA_DIR"] = str(tmp)
    # every command is admitted (the defaults refuse most of 50 at once)
    return await open_engine(Settings(data_dir=tmp, queue_cap=100_000, max_jobs_per_user=100_000))


async def _command(eng: Engine, i: int) -> float:
    t = time.perf_counter()
    reply = await eng.handle(CommandEvent(HERE, f"U{i}", TEXT, event_id=f"e{i}", user_name=f"user{i}"))
    if reply is None or "Working on it" not in reply.text:
        raise SystemExit(f"command {i} was not accepted: {reply.text if reply else None!r}")
    return time.perf_counter() - t


async def serial(n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="campaignbot-ack-") as tmp:
        eng = await _engine(Path(tmp))
        try:
            await _command(eng, 10**6)  # warm: first connection, statement caches
            spent: dict[str, float] = collections.defaultdict(float)
            calls: collections.Counter[str] = collections.Counter()
            _timed(eng.repo, "seen", spent, calls)
            _timed(eng.repo, "create_campaign", spent, calls)
            _timed(eng.repo, "_admit", spent, calls)
            _timed(eng.queue, "enqueue", spent, calls)
            t, c = time.perf_counter(), time.process_time()
            for i in range(n):
                await _command(eng, i)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
        finally:
            await eng.close()
    return {
        "wall_ms_per_command": round(1000 * wall / n, 2),
        "cpu_ms_per_command": round(1000 * cpu / n, 2),
        "ms_per_command": {k: round(1000 * v / n, 2) for k, v in sorted(spent.items())},
        "calls_per_command": {
            k: round(calls[k] / n, 2) for k in ("seen", "create_campaign", "_admit", "enqueue")
        },
    }


async def burst(n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="campaignbot-ack-") as tmp:
        eng = await _engine(Path(tmp))
        try:
            await _command(eng, 10**6)
            t = time.perf_counter()
            lat = await asyncio.gather(*(_command(eng, i) for i in range(n)))
            wall = time.perf_counter() - t
        finally:
            await eng.close()
    return {
        "n": n,
        "wall_ms": round(1000 * wall, 1),
        "ack_ms": spread(lat, 1000.0, 1),
    }


def _git() -> dict[str, Any]:
    def run(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    return {
        "commit": run("rev-parse", "HEAD"),
        "dirty": bool(run("status", "--porcelain", "--untracked-files=no")),
    }


async def main_async(a: argparse.Namespace) -> dict[str, Any]:
    runs_s = [await serial(a.commands) for _ in range(a.repeats)]
    runs_b = [await burst(a.commands) for _ in range(a.repeats)]
    return {
        "benchmark": "ack path (issue 16)",
        "command": "python bench/ack_path.py " + " ".join(sys.argv[1:]),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "git": _git(),
        "commands": a.commands,
        "serial": min(runs_s, key=lambda r: r["wall_ms_per_command"]),
        "burst": min(runs_b, key=lambda r: r["ack_ms"]["p99"]),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commands", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ack_path.json")
    a = ap.parse_args(argv)
    if a.commands < 1 or a.repeats < 1:
        ap.error("--commands and --repeats must be at least 1")
    out = asyncio.run(main_async(a))
    s, b = out["serial"], out["burst"]
    print(
        f"serial: {s['wall_ms_per_command']} ms/command wall, {s['cpu_ms_per_command']} ms CPU; "
        f"split {s['ms_per_command']}; calls {s['calls_per_command']}"
    )
    print(f"burst of {b['n']}: all answered in {b['wall_ms']} ms; ack ms {b['ack_ms']}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=2) + "\n")
    print("wrote", a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
