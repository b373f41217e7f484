"""Campaign state: the schema (:mod:`.models`), the database (:mod:`.db`), its migrations (:mod:`.migrate`)
and the repository that holds every query the engine makes (:mod:`.repo`)."""

from engine.store.db import database_url, make_engine, sessionmaker
from engine.store.models import (
    Base,
    Campaign,
    Card,
    JobRow,
    MessageRef,
    Outbox,
    Round,
    SeenEvent,
    Vote,
    Worker,
    WorkspaceSettings,
    now,
)

__all__ = [
    "Base",
    "Campaign",
    "Card",
    "JobRow",
    "MessageRef",
    "Outbox",
    "Round",
    "SeenEvent",
    "Vote",
    "Worker",
    "WorkspaceSettings",
    "database_url",
    "make_engine",
    "now",
    "sessionmaker",
]
