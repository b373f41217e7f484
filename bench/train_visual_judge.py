"""Train the concept classifier that ``bench/quality.py`` uses to judge the GAN's hero art.

It learns the 41 concepts from the GAN's own real training images (emoji art), with a held-out split by
emoji, and writes ``bench/models/concept_classifier.pt`` (weights + held-out accuracy).

    .venv/bin/python bench/train_visual_judge.py            # ~3 min on one CPU core
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from qualitylib import (  # noqa: E402
    CLASSIFIER,
    ConceptClassifier,
    real_images_by_source,
    split_groups,
    topk_hits,
)

from engine.concepts import CONCEPTS  # noqa: E402
from engine.errors import ModelError  # noqa: E402
from engine.inference.emoji_sources import (  # noqa: E402
    DEFAULT_SOURCES,
    GOOGLE_PACKAGE,
    LICENCES,
    fetch,
    parse_sources,
)
from engine.inference.train_visual import augment_real  # noqa: E402


def ensure_emoji(emoji_dir: Path) -> Path:
    """The npm package ``emoji-datasource-google`` unpacked at ``emoji_dir`` (fetched with npm if absent)."""
    if not (emoji_dir / "emoji.json").exists():
        print(f"fetching {GOOGLE_PACKAGE} into {emoji_dir.parent} (npm pack) ...", file=sys.stderr)
        try:
            fetch(("google",), emoji_dir.parent)
        except ModelError as e:
            raise SystemExit(f"The real emoji images are needed ({GOOGLE_PACKAGE}): {e}") from None
    return emoji_dir


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--emoji-dir", default=".cache/emoji/package")
    p.add_argument("--out", default=str(CLASSIFIER))
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--heldout", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--sources",
        type=parse_sources,
        default=DEFAULT_SOURCES,
        help="image sets (engine/inference/emoji_sources.py), e.g. google,noto,twitter,openmoji",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    concepts = list(CONCEPTS)
    x, y, groups, origin = real_images_by_source(ensure_emoji(Path(args.emoji_dir)), concepts, args.sources)
    train_idx, test_idx = split_groups(y, groups, args.heldout, args.seed)
    xtr, ytr = x[train_idx], y[train_idx]
    xte, yte = x[test_idx], y[test_idx]
    test_origin = [origin[i] for i in test_idx]
    print(f"{len(x)} images, {len(concepts)} concepts: {len(xtr)} train, {len(xte)} held out (by emoji)")

    model = ConceptClassifier(len(concepts), args.width)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    steps = args.epochs * ((len(xtr) + args.batch - 1) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    t0 = time.perf_counter()
    history = []
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        total = 0.0
        for i in range(0, len(xtr), args.batch):
            idx = perm[i : i + args.batch]
            xb = augment_real(xtr[idx], hue=0.03, shift=6)
            loss = F.cross_entropy(model(xb), ytr[idx], label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        model.eval()
        with torch.inference_mode():
            logits = model(xte)
        top1 = float(topk_hits(logits, yte, 1).float().mean())
        top5 = float(topk_hits(logits, yte, 5).float().mean())
        history.append(
            {"epoch": epoch + 1, "loss": total / len(xtr), "heldout_top1": top1, "heldout_top5": top5}
        )
        print(
            f"epoch {epoch + 1:3d}  loss {total / len(xtr):.3f}  held-out top-1 {top1:.3f} top-5 {top5:.3f}"
        )
    minutes = (time.perf_counter() - t0) / 60
    per_source = {}
    for (
        src
    ) in args.sources:  # held-out accuracy on each set's images alone (google+noto: the old judge's test)
        mask = torch.tensor([o == src for o in test_origin])
        if bool(mask.any()):
            per_source[src] = {
                "images": int(mask.sum()),
                "top1": float(topk_hits(logits[mask], yte[mask], 1).float().mean()),
                "top5": float(topk_hits(logits[mask], yte[mask], 5).float().mean()),
            }
    meta = {
        "images": len(x),
        "train_images": len(xtr),
        "heldout_images": len(xte),
        "heldout_top1": history[-1]["heldout_top1"],
        "heldout_top5": history[-1]["heldout_top5"],
        "chance_top1": 1 / len(concepts),
        "chance_top5": 5 / len(concepts),
        "epochs": args.epochs,
        "minutes": round(minutes, 2),
        "threads": args.threads,
        "seed": args.seed,
        "split": "per concept, ~20% of emoji held out with all their images (every set's rendering, skin tones)",
        "sources": list(args.sources),
        "licences": {s: LICENCES[s] for s in args.sources},
        "heldout_by_source": per_source,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "state": model.state_dict(),
            "concepts": concepts,
            "width": args.width,
            "meta": meta,
            "history": history,
        },
        out,
    )
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta, indent=2))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) in {minutes:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
