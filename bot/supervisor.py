"""Start, watch and stop the inference worker process (``campaignbot worker``) for the embedded set-up.

The supervisor keeps one worker process alive and healthy:

- **restarts** a worker that crashed, with back-off, at most ``worker_restart_limit`` times within
  ``worker_restart_window_seconds`` (a worker that stayed up that long resets the count); then it stops
  restarting and logs one error line saying what to do (the jobs stay queued);
- **recycles** a worker that is stuck (its watchdog, through the queue): a job still running after
  ``job_timeout_seconds`` is abandoned (failed with one notice, not retried), and a worker still busy on a
  job that was cancelled or taken over after ``job_cancel_grace_seconds`` is replaced; the process gets
  SIGTERM, then SIGKILL, and a fresh one starts at once. A worker that exits with
  :data:`engine.queue.EXIT_RECYCLE` (a sticky device error) is replaced at once too. Recycles are not crashes;
- **writes its output** (stdout and stderr, through a pipe) to ``<data_dir>/logs/worker.log``, rotated by
  size (``worker_log_max_bytes``, ``worker_log_backups``), every line through the redaction filter.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from engine import messages as say
from engine.queue import EXIT_RECYCLE, JobWatchdog, worker_name
from engine.redact import RedactingFilter
from engine.settings import Settings

logger = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
DRAIN_TIMEOUT_S = 5.0  # after the worker exits, its last output is still copied to the log for this long


class WorkerSupervisor:
    """Keeps one worker process alive: restarts it (with back-off, capped) when it dies, recycles it when
    it is stuck (``queue`` given: the watchdog), stops it cleanly.

    ``command`` is what is started (default ``python -m bot.cli worker``), followed by ``args``. ``env`` is
    merged into the child's environment (which never holds the chat platforms' settings)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        stop_timeout: float = 20.0,
        settings: Settings | None = None,
        queue: JobWatchdog | None = None,
        command: list[str] | None = None,
    ):
        self.data_dir = data_dir
        self.args = args or []
        self.env = env or {}
        self.stop_timeout = stop_timeout
        self.settings = settings or Settings()
        self.queue = queue
        self.command = command or [sys.executable, "-m", "bot.cli", "worker"]
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0  # every fresh process after the first
        self.recycles = 0  # of those, the deliberate ones (stuck job, sticky device error)
        self.gave_up = False  # too many crashes: no more restarts
        self._crashes: list[float] = []  # when recent crashes happened (loop time)
        self._started_at = 0.0
        self._recycle_reason: str | None = None
        self._orphan_since: float | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._pump: asyncio.Task[None] | None = None
        self._log: logging.Handler | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def log_path(self) -> Path:
        return self.data_dir / "logs" / "worker.log"

    def _log_handler(self) -> logging.Handler:
        if self._log is None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                self.log_path,
                maxBytes=self.settings.worker_log_max_bytes,
                backupCount=self.settings.worker_log_backups,
                encoding="utf-8",
            )
            handler.setFormatter(logging.Formatter("%(message)s"))
            handler.addFilter(RedactingFilter())  # what the child printed outside its logging is masked too
            self._log = handler
        return self._log

    def _write(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace").rstrip("\r")
        self._log_handler().handle(
            logging.makeLogRecord(
                {"name": "worker", "msg": text, "levelno": logging.INFO, "levelname": "INFO"}
            )
        )

    async def _copy_output(self, stream: asyncio.StreamReader) -> None:
        """Every byte the worker writes, line by line, to the rotating log (lines of any length)."""
        pending = b""
        while chunk := await stream.read(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                self._write(line)
        if pending:
            self._write(pending)

    async def _spawn(self) -> asyncio.subprocess.Process:
        self._log_handler()
        env = {**worker_env(os.environ), **self.env, "CAMPAIGNBOT_DATA_DIR": str(self.data_dir)}
        proc = await asyncio.create_subprocess_exec(
            *self.command,
            *self.args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
            env=env,
        )
        assert proc.stdout is not None
        self._pump = asyncio.create_task(self._copy_output(proc.stdout))
        self._started_at = asyncio.get_running_loop().time()
        self._recycle_reason, self._orphan_since = None, None
        logger.info("worker process started (pid %d)", proc.pid)
        return proc

    async def start(self) -> None:
        self._stopping = False
        self.proc = await self._spawn()
        self._task = asyncio.create_task(self._watch())

    async def _drain(self) -> None:
        pump, self._pump = self._pump, None
        if pump is not None:
            try:
                await asyncio.wait_for(asyncio.shield(pump), DRAIN_TIMEOUT_S)
            except TimeoutError:  # a grandchild still holds the pipe: stop copying
                pump.cancel()

    async def _watch(self) -> None:
        delay = 1.0
        while not self._stopping:
            assert self.proc is not None
            code = await self._wait_watching(self.proc)
            await self._drain()
            if self._stopping:
                return
            if self._recycle_reason is not None or code == EXIT_RECYCLE:
                why = self._recycle_reason or "it reported a device error"
                logger.warning("worker process %d recycled (%s); starting a fresh one", self.proc.pid, why)
                self.recycles += 1
            else:
                pause = self._crashed(code, delay)
                if pause is None:
                    return
                await asyncio.sleep(pause)
                delay = min(MAX_BACKOFF_S, pause * 2)
                if self._stopping:
                    return
            self.restarts += 1
            self.proc = await self._spawn()

    def _crashed(self, code: int | None, delay: float) -> float | None:
        """Count a crash; the back-off before the next start, or None when the restart cap is reached."""
        t = asyncio.get_running_loop().time()
        window = self.settings.worker_restart_window_seconds
        if t - self._started_at >= window:  # it stayed up long enough: a fresh count, a short back-off
            self._crashes.clear()
            delay = 1.0
        self._crashes = [c for c in self._crashes if t - c < window] + [t]
        if len(self._crashes) >= self.settings.worker_restart_limit:
            self.gave_up = True
            logger.error(
                "the inference worker crashed %d times within %.0f s (last exit status %s); not restarting it. "
                "Queued jobs wait for it: read %s, fix the cause, then restart campaignbot.",
                len(self._crashes),
                window,
                code,
                self.log_path,
            )
            return None
        logger.warning("worker process exited with %s; restarting in %.0fs", code, delay)
        return delay

    async def _wait_watching(self, proc: asyncio.subprocess.Process) -> int:
        """Wait for the process to exit; meanwhile (with a queue) check its job and recycle it if stuck."""
        if self.queue is None:
            return await proc.wait()
        name = worker_name(proc.pid)
        while True:
            try:
                return await asyncio.wait_for(proc.wait(), self.settings.worker_watch_interval)
            except TimeoutError:
                pass
            try:
                reason = await self._check(self.queue, name)
            except Exception as exc:  # the database is busy or away: look again on the next tick
                logger.warning("worker watchdog: could not read the queue (%s)", exc)
                continue
            if reason is not None:
                self._recycle_reason = reason
                return await _terminate(proc, self.settings.worker_recycle_grace_seconds)

    async def _check(self, queue: JobWatchdog, name: str) -> str | None:
        """Why the worker must be recycled now, or None. It is when its job ran past the timeout (the job is
        failed with a notice), or when it is still busy on a job that was cancelled or is no longer its own
        after the grace period (a cancelled job is marked cancelled)."""
        w = await queue.watch(name)
        if w is None or w.state != "busy" or w.busy_since is None:
            self._orphan_since = None
            return None
        timeout = self.settings.job_timeout_seconds
        busy = time.time() - w.busy_since
        if busy > timeout:
            if len(w.job_ids) > 1:
                # A batch hung: which of its jobs is to blame is unknown. Each goes back to the queue as a
                # delivery (up to the delivery cap), and a job delivered again runs alone, so a job that
                # hangs again is the one timed out (and failed) next time, without its batch-mates.
                for job_id in w.job_ids:
                    await queue.fail(job_id, name, say.job_timed_out(timeout), retry=True)
                logger.error(
                    "a batch of %d jobs (%s) still running after %.0f s; each retried alone",
                    len(w.job_ids),
                    " ".join(w.job_ids),
                    busy,
                )
                return f"busy on a batch of {len(w.job_ids)} jobs for {busy:.0f} s, over the {timeout:.0f} s limit"
            if w.job_id is not None and await queue.abandon(w.job_id, name, say.job_timed_out(timeout)):
                logger.error("job %s: still running after %.0f s; abandoned (not retried)", w.job_id, busy)
            return f"busy on one job for {busy:.0f} s, over the {timeout:.0f} s limit"
        if w.job_id is not None and not w.cancel_requested:
            self._orphan_since = None
            return None
        t = asyncio.get_running_loop().time()
        if self._orphan_since is None:
            self._orphan_since = t
            return None
        if t - self._orphan_since <= self.settings.job_cancel_grace_seconds:
            return None
        if w.job_id is not None and await queue.abandon(w.job_id, name, None):
            logger.warning("job %s: cancelled, but its worker did not stop; ending it", w.job_id)
        return "still busy on a job that was cancelled or taken over"

    async def stop(self) -> None:
        self._stopping = True
        proc = self.proc
        if proc and proc.returncode is None:
            await _terminate(proc, self.stop_timeout)
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self._drain()
        if self._log is not None:
            self._log.close()
            self._log = None


async def _terminate(proc: asyncio.subprocess.Process, grace: float) -> int:
    """SIGTERM, then SIGKILL if the process has not exited after ``grace`` seconds; its exit status."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            logger.warning("worker process %d did not stop in %.0fs; killing it", proc.pid, grace)
            proc.kill()
    return await proc.wait()


# The worker never talks to a chat platform: it does not get their tokens.
_PLATFORM_PREFIXES = ("SLACK_", "DISCORD_")


def worker_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment the worker process gets: everything but the chat platforms' settings and secrets."""
    return {k: v for k, v in environ.items() if not k.upper().startswith(_PLATFORM_PREFIXES)}
