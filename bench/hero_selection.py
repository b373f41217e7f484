"""Does choosing the best of k draws help? Judge-rated concept accuracy of the kept heroes, by rule.

For every concept, ``--per-concept`` variants, each the pick of ``--k`` draws (seeds 9,000,000+,
none used elsewhere) by: the first draw (no selection), the shape score alone, the discriminator
alone, and both (what the studio does). The judge is the concept classifier of bench/quality.py;
it is never used to select, only to rate. Also prints the time to draw and score 4 heroes.

    .venv/bin/python bench/hero_selection.py --model engine/inference/house/visual/generator.pt
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from qualitylib import CLASSIFIER, VisualJudge, pil_to_tensor, topk_hits  # noqa: E402

from engine.inference.compose.hero import measure  # noqa: E402
from engine.inference.visual import VisualModel, candidate_seeds  # noqa: E402
from engine.settings import HOUSE_VISUAL_MODEL  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=Path(HOUSE_VISUAL_MODEL))
    ap.add_argument("--judge", type=Path, default=CLASSIFIER)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--per-concept", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "hero_selection.json")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    cpu = torch.device("cpu")
    vm = VisualModel.load(a.model, cpu)
    judge = VisualJudge.load(a.judge)
    if judge.concepts != vm.concepts:
        raise SystemExit("the judge and the generator know different concepts")
    rules = {"first": [], "shape": [], "discriminator": [], "shape+discriminator": []}
    labels: list[int] = []
    for ci, concept in enumerate(vm.concepts):
        for v in range(a.per_concept):
            pool = candidate_seeds(9_000_000 + ci * 1000 + v, a.k)
            arts = vm.generate([concept] * a.k, pool)
            z = torch.tensor([x.record.latent for x in arts])
            images, d = vm._forward([concept] * a.k, z)
            shape = np.array([measure(np.asarray(im.getchannel("A"))).score for im in images])
            both = np.array(vm.score(images, d))
            rules["first"].append(images[0])
            rules["shape"].append(images[int(np.argmax(shape))])
            if d is not None:
                rules["discriminator"].append(images[int(torch.argmax(d))])
                rules["shape+discriminator"].append(images[int(np.argmax(both))])
            labels.append(ci)
    y = torch.tensor(labels)
    result: dict[str, object] = {
        "model": str(a.model),
        "judge": str(a.judge),
        "judge_heldout_top1": judge.meta.get("heldout_top1"),
        "k": a.k,
        "images_per_rule": len(labels),
        "rules": {},
    }
    for rule, imgs in rules.items():
        if not imgs:
            continue
        logits, _ = judge.run(pil_to_tensor(imgs))
        alpha = [measure(np.asarray(im.getchannel("A"))) for im in imgs]
        result["rules"][rule] = {  # type: ignore[index]
            "top1": float(topk_hits(logits, y, 1).float().mean()),
            "top5": float(topk_hits(logits, y, 5).float().mean()),
            "touching_border": float(np.mean([s.border > 0.02 for s in alpha])),
            "in_pieces": float(np.mean([s.main_share < 0.97 for s in alpha])),
        }
    # time: 4 heroes with selection, as a round draws them
    vm.candidates = a.k
    times = []
    for i in range(10):
        t = time.perf_counter()
        vm.generate([vm.concepts[i % len(vm.concepts)]] * 4, [i * 10 + j for j in range(4)])
        times.append(time.perf_counter() - t)
    result["seconds_for_4_heroes_median"] = float(np.median(times))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"judge held-out top-1 {result['judge_heldout_top1']}; k={a.k}; {len(labels)} images per rule")
    for rule, r in result["rules"].items():  # type: ignore[attr-defined]
        print(
            f"  {rule:20s} top-1 {r['top1']:.3f}  top-5 {r['top5']:.3f}  "
            f"touching the border {r['touching_border']:.2f}  in pieces {r['in_pieces']:.2f}"
        )
    print(
        f"  4 heroes incl. selection of {a.k}: {result['seconds_for_4_heroes_median'] * 1000:.0f} ms (median of 10)"
    )
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
