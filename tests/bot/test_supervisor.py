"""The worker supervisor's own mechanics: the worker's output is rotated and redacted on its way to
``<data_dir>/logs/worker.log``, nothing of it is lost, and a worker that stayed up long enough resets the
crash count."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.supervisor import WorkerSupervisor
from engine.settings import Settings

TOKEN = "xoxb-1234567890-0987654321-abcdefghijklmnop"
# 400 numbered lines of ~100 bytes (one with a Slack token, one of 100 kB), then the child waits to be stopped
CHILD = f"""
import sys, time
for i in range(400):
    print(f"line {{i:04d}} " + "x" * 90, flush=i % 50 == 0)
    if i == 7:
        print("token {TOKEN} in a traceback", file=sys.stderr, flush=True)
    if i == 9:
        print("long " + "y" * 100_000)
print("last line", flush=True)
time.sleep(60)
"""


async def test_worker_output_is_rotated_redacted_and_complete(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, worker_log_max_bytes=20_000, worker_log_backups=20, _env_file=None)  # type: ignore[call-arg]
    sup = WorkerSupervisor(tmp_path, settings=settings, command=[sys.executable, "-c", CHILD], stop_timeout=2)
    await sup.start()
    log = tmp_path / "logs" / "worker.log"
    try:
        for _ in range(200):
            if log.exists() and "last line" in log.read_text():
                break
            await asyncio.sleep(0.05)
    finally:
        await sup.stop()
    files = sorted(log.parent.glob("worker.log*"))
    assert len(files) > 3  # it was rotated
    assert all(f.stat().st_size <= 20_000 for f in files if "y" * 1000 not in f.read_text())
    text = "".join(f.read_text() for f in reversed(files))  # oldest first: worker.log.N ... worker.log
    lines = [line for line in text.splitlines() if line.startswith("line ")]
    assert lines == [f"line {i:04d} " + "x" * 90 for i in range(400)]  # nothing lost, in order
    assert "y" * 100_000 in text and "last line" in text
    assert TOKEN not in text and "token [redacted] in a traceback" in text


async def test_a_worker_that_stayed_up_long_enough_resets_the_crash_count(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, worker_restart_limit=2, worker_restart_window_seconds=10, _env_file=None
    )  # type: ignore[call-arg]
    sup = WorkerSupervisor(tmp_path, settings=settings)
    t = asyncio.get_running_loop().time()
    sup._started_at = t
    assert sup._crashed(1, 4.0) == 4.0  # one crash: restarted after the back-off
    sup._started_at = t - 11  # this one ran longer than the window before it crashed
    assert sup._crashed(1, 16.0) == 1.0  # a fresh count and a short back-off, not the cap
    sup._started_at = asyncio.get_running_loop().time()
    assert sup._crashed(1, 2.0) is None and sup.gave_up  # two quick crashes in a row: the cap
