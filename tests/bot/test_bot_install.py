"""A bot-only install works: the bot and the engine outside ``engine.inference`` import without the
``worker`` extra (torch, torchvision, transformers, ...), and the base requirements do not pull it in.

The bot-only install is simulated in a subprocess by a ``sys.meta_path`` finder that makes every import
of an optional extra's package raise ``ModuleNotFoundError``, as if it were not installed. The
subprocess runs this checkout (``cwd`` and ``PYTHONPATH`` are the repository root), not whatever
checkout the virtualenv's editable install points at.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
HEAVY = ("torch", "torchvision", "transformers")
# Extras that a bot-only install does without; `dev` is the test tooling and stays.
OPTIONAL_EXTRAS = ("worker", "train", "biggan")
# Explicitly named bot modules (the walk below finds them too, and any module added later).
BOT_MODULES = (
    "bot",
    "bot.app",
    "bot.runner",
    "bot.slack_adapter",
    "bot.discord_adapter",
    "bot.console_adapter",
    "bot.playground.server",
)
# What the engine outside engine.inference must not load even indirectly (the runtime side of
# .importlinter's contract (b); aiohttp.web is named here, import-linter can only forbid all of aiohttp).
FRONTEND = ("slack_bolt", "slack_sdk", "discord", "aiohttp.web")


def _import_name(requirement: str) -> str | None:
    """The top-level import name of a requirement (``discord.py`` -> ``discord``); None for ourselves."""
    name = Requirement(requirement).name
    if name.lower() == "campaignbot":
        return None
    return re.sub(r"[-.]", "_", name.lower()).removesuffix("_py")


def blocked_modules() -> list[str]:
    extras = PYPROJECT["project"]["optional-dependencies"]
    names = {n for extra in OPTIONAL_EXTRAS for r in extras[extra] if (n := _import_name(r))}
    return sorted(names | set(HEAVY))


# Runs in the subprocess: argv[1] is a JSON object {"blocked": [...], "modules": [...], "walk": [...],
# "forbidden": [...]}. Prints a JSON object with what failed to import and which watched modules loaded.
_PROBE = r"""
import importlib, importlib.abc, json, pkgutil, sys, traceback

spec = json.loads(sys.argv[1])
blocked = set(spec["blocked"])

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {fullname!r} (bot-only install)", name=fullname)
        return None

sys.meta_path.insert(0, Blocker())

def skipped(name):
    return name == "engine.inference" or name.startswith(("engine.inference.", "engine.migrations"))

def walk(package):
    # pkgutil.walk_packages imports every package it descends into, engine.inference too; this walk
    # does not enter what it skips.
    mod = importlib.import_module(package)
    yield package
    for info in pkgutil.iter_modules(mod.__path__, package + "."):
        if skipped(info.name):
            continue
        if info.ispkg:
            yield from walk(info.name)
        else:
            yield info.name

failed, imported = {}, []
names = list(spec["modules"])
for package in spec["walk"]:
    try:
        names += [n for n in walk(package) if n not in names]
    except Exception:
        failed[package] = traceback.format_exc(limit=-3)
for name in names:
    try:
        importlib.import_module(name)
        imported.append(name)
    except BaseException:
        failed[name] = traceback.format_exc(limit=-3)
loaded = [m for m in spec["forbidden"] if m in sys.modules]
print(json.dumps({"failed": failed, "imported": imported, "loaded": loaded}))
"""


def probe(
    modules: tuple[str, ...] | list[str], walk: tuple[str, ...], forbidden: tuple[str, ...] = HEAVY
) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    spec = {
        "blocked": blocked_modules(),
        "modules": list(modules),
        "walk": list(walk),
        "forbidden": list(forbidden),
    }
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(spec)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env=env,
        timeout=300,
    )
    result: dict = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_bot_and_engine_import_without_the_worker_extra() -> None:
    result = probe(BOT_MODULES, walk=("bot", "engine"))
    assert not result["failed"], "\n".join(f"{name}:\n{tb}" for name, tb in result["failed"].items())
    imported = set(result["imported"])
    assert set(BOT_MODULES) <= imported
    # the walk really found the engine's modules and left engine.inference alone
    assert {"engine", "engine.settings", "engine.brief"} <= imported
    assert any(n.startswith("engine.store") for n in imported)
    assert not any(n.startswith("engine.inference") for n in imported)


def test_engine_core_loads_no_chat_framework() -> None:
    result = probe((), walk=("engine",), forbidden=FRONTEND + HEAVY)
    assert not result["failed"], "\n".join(f"{name}:\n{tb}" for name, tb in result["failed"].items())
    assert not result["loaded"], f"importing the engine (without engine.inference) loaded {result['loaded']}"


def test_blocker_really_blocks() -> None:
    # The checks above must be able to fail: under the blocker, the inference package does not import.
    result = probe(("engine.inference.device",), walk=())
    assert list(result["failed"]) == ["engine.inference.device"]
    assert "bot-only install" in result["failed"]["engine.inference.device"]
    assert result["imported"] == []


def test_cli_imports_without_torch() -> None:
    # importing the command line and the composition root loads no torch; the subcommands (generate,
    # train, worker) import inference lazily.
    mods = ("bot", "engine", "bot.cli", "bot.app", "engine.brief", "engine.neutralize", "engine.settings")
    result = probe(mods, walk=())
    assert not result["failed"], result["failed"]
    assert not result["loaded"]


def _base_and_extras(requirements: list[str]) -> tuple[set[str], set[str]]:
    base, extra = set(), set()
    for r in requirements:
        req = Requirement(r)
        (extra if req.marker and "extra" in str(req.marker) else base).add(req.name.lower())
    return base, extra


def test_pyproject_base_requirements_have_no_ml_stack() -> None:
    project = PYPROJECT["project"]
    base = {Requirement(r).name.lower() for r in project["dependencies"]}
    worker = {Requirement(r).name.lower() for r in project["optional-dependencies"]["worker"]}
    assert not base & {"torch", "torchvision", "transformers", "safetensors", "tokenizers", "numpy"}
    assert {"torch", "torchvision", "transformers", "safetensors", "tokenizers"} <= worker
    # what the bot itself needs stays in the base
    assert {"slack-bolt", "slack-sdk", "discord.py", "aiohttp", "sqlalchemy", "pydantic-settings"} <= base
    # the full set-up still installs the worker
    assert "worker" in (REPO / "scripts" / "bootstrap").read_text()


def test_installed_metadata_base_requirements_have_no_ml_stack() -> None:
    try:
        requires = metadata.requires("campaignbot") or []
    except metadata.PackageNotFoundError:
        pytest.skip("campaignbot is not installed")
    base, _ = _base_and_extras(requires)
    wanted = {Requirement(r).name.lower() for r in PYPROJECT["project"]["dependencies"]}
    if base != wanted:
        pytest.skip(
            "the installed campaignbot metadata is from another pyproject.toml (an editable install of "
            "another checkout, or not reinstalled since the change): run scripts/bootstrap"
        )
    assert not base & set(HEAVY)
