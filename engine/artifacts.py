"""Where creatives live: an artifact store names files relative to its root (the data dir today), so a
job result never carries a path of the host that made it. A worker on another host needs only a store
both can reach (a shared volume now; an object store later) behind the same two calls."""

from __future__ import annotations

from pathlib import Path

from engine.jobs import is_relative_name


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
