"""The durable job queue: the protocols both ends use (:mod:`.base`); implementations live in their own
modules (:mod:`.sql`: the embedded queue in the store's database) and are chosen by ``bot.app``."""

from engine.queue.base import (
    EXIT_RECYCLE,
    JobConsumer,
    JobProducer,
    JobQueue,
    JobWatchdog,
    WorkerWatch,
    worker_name,
)

__all__ = [
    "EXIT_RECYCLE",
    "JobConsumer",
    "JobProducer",
    "JobQueue",
    "JobWatchdog",
    "WorkerWatch",
    "worker_name",
]
