"""How long writing a round's PNGs takes at each compression setting, and how big they get.

    .venv/bin/python bench/png_levels.py            # -> bench/results/png.json

Makes one round of real cards with the house models (4 variants and the contact sheet of a fixed brief),
then encodes every image at Pillow's ``optimize=True`` and at zlib levels 1, 3, 6 and 9, ``--repeat``
times each; prints the median encode time per image and the bytes. The worker's setting is
``engine.inference.record.PNG_OPTIONS``.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from engine.brief import Brief
from engine.inference.record import PNG_OPTIONS
from engine.inference.studio import Studio
from engine.settings import Settings

SETTINGS: dict[str, dict[str, Any]] = {
    "optimize": {"optimize": True},
    "level1": {"compress_level": 1},
    "level3": {"compress_level": 3},
    "level6": {"compress_level": 6},
    "level9": {"compress_level": 9},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("bench/results/png.json"))
    args = ap.parse_args()
    studio = Studio(Settings(device="cpu"))
    studio.warm_up()
    brief = Brief(product="smart watch", audience="runners", tone="playful")
    rnd = studio.first_round(brief, variants=4, seed=1)
    images = {f"variant-{v.index}": v.image for v in rnd.variants} | {"contact-sheet": rnd.sheet}
    rows: dict[str, dict[str, Any]] = {}
    for name, kw in SETTINGS.items():
        per: dict[str, Any] = {}
        for label, img in images.items():
            assert img is not None
            times = []
            size = 0
            for _ in range(args.repeat):
                buf = io.BytesIO()
                t = time.perf_counter()
                img.save(buf, format="PNG", **kw)
                times.append(time.perf_counter() - t)
                size = len(buf.getvalue())
            per[label] = {
                "seconds": round(statistics.median(times), 4),
                "bytes": size,
                "size": list(img.size),
            }
        total_s = sum(p["seconds"] for p in per.values())
        total_b = sum(p["bytes"] for p in per.values())
        rows[name] = {
            "options": kw,
            "round_seconds": round(total_s, 3),
            "round_bytes": total_b,
            "images": per,
        }
        print(f"{name:9s} a round's 5 images: {total_s:6.2f} s, {total_b / 1e6:5.2f} MB")
    result = {
        "machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
        "worker_setting": PNG_OPTIONS,
        "repeat": args.repeat,
        "settings": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
