"""The durable job queue: the protocols both ends use (:mod:`.base`); implementations live in their own
modules (:mod:`.sql`: the embedded queue in the store's database) and are chosen by ``bot.app``."""

from engine.queue.base import JobConsumer, JobProducer, JobQueue

__all__ = ["JobConsumer", "JobProducer", "JobQueue"]
