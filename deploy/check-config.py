"""Check deploy/'s YAML without a cluster: every file parses (PyYAML), the Kubernetes objects have the
fields they need, and every CAMPAIGNBOT_* / SLACK_* / DISCORD_* name used in the compose file, the
ConfigMap, the Secret template and the Deployments is a real setting (engine/settings.py,
bot/slack_adapter.py, bot/discord_adapter.py). Exit 1 on any problem.

    .venv/bin/python deploy/check-config.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.discord_adapter import DiscordSettings  # noqa: E402
from bot.slack_adapter import SlackSettings  # noqa: E402
from engine.settings import Settings  # noqa: E402

KNOWN = (
    {"CAMPAIGNBOT_" + f.upper() for f in Settings.model_fields}
    | {"SLACK_" + f.upper() for f in SlackSettings.model_fields}
    | {"DISCORD_" + f.upper() for f in DiscordSettings.model_fields}
)
NAME = re.compile(r"\b((?:CAMPAIGNBOT|SLACK|DISCORD)_[A-Z0-9_]+)\b")


def env_names(obj: Any) -> set[str]:
    """Every setting-like name used as a key or in a value anywhere in a parsed YAML document."""
    found: set[str] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            found |= env_names(k) | env_names(v)
    elif isinstance(obj, list):
        for v in obj:
            found |= env_names(v)
    elif isinstance(obj, str):
        found |= set(NAME.findall(obj))
    return found


def check_k8s(doc: dict[str, Any], where: str, problems: list[str]) -> None:
    if doc.get("kind") == "Kustomization":
        return
    for key in ("apiVersion", "kind", "metadata"):
        if key not in doc:
            problems.append(f"{where}: no {key}")
    kind = doc.get("kind")
    if kind in ("Deployment", "StatefulSet", "Job"):
        pod = doc["spec"]["template"]["spec"]
        for c in pod["containers"]:
            if not c.get("image"):
                problems.append(f"{where}: container {c.get('name')} has no image")
            ports = {p.get("name") for p in c.get("ports", [])} | {
                p["containerPort"] for p in c.get("ports", [])
            }
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                spec = c.get(probe)
                if spec:
                    port = (spec.get("httpGet") or spec.get("tcpSocket") or {}).get("port")
                    if port not in ports:
                        problems.append(f"{where}: {probe} port {port} is not a container port")
        if kind in ("Deployment", "StatefulSet"):
            labels = doc["spec"]["template"]["metadata"]["labels"]
            if any(labels.get(k) != v for k, v in doc["spec"]["selector"]["matchLabels"].items()):
                problems.append(f"{where}: selector does not match the pod labels")
        if kind == "StatefulSet":
            check_shards(doc, where, problems)


def check_shards(doc: dict[str, Any], where: str, problems: list[str]) -> None:
    """A StatefulSet whose pods take DISCORD_SHARD_IDS from their pod index must have DISCORD_SHARD_COUNT
    pods: fewer leave shards (their guilds) without a gateway connection, more hold shards out of range."""
    for c in doc["spec"]["template"]["spec"]["containers"]:
        env = {e["name"]: e for e in c.get("env", [])}
        ids, count = env.get("DISCORD_SHARD_IDS"), env.get("DISCORD_SHARD_COUNT")
        if ids is None:
            continue
        path = ((ids.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath", "")
        if path != "metadata.labels['apps.kubernetes.io/pod-index']":
            problems.append(f"{where}: DISCORD_SHARD_IDS is not the pod index ({path or ids.get('value')!r})")
        replicas = doc["spec"].get("replicas", 1)
        if count is None or str(count.get("value")) != str(replicas):
            got = count.get("value") if count else None
            problems.append(
                f"{where}: DISCORD_SHARD_COUNT ({got}) is not the StatefulSet's replicas ({replicas})"
            )


def main() -> int:
    problems: list[str] = []
    files = sorted((ROOT / "deploy").glob("*.yaml")) + sorted((ROOT / "deploy").glob("*/*.y*ml"))
    files = [f for f in files if ".cache" not in f.parts]
    for path in files:
        rel = path.relative_to(ROOT)
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except yaml.YAMLError as exc:
            problems.append(f"{rel}: does not parse: {exc}")
            continue
        before = len(problems)
        for i, doc in enumerate(docs):
            if any(part.startswith("k8s") for part in path.parts[-2:-1]):
                check_k8s(doc, f"{rel}[{i}]", problems)
            for name in sorted(env_names(doc) - KNOWN):
                problems.append(f"{rel}: {name} is not a setting")
        status = "ok  " if len(problems) == before else "FAIL"
        print(f"{status} {rel} ({len(docs)} document{'s' if len(docs) != 1 else ''})")
    for p in problems:
        print(f"FAIL {p}")
    print(f"{len(files)} files, {len(problems)} problems; {len(KNOWN)} known setting names")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
