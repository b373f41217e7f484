"""Print the pip requirements of one image, read from pyproject.toml (so the images never drift from it).

    python deploy/images/requirements.py bot      # project.dependencies: no torch
    python deploy/images/requirements.py worker   # + the `worker` extra, torch swapped for the CPU build
    python deploy/images/requirements.py cuda     # + the `worker` extra as pinned (CUDA torch from PyPI)

The CPU worker image takes torch 2.13.0+cpu: the only torch 2.14.1 wheel on this machine's indexes is
PyPI's CUDA build, which pulls ~2.5 GB of nvidia-* wheels that a CPU host never loads. It leaves out
torchvision: the only torchvision for torch 2.13 here (0.28.0, PyPI's CUDA build) fails to load its
operators on the CPU torch ("operator torchvision::nms does not exist"), and transformers then cannot
import GPT-2. Only the optional BigGAN path (the `biggan` extra) imports torchvision. See deploy/README.md.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
CPU_TORCH: dict[str, str | None] = {"torch": "torch==2.13.0+cpu", "torchvision": None}


def requirements(role: str) -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    if role in ("worker", "cuda"):
        for r in project["optional-dependencies"]["worker"]:
            name = Requirement(r).name.lower()
            if role == "cuda" or name not in CPU_TORCH:
                reqs.append(r)
            elif CPU_TORCH[name]:
                reqs.append(CPU_TORCH[name])
    return reqs


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("bot", "worker", "cuda"):
        sys.exit("usage: requirements.py bot|worker|cuda")
    print("\n".join(requirements(sys.argv[1])))
