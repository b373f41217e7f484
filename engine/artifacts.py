"""Where creatives live: an artifact store names files relative to its root, so a job result never carries
a path of the host that made it.

- :class:`LocalArtifacts` (the embedded default): files under the data dir, which the worker and the bot
  share (one host, or a shared volume).
- :class:`DatabaseArtifacts` (``CAMPAIGNBOT_ARTIFACT_STORE=database``): the bytes live in the database's
  ``artifacts`` table, so worker hosts and bot replicas share nothing but the database. Each process keeps
  a local copy under its own data dir: the worker writes a round there and :meth:`publish` uploads it; the
  engine :meth:`fetch` es a file (or a round's folder) before it posts or exports it. Artifacts never change
  once written, so a local copy is never stale.

Both have the same calls; code that makes files calls ``publish`` after writing, code that reads them calls
``fetch`` first (both no-ops for the local store).
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engine.jobs import is_relative_name
from engine.store.models import Artifact, now

logger = logging.getLogger(__name__)


class LocalArtifacts:
    """Artifacts under one folder (``<data dir>``)."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, name: str) -> Path:
        """The file an artifact name stands for. Names from results of earlier releases were absolute
        paths; those are returned as they are."""
        p = Path(name)
        return p if p.is_absolute() else self.root / p

    def name(self, path: Path) -> str:
        """The artifact name of a file under the root (``images/C3/round-2/variant-1.png``)."""
        rel = path.resolve().relative_to(self.root.resolve()).as_posix()
        if not is_relative_name(rel):
            raise ValueError(f"{path} is not inside the artifact store {self.root}")
        return rel

    @staticmethod
    def round_dir(campaign_id: int, round_number: int) -> str:
        return f"images/C{campaign_id}/round-{round_number}"

    @staticmethod
    def export_name(campaign_id: int, rounds: int) -> str:
        return f"exports/C{campaign_id}-{rounds}rounds.zip"

    async def publish(self, name: str) -> None:
        """Make a file, or every file under a folder, written locally under ``name`` reachable by every
        process of the store (nothing to do here: they share the folder)."""

    async def fetch(self, name: str) -> Path:
        """The local path of ``name`` (a file or a folder), copied from the store first if needed."""
        return self.path(name)

    async def remove(self, name: str) -> None:
        """Forget a file or a folder in the store (retention); the local copy is the caller's."""

    async def stored(self, prefix: str) -> dict[str, tuple[float, int]]:
        """Files the store holds beyond this host's disk, under ``prefix``: name -> (created, bytes). The
        local store holds nothing beyond the disk (retention walks the folders instead)."""
        return {}


class DatabaseArtifacts(LocalArtifacts):
    """Artifacts in the database's ``artifacts`` table; ``root`` is this process's local copy."""

    def __init__(self, root: Path, sessions: async_sessionmaker[AsyncSession]):
        super().__init__(root)
        self.sessions = sessions

    def _check(self, name: str) -> str:
        name = name.rstrip("/")
        if not name or not is_relative_name(name):
            raise ValueError(f"not an artifact name: {name!r}")
        return name

    async def publish(self, name: str) -> None:
        name = self._check(name)
        local = self.path(name)
        files = [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file())
        if not files:
            raise FileNotFoundError(f"nothing to publish at {local}")
        blobs = await asyncio.to_thread(lambda: [(self.name(p), p.read_bytes()) for p in files])
        async with self.sessions() as s, s.begin():
            for n, data in blobs:
                await s.merge(Artifact(name=n, data=data, size=len(data), created_at=now()))
        logger.debug("published %d file(s) under %s", len(blobs), name)

    async def fetch(self, name: str) -> Path:
        name = self._check(name)
        local = self.path(name)
        if local.is_file():
            return local
        under = (Artifact.name == name) | Artifact.name.startswith(name + "/", autoescape=True)
        async with self.sessions() as s:
            names = [str(n) for n in (await s.execute(select(Artifact.name).where(under))).scalars()]
            missing = [n for n in names if not self.path(n).is_file()]
            rows = (
                (
                    await s.execute(select(Artifact.name, Artifact.data).where(Artifact.name.in_(missing)))
                ).all()
                if missing
                else []
            )
        if not names:
            if local.exists():  # a folder made here, not published (yet): what is here is all there is
                return local
            raise FileNotFoundError(f"artifact {name} is not in the store")
        await asyncio.to_thread(self._write_local, [(str(n), bytes(d)) for n, d in rows])
        return local

    def _write_local(self, rows: list[tuple[str, bytes]]) -> None:
        for n, data in rows:
            dest = self.path(n)
            if dest.is_file():
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp")  # readers never see half a file
            tmp.write_bytes(data)
            os.replace(tmp, dest)

    async def remove(self, name: str) -> None:
        name = self._check(name)
        async with self.sessions() as s, s.begin():
            await s.execute(
                delete(Artifact).where(
                    (Artifact.name == name) | Artifact.name.startswith(name + "/", autoescape=True)
                )
            )

    async def stored(self, prefix: str) -> dict[str, tuple[float, int]]:
        prefix = self._check(prefix)
        under = (Artifact.name == prefix) | Artifact.name.startswith(prefix + "/", autoescape=True)
        async with self.sessions() as s:
            rows = (
                await s.execute(select(Artifact.name, Artifact.created_at, Artifact.size).where(under))
            ).all()
        return {str(n): (float(c), int(b)) for n, c, b in rows}
