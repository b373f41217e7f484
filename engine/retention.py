"""Retention: what the settings allow is deleted, never anything of a campaign with a job still active.

- ``retention_days``: a campaign with no new round for that long expires (:meth:`Repo.expire_campaigns`):
  its rows go, a small record stays (its id is never reused; a late reaction, reply or button hears
  that it expired), and so do its images and exports.
- ``image_retention_days``: a round's image folder (``images/C<id>/round-<n>``) once the round is that old;
  its cards and history stay.
- ``export_retention_days``: export zips (``exports/C<id>-*.zip``, and temporary files a crash left) by age.

Run by ``campaignbot prune [--dry-run]`` and by the delivery loop (``prune_interval_seconds``). Zero days
keeps that kind forever.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from engine import messages as say
from engine.artifacts import LocalArtifacts
from engine.planning import job_id_prefix
from engine.settings import Settings
from engine.store.models import now
from engine.store.repo import Holdings, Repo

logger = logging.getLogger(__name__)

DAY_S = 86400.0
EVENT_MEMORY_S = 86400.0  # platforms retry events for minutes, not days: seen event ids are kept a day
_CAMPAIGN_DIR = re.compile(r"C(\d+)")
_ROUND_DIR = re.compile(r"round-(\d+)")
_EXPORT = re.compile(r"C(\d+)-.*\.(?:zip|tmp)")


@dataclass
class PruneReport:
    """What one pass removed, or would remove in a dry run."""

    dry_run: bool
    campaigns: list[int] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # artifact names: image folders and export files
    bytes: int = 0

    @property
    def empty(self) -> bool:
        return not self.campaigns and not self.files and not any(self.rows.values())

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        if self.empty:
            return ["nothing to remove: nothing is older than the retention settings allow"]
        camps = ", ".join(say.cid_str(c) for c in self.campaigns)
        rows = ", ".join(f"{n} {table}" for table, n in self.rows.items() if n) or "none"
        size = f"{self.bytes / 1e6:.1f} MB" if self.bytes >= 1e6 else f"{self.bytes} bytes"
        return [
            f"{verb} {len(self.campaigns)} expired campaigns{f' ({camps})' if camps else ''}; rows: {rows}",
            f"{verb} {len(self.files)} files and folders ({size})",
            *(f"  {name}" for name in self.files),
        ]


def _cutoff(days: float, at: float) -> float | None:
    return at - days * DAY_S if days > 0 else None


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _newest_mtime(path: Path) -> float:
    return max([path.stat().st_mtime, *(f.stat().st_mtime for f in path.rglob("*"))])


class Retention:
    def __init__(self, settings: Settings, repo: Repo, artifacts: LocalArtifacts):
        self.settings = settings
        self.repo = repo
        self.artifacts = artifacts

    async def prune(self, *, dry_run: bool = False, limit: int | None = None) -> PruneReport:
        """One pass: rows first (the campaigns are marked expired in that transaction), then files, so a
        crash in between leaves files of expired campaigns, which the next pass removes. ``limit`` caps
        the campaigns expired in one pass (the delivery loop's, so a first pass over years of campaigns
        does not hold up delivery)."""
        at = now()
        report = PruneReport(dry_run=dry_run)
        rows_before = _cutoff(self.settings.retention_days, at)
        if rows_before is not None:
            expired = await self.repo.expire_campaigns(
                rows_before, job_id_prefix, dry_run=dry_run, limit=limit
            )
            report.campaigns, report.rows = expired.campaigns, expired.rows
        report.rows["seen_events"] = await self.repo.forget_events(at - EVENT_MEMORY_S, dry_run=dry_run)
        held = await self.repo.holdings()
        expiring = held.expired | frozenset(report.campaigns)
        doomed = await asyncio.to_thread(self._doomed_files, held, expiring, at)
        for path in doomed:
            report.files.append(self.artifacts.name(path))
            report.bytes += _size(path)
            if not dry_run:
                await asyncio.to_thread(_delete, path)
                await self.artifacts.remove(self.artifacts.name(path))
        await self._prune_store(held, expiring, at, report)
        if not report.empty and not dry_run:
            logger.info(
                "retention: %d campaigns expired, rows %s, %d files/folders (%d bytes) removed",
                len(report.campaigns),
                report.rows,
                len(report.files),
                report.bytes,
            )
        return report

    def _doomed_files(self, held: Holdings, expiring: frozenset[int], at: float) -> list[Path]:
        """Image folders and export files to delete; none of a campaign with a round being made."""
        images_before = _cutoff(self.settings.image_retention_days, at)
        exports_before = _cutoff(self.settings.export_retention_days, at)
        out: list[Path] = []
        images = self.artifacts.path("images")
        for camp_dir in sorted(images.iterdir()) if images.is_dir() else []:
            m = _CAMPAIGN_DIR.fullmatch(camp_dir.name)
            if m is None or not camp_dir.is_dir() or int(m.group(1)) in held.active:
                continue
            cid = int(m.group(1))
            if cid in expiring:
                out.append(camp_dir)
            elif images_before is not None:
                out.extend(self._old_rounds(camp_dir, cid, held, images_before))
        exports = self.artifacts.path("exports")
        for f in sorted(exports.iterdir()) if exports.is_dir() else []:
            m = _EXPORT.fullmatch(f.name)
            if m is None or not f.is_file() or int(m.group(1)) in held.active:
                continue
            old = exports_before is not None and f.stat().st_mtime < exports_before
            if int(m.group(1)) in expiring or old:
                out.append(f)
        return out

    async def _prune_store(
        self, held: Holdings, expiring: frozenset[int], at: float, report: PruneReport
    ) -> None:
        """The same rules for what the artifact store holds beyond this host's disk (the database store:
        rounds made on worker hosts, exports made by other replicas), by artifact name."""
        stored = {**await self.artifacts.stored("images"), **await self.artifacts.stored("exports")}
        doomed = _doomed_names(
            stored,
            held,
            expiring,
            _cutoff(self.settings.image_retention_days, at),
            _cutoff(self.settings.export_retention_days, at),
        )
        for name in sorted(set(doomed) - set(report.files)):
            report.files.append(name)
            report.bytes += doomed[name]
            if not report.dry_run:
                await self.artifacts.remove(name)

    @staticmethod
    def _old_rounds(camp_dir: Path, cid: int, held: Holdings, before: float) -> list[Path]:
        """Round folders made before ``before`` (a folder no round row names, by its files' age)."""
        out = []
        for d in sorted(camp_dir.iterdir()):
            m = _ROUND_DIR.fullmatch(d.name)
            if m is None or not d.is_dir():
                continue
            made = held.rounds.get((cid, int(m.group(1))))
            if (made if made is not None else _newest_mtime(d)) < before:
                out.append(d)
        return out


def _delete(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _doomed_names(
    stored: dict[str, tuple[float, int]],
    held: Holdings,
    expiring: frozenset[int],
    images_before: float | None,
    exports_before: float | None,
) -> dict[str, int]:
    """Which stored names (folders for images, files for exports) the retention settings remove, with the
    bytes each holds."""
    out: dict[str, int] = {}

    def add(doomed: str, size: int) -> None:
        out[doomed] = out.get(doomed, 0) + size

    for name, (created, size) in stored.items():
        parts = name.split("/")
        if parts[0] == "images" and len(parts) >= 3 and (m := _CAMPAIGN_DIR.fullmatch(parts[1])):
            cid = int(m.group(1))
            if cid in held.active:
                continue
            if cid in expiring:
                add(f"images/{parts[1]}", size)
            elif images_before is not None and (r := _ROUND_DIR.fullmatch(parts[2])):
                made = held.rounds.get((cid, int(r.group(1))), created)
                if made < images_before:
                    add("/".join(parts[:3]), size)
        elif parts[0] == "exports" and len(parts) == 2 and (m := _EXPORT.fullmatch(parts[1])):
            cid = int(m.group(1))
            if cid in held.active:
                continue
            if cid in expiring or (exports_before is not None and created < exports_before):
                add(name, size)
    return out
