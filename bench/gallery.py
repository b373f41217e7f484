"""Re-make the README gallery alone: the 12 gallery briefs of bench/briefs/briefs.jsonl with the same seeds
as ``bench/quality.py --gallery`` (seed 1000 + 7 x the brief's index), contact sheets and copy text in
docs/gallery/. A few minutes less than the whole benchmark when only the models changed.

    .venv/bin/python bench/gallery.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import GALLERY_IDS, ROOT, _seed, write_gallery_index  # noqa: E402
from qualitylib import load_briefs  # noqa: E402

from engine.inference.studio import Studio  # noqa: E402
from engine.settings import Settings  # noqa: E402


def main() -> int:
    briefs = load_briefs()
    gallery = ROOT / "docs" / "gallery"
    gallery.mkdir(parents=True, exist_ok=True)
    studio = Studio(Settings(), device="auto", dtype=None)
    rows = []
    for i, b in enumerate(briefs):
        if b.id not in GALLERY_IDS:
            continue
        rnd = studio.first_round(b.brief, variants=4, seed=_seed(i), size="square")
        if rnd.sheet is not None:
            sheet = rnd.sheet.convert("RGB")
            sheet.thumbnail((900, 900))
            sheet.save(gallery / f"{b.id}.png", optimize=True)
        rows.append({"id": b.id, "copies": [v.copy.to_dict() for v in rnd.variants]})
        print(b.id, b.brief.product, flush=True)
    write_gallery_index(gallery, briefs, rows)
    print(f"wrote {len(rows)} contact sheets and {gallery / 'README.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
