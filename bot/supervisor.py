"""Start, watch and stop the inference worker process (``campaignbot worker``) for the embedded set-up."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

logger = logging.getLogger(__name__)


class WorkerSupervisor:
    """Keeps one worker process alive: restarts it (with back-off) when it dies, stops it cleanly.

    Its output goes to ``<data_dir>/logs/worker.log``. ``env`` is merged into the child's environment.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        stop_timeout: float = 20.0,
    ):
        self.data_dir = data_dir
        self.args = args or []
        self.env = env or {}
        self.stop_timeout = stop_timeout
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def _spawn(self) -> asyncio.subprocess.Process:
        log_dir = self.data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        log = open(log_dir / "worker.log", "ab")  # noqa: SIM115 - handed to the child
        env = {**worker_env(os.environ), **self.env, "CAMPAIGNBOT_DATA_DIR": str(self.data_dir)}
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "worker",
                *self.args,
                stdout=log,
                stderr=log,
                stdin=asyncio.subprocess.DEVNULL,
                env=env,
            )
        finally:
            log.close()
        logger.info("worker process started (pid %d)", proc.pid)
        return proc

    async def start(self) -> None:
        self._stopping = False
        self.proc = await self._spawn()
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        delay = 1.0
        while not self._stopping:
            assert self.proc is not None
            code = await self.proc.wait()
            if self._stopping:
                return
            logger.warning("worker process exited with %s; restarting in %.0fs", code, delay)
            await asyncio.sleep(delay)
            if self._stopping:
                return
            delay = min(30.0, delay * 2)
            self.restarts += 1
            self.proc = await self._spawn()

    async def stop(self) -> None:
        self._stopping = True
        proc = self.proc
        if proc and proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), self.stop_timeout)
            except TimeoutError:
                logger.warning("worker did not stop in %.0fs; killing it", self.stop_timeout)
                proc.kill()
                await proc.wait()
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


# The worker never talks to a chat platform: it does not get their tokens.
_PLATFORM_PREFIXES = ("SLACK_", "DISCORD_")


def worker_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment the worker process gets: everything but the chat platforms' settings and secrets."""
    return {k: v for k, v in environ.items() if not k.upper().startswith(_PLATFORM_PREFIXES)}
