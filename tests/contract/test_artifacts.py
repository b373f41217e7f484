"""The artifact stores' contract (issue 15): what a worker on one host publishes, the engine on another host
(its own data dir, no shared disk) fetches byte for byte; on SQLite and PostgreSQL for the database store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.artifacts import DatabaseArtifacts, LocalArtifacts
from engine.store import make_engine, sessionmaker
from engine.store.migrate import upgrade_async
from tests.engine.conftest import _fresh_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
async def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'a.sqlite3'}"
        if request.param == "sqlite"
        else await _fresh_postgres()
    )
    await upgrade_async(url)
    eng = make_engine(url)
    yield sessionmaker(eng)
    await eng.dispose()


def _write_round(root: Path) -> dict[str, bytes]:
    folder = root / "images" / "C3" / "round-2"
    folder.mkdir(parents=True)
    files = {
        "images/C3/round-2/variant-1.png": b"\x89PNG one",
        "images/C3/round-2/variant_2.png": b"\x89PNG two" * 1000,
        "images/C3/round-2/copy.json": b'{"headline": "Run Further"}',
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    return files


async def test_a_round_published_on_one_host_is_fetched_on_another(sessions: object, tmp_path: Path) -> None:
    worker = DatabaseArtifacts(tmp_path / "worker-host", sessions)  # type: ignore[arg-type]
    engine = DatabaseArtifacts(tmp_path / "bot-host", sessions)  # type: ignore[arg-type]
    files = _write_round(worker.root)
    await worker.publish(LocalArtifacts.round_dir(3, 2))
    assert not (engine.root / "images").exists()
    one = await engine.fetch("images/C3/round-2/variant-1.png")  # one file
    assert one.read_bytes() == files["images/C3/round-2/variant-1.png"]
    folder = await engine.fetch("images/C3/round-2")  # a whole folder (an export zips it)
    assert folder == engine.root / "images/C3/round-2"
    assert {engine.name(p): p.read_bytes() for p in folder.iterdir()} == files
    assert not list(folder.glob(".*tmp"))  # no half-written temp files left
    # a name that only starts like the folder is not part of it
    with pytest.raises(FileNotFoundError):
        await engine.fetch("images/C3/round-")
    await worker.remove("images/C3/round-2")
    with pytest.raises(FileNotFoundError):
        await DatabaseArtifacts(tmp_path / "third-host", sessions).fetch("images/C3/round-2/copy.json")  # type: ignore[arg-type]


async def test_bad_names_and_nothing_to_publish(sessions: object, tmp_path: Path) -> None:
    store = DatabaseArtifacts(tmp_path, sessions)  # type: ignore[arg-type]
    for bad in ("../etc/passwd", "/etc/passwd", ""):
        with pytest.raises(ValueError):
            await store.fetch(bad)
    with pytest.raises(FileNotFoundError):
        await store.publish("images/C9/round-1")


async def test_the_local_store_needs_no_copying(tmp_path: Path) -> None:
    store = LocalArtifacts(tmp_path)
    files = _write_round(tmp_path)
    await store.publish("images/C3/round-2")
    for name, data in files.items():
        assert (await store.fetch(name)).read_bytes() == data
