"""A worker process for the fault tests (``python -m tests.fakes.faulty_worker FAULT``): the real
:class:`~engine.inference.worker.InferenceWorker` on the configured queue and data dir, with a stand-in
studio whose first job in the data dir meets ``FAULT``, later jobs none:

- ``hang``: the generation reports progress once, then blocks forever (a hung model call);
- ``cuda``: the generation raises a sticky CUDA error;
- ``crash``: the process exits with status 3 before taking a job (every time, not only the first).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from typing import Any

from engine import redact
from engine.settings import Settings


def _hang(_: Any) -> None:
    threading.Event().wait()


def _cuda(_: Any) -> None:
    import torch  # noqa: PLC0415

    raise getattr(torch, "AcceleratorError", RuntimeError)(
        "CUDA error: an illegal memory access was encountered"
    )


FAULTS = {"hang": _hang, "cuda": _cuda}


def main(fault: str) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    redact.install()
    if fault == "crash":  # before any heavy import: a crash loop is quick
        print("faulty worker: crashing on purpose", flush=True)
        return 3
    from bot.app import open_worker_queue  # noqa: PLC0415
    from engine.artifacts import LocalArtifacts  # noqa: PLC0415
    from engine.inference.worker import InferenceWorker  # noqa: PLC0415
    from tests.fakes.studio import StandInStudio  # noqa: PLC0415

    settings = Settings()
    marker = settings.data_dir / f"faulty-worker-{fault}"
    first = not marker.exists()
    marker.touch()
    studio = StandInStudio(FAULTS[fault] if first else None)

    async def run() -> int:
        queue = await open_worker_queue(settings)
        worker = InferenceWorker(settings, queue, LocalArtifacts(settings.data_dir), studio=studio)  # type: ignore[arg-type]
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop.set)
        return await worker.run()

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
