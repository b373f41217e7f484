"""The composition root: settings -> database -> migrations -> queue -> repository -> engine, and the
adapters the environment asks for. The only module that names implementations (the SQL queue, the local
artifact store); everything else receives them.

``campaignbot run`` serves the chat on the embedded defaults: Slack and/or Discord when their settings are
present (both can run in one process on one engine), otherwise the local playground."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, cast

from bot.supervisor import WorkerSupervisor
from engine.adapter import ChatAdapter
from engine.artifacts import DatabaseArtifacts, LocalArtifacts
from engine.engine import Engine
from engine.errors import CampaignbotError
from engine.queue import JobQueue, JobWatchdog
from engine.queue.sql import SqlJobQueue
from engine.settings import Settings
from engine.store.db import database_url, make_engine, sessionmaker
from engine.store.migrate import upgrade_async
from engine.store.repo import Repo

if TYPE_CHECKING:
    from engine.queue.redis_queue import RedisJobQueue

logger = logging.getLogger(__name__)


def _redis_queue(settings: Settings) -> RedisJobQueue | None:
    url = settings.queue_url
    if not url:
        return None
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise CampaignbotError(
            f"CAMPAIGNBOT_QUEUE_URL must be a redis:// (or rediss://) URL, or unset for the embedded queue; "
            f"got {url.split('://', 1)[0]}://..."
        )
    from engine.queue.redis_queue import RedisJobQueue  # noqa: PLC0415

    return RedisJobQueue(url, prefix=settings.queue_prefix)


def build_engine(settings: Settings, adapters: list[ChatAdapter] | None = None) -> Engine:
    """The engine on the configured database and queue (not migrated, not started: see :func:`open_engine`)."""
    repo = Repo(make_engine(database_url(settings.data_dir, settings.database_url)))
    queue = _redis_queue(settings) or SqlJobQueue(repo.sessions)
    artifacts = (
        DatabaseArtifacts(settings.data_dir, repo.sessions)
        if settings.artifact_store == "database"
        else LocalArtifacts(settings.data_dir)
    )
    return Engine(settings, repo, queue, artifacts, adapters)


async def open_engine(settings: Settings, adapters: list[ChatAdapter] | None = None) -> Engine:
    """Migrate the database, build the engine and recover what a crash left half done."""
    await upgrade_async(database_url(settings.data_dir, settings.database_url))
    engine = build_engine(settings, adapters)
    await engine.start()
    return engine


async def open_worker_artifacts(settings: Settings) -> tuple[LocalArtifacts, Callable[[], Awaitable[None]]]:
    """The artifact store as the worker uses it, and what closes it (its own database connection when the
    store is the database)."""
    if settings.artifact_store != "database":
        return LocalArtifacts(settings.data_dir), _nothing
    url = database_url(settings.data_dir, settings.database_url)
    await upgrade_async(url)
    db = make_engine(url)
    return DatabaseArtifacts(settings.data_dir, sessionmaker(db)), db.dispose


async def _nothing() -> None:
    return None


async def open_worker_queue(settings: Settings) -> JobQueue:
    """The queue as the inference worker uses it (its own connection, closed with the queue). On Redis the
    worker needs no database at all."""
    redis_queue = _redis_queue(settings)
    if redis_queue is not None:
        return redis_queue
    url = database_url(settings.data_dir, settings.database_url)
    await upgrade_async(url)
    db = make_engine(url)
    return SqlJobQueue(sessionmaker(db), on_close=db.dispose)


def supervised_worker(settings: Settings, engine: Engine) -> WorkerSupervisor:
    """The inference worker process, restarted when it crashes and recycled (its watchdog reads the queue)
    when its job runs past the timeout."""
    # on Redis the engine's own queue client serves the watchdog too (the engine closes it)
    watchdog = cast("JobWatchdog", engine.queue) if settings.queue_url else SqlJobQueue(engine.repo.sessions)
    return WorkerSupervisor(settings.data_dir, settings=settings, queue=watchdog)


def configured_adapters(settings: Settings, *, playground: bool | None = None) -> list[ChatAdapter]:
    """The adapters the environment asks for. ``playground=None`` adds it only when no platform is set."""
    from bot.discord_adapter import configured as discord_configured  # noqa: PLC0415
    from bot.slack_adapter import SlackAdapter, SlackSettings  # noqa: PLC0415

    adapters: list[ChatAdapter] = []
    try:
        slack = SlackSettings.from_env()
    except ValueError as exc:
        raise CampaignbotError(f"Slack settings are incomplete: {_first_line(exc)}") from None
    if slack:
        logger.info(slack.describe())
        adapters.append(SlackAdapter(slack))
    discord = discord_configured()
    if discord:
        logger.info(discord.describe())
        adapters.append(discord)
    if playground or (playground is None and not adapters):
        from bot.playground.playground_adapter import from_settings  # noqa: PLC0415

        adapters.append(
            from_settings(settings, announce=lambda url: print(f"campaignbot playground: {url}", flush=True))
        )
    return adapters


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def run(settings: Settings | None = None, *, playground: bool | None = None) -> int:
    from bot.runner import serve  # noqa: PLC0415

    settings = settings or Settings()
    adapters = configured_adapters(settings, playground=playground)
    names = ", ".join(a.platform for a in adapters)
    logger.info("campaignbot: serving %s; data in %s", names, settings.data_dir.resolve())
    return asyncio.run(serve(settings, adapters))


def run_worker(argv: list[str] | None = None) -> int:
    """``campaignbot worker``: the inference worker process on the configured queue and artifact store."""
    import argparse  # noqa: PLC0415
    import signal  # noqa: PLC0415

    from engine.inference import worker as inference  # noqa: PLC0415 - torch: only in the worker process

    ap = argparse.ArgumentParser(prog="campaignbot worker", description="Run the inference worker.")
    ap.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    ap.add_argument(
        "--health", action="store_true", help="touch the device, load the models, print ok and exit"
    )
    ap.add_argument("--device", default=None)
    ap.add_argument("--name", default=None)
    a = ap.parse_args(argv)
    settings = Settings()
    if a.device:
        settings.device = a.device
    if a.health:
        return inference.health(settings)

    inference.lower_priority(settings)

    async def _main() -> int:
        from bot import worker_http  # noqa: PLC0415

        queue = await open_worker_queue(settings)
        artifacts, close_artifacts = await open_worker_artifacts(settings)
        worker = inference.InferenceWorker(settings, queue, artifacts, name=a.name)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop.set)
        http = None
        if settings.worker_http_port is not None:
            http = await worker_http.serve(worker, settings.worker_http_host, settings.worker_http_port)
            logger.info(
                "worker health on http://%s:%d/healthz (/readyz, /metrics)",
                settings.worker_http_host,
                worker_http.bound_port(http),
            )
        try:
            return await worker.run(burst=a.burst)
        finally:
            if http is not None:
                await http.cleanup()
            await close_artifacts()

    return asyncio.run(_main())
