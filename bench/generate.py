"""Time per variant for copy and for images at N = 1, 4, 8, in fp32 and bf16, on the chosen device.

    .venv/bin/python bench/generate.py [--device auto] [--repeats 3]

Prints a table and writes bench/results/generate.json. Models: the configured ones (house models by default).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from engine.brief import Brief
from engine.inference.compose import compose_creative, palette_for
from engine.inference.copywriter import Copywriter
from engine.inference.device import resolve_device
from engine.inference.visual import VisualModel
from engine.settings import Settings

BRIEFS = [
    "smart watch for runners",
    "organic coffee subscription",
    "project management app for remote teams",
]


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--ns", default="1,4,8")
    ap.add_argument("--dtypes", default="fp32,bf16")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "generate.json")
    a = ap.parse_args(argv)
    settings = Settings()
    device = resolve_device(a.device)
    ns = [int(x) for x in a.ns.split(",")]
    rows = []
    for dt_name in a.dtypes.split(","):
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dt_name]
        cw = Copywriter.load(settings.copy_model, device, dtype)
        vm = VisualModel.load(settings.visual_model, device, dtype)
        brief = Brief.create(BRIEFS[0], tone="playful")
        cw.write(brief, 1, 0)  # warm-up
        vm.generate([vm.concepts[0]], [0])
        for n in ns:
            copy_t = statistics.median(
                _median_time(lambda b=b, cw=cw, n=n: cw.write(Brief.create(b), n, 1), a.repeats)
                for b in BRIEFS
            )
            concept = vm.concept_for(BRIEFS[0])
            img_t = _median_time(
                lambda vm=vm, c=concept, n=n: vm.generate([c] * n, list(range(n))), a.repeats
            )
            heroes = vm.generate([concept] * n, list(range(n)))
            copies = cw.write(brief, n, 3)

            def compose_all(heroes=heroes, copies=copies) -> None:
                for i, (c, h) in enumerate(zip(copies, heroes, strict=False)):
                    compose_creative(
                        c, h.image, size="square", tone="playful", palette=palette_for("playful", i)
                    )

            comp_t = _median_time(compose_all, a.repeats)
            got = max(1, min(len(copies), n))
            row = {
                "dtype": dt_name,
                "n": n,
                "copy_s_per_variant": copy_t / n,
                "image_s_per_variant": img_t / n,
                "compose_s_per_variant": comp_t / got,
                "total_s_per_variant": copy_t / n + img_t / n + comp_t / got,
            }
            rows.append(row)
            print(
                f"{dt_name:5} N={n}: copy {row['copy_s_per_variant']:.3f} s/variant, "
                f"image {row['image_s_per_variant'] * 1000:.1f} ms/variant, "
                f"compose {row['compose_s_per_variant'] * 1000:.0f} ms/variant",
                flush=True,
            )
    result = {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "copy_model": settings.copy_model,
        "visual_model": settings.visual_model,
        "rows": rows,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
