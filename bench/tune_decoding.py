"""Choose the copywriter's sampling settings on a validation set, never on the benchmark's briefs.

The validation briefs are the corpus rows that ``train copy fit`` holds out (``--heldout``, stable by
row id), the reference is the teacher's own copy for them, and the judge is the same SmolLM2 as in
bench/quality.py. For each setting: judge NLL gap, repetition, near-duplicates, product named, seconds.

    .venv/bin/python bench/tune_decoding.py --briefs 24

Writes bench/results/decoding.json. The chosen values live in engine/inference/copywriter/tuning.py
(TEMPERATURE, TOP_P, MIN_CANDIDATES, CANDIDATES_PER_VARIANT); a setting is tried by setting the names on
the modules that read them (copywriter/writer.py and copywriter/decoding.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from qualitylib import BenchBrief, CopyTally, FluencyJudge, judge_prefix, judge_text  # noqa: E402

from engine.brief import Brief  # noqa: E402
from engine.inference.copywriter import Copywriter, decoding, writer  # noqa: E402
from engine.inference.copywriter.prompts import length_label  # noqa: E402
from engine.inference.creative.types import CopyVariant  # noqa: E402
from engine.inference.training.copy_dataset import is_heldout, load_rows  # noqa: E402
from engine.settings import Settings  # noqa: E402

SETTINGS = [
    {"TEMPERATURE": 0.9, "TOP_P": 0.92, "MIN_CANDIDATES": 12, "CANDIDATES_PER_VARIANT": 4},
    {"TEMPERATURE": 0.7, "TOP_P": 0.92, "MIN_CANDIDATES": 24, "CANDIDATES_PER_VARIANT": 6},
    {"TEMPERATURE": 0.5, "TOP_P": 0.92, "MIN_CANDIDATES": 24, "CANDIDATES_PER_VARIANT": 6},
    {"TEMPERATURE": 0.35, "TOP_P": 0.92, "MIN_CANDIDATES": 24, "CANDIDATES_PER_VARIANT": 6},
    {"TEMPERATURE": 0.5, "TOP_P": 0.92, "MIN_CANDIDATES": 32, "CANDIDATES_PER_VARIANT": 8},
]


def validation_set(corpus: Path, heldout: float, n: int) -> list[tuple[BenchBrief, list[CopyVariant]]]:
    out = []
    for row in load_rows(corpus):
        if not is_heldout(int(row["id"]), heldout):
            continue
        a = row["a"]
        brief = Brief(
            product=row["product"],
            audience=row.get("audience", ""),
            tone=a["tone"],
            length=length_label(a["body"]),
            keywords=tuple(row.get("keywords", ())),
        )
        refs = [CopyVariant(v["headline"], v["body"], v["cta"]) for v in (row.get("a"), row.get("b")) if v]
        out.append((BenchBrief(f"v{row['id']}", row.get("category", ""), brief, (), ""), refs))
    return out[:n]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="train_data/copy_corpus.jsonl")
    ap.add_argument("--heldout", type=float, default=0.05, help="the fraction `train copy fit` held out")
    ap.add_argument("--briefs", type=int, default=24)
    ap.add_argument("--model", default=None, help="copy model directory (default: the configured one)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument(
        "--settings", default="", help='JSON list of settings to try instead, e.g. [{"TEMPERATURE": 0.3}]'
    )
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "decoding.json")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    val = validation_set(Path(a.corpus), a.heldout, a.briefs)
    if not val:
        raise SystemExit(f"no held-out rows in {a.corpus}")
    cw = Copywriter.load(a.model or Settings().copy_model, torch.device("cpu"), torch.float32)
    judge = FluencyJudge()
    ref = judge.nll([(judge_prefix(b.brief), judge_text(c)) for b, refs in val for c in refs])
    ref_nll = float(np.mean([x for x, _ in ref]))
    print(f"{len(val)} held-out corpus briefs; reference (teacher) NLL {ref_nll:.3f} over {len(ref)} ads")
    rows: list[dict[str, Any]] = []
    for setting in json.loads(a.settings) if a.settings else SETTINGS:
        for k, v in setting.items():
            for module in (writer, decoding):  # where the copywriter reads its tuning at run time
                if hasattr(module, k):
                    setattr(module, k, v)
        tally = CopyTally()
        items = []
        t = time.perf_counter()
        for i, (b, _) in enumerate(val):
            copies = cw.write(b.brief, 4, 1000 + 7 * i)
            tally.add(b, copies)
            items += [(judge_prefix(b.brief), judge_text(c)) for c in copies]
        secs = (time.perf_counter() - t) / len(val)
        nll = float(np.mean([x for x, _ in judge.nll(items)]))
        s = tally.summary()
        row = {**setting, "judge_nll": nll, "gap": nll / ref_nll - 1, "copy_s_per_brief": secs, **s}
        rows.append(row)
        print(
            f"{setting}: NLL {nll:.3f} (gap {row['gap'] * 100:+.1f}%), repetition {s['repetition']:.3f}, "
            f"near-dup briefs {s['near_duplicate_briefs']:.2f}, distinct-2 {s['distinct2_mean']:.2f}, "
            f"{secs:.2f} s/brief",
            flush=True,
        )
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(
        json.dumps({"model": f"{cw.name}@{cw.version}", "reference_nll": ref_nll, "settings": rows}, indent=2)
        + "\n"
    )
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
