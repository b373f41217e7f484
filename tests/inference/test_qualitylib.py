"""The quality benchmark's instruments (bench/qualitylib.py): brief set, copy metrics, distances."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import qualitylib as q  # noqa: E402

from engine.inference.creative.types import CopyVariant  # noqa: E402


def test_brief_set_is_big_varied_and_valid() -> None:
    briefs = q.load_briefs()
    assert len(briefs) >= 60
    langs = Counter(b.language for b in briefs)
    assert langs["zh"] == 10
    cats = {b.category for b in briefs}
    assert {"physical", "services", "apps", "events", "food", "fashion", "b2b"} <= cats
    assert {b.brief.length for b in briefs} == {"short", "medium", "long"}
    assert sum(bool(b.brief.audience) for b in briefs) >= 20
    assert sum(bool(b.brief.keywords) for b in briefs) >= 10
    from engine.inference.creative.concepts import CONCEPTS

    assert all(b.concept in CONCEPTS for b in briefs)
    assert all(b.brief.is_cjk for b in briefs if b.language == "zh")


def test_reference_set_covers_the_english_briefs() -> None:
    ids = {b.id for b in q.load_briefs() if b.language == "en"}
    rows = [json.loads(line) for line in q.REFERENCE.read_text(encoding="utf-8").splitlines()]
    covered = {r["id"] for r in rows}
    assert covered <= ids
    assert len(covered) >= 0.9 * len(ids)
    assert all(r["copy"]["headline"] and r["copy"]["body"] and r["copy"]["cta"] for r in rows)


def test_duplicate_brief_ids_are_refused(tmp_path: Path) -> None:
    line = json.dumps({"id": "x", "category": "food", "product": "tea", "concept": "drinks"})
    p = tmp_path / "b.jsonl"
    p.write_text(line + "\n" + line + "\n")
    with pytest.raises(ValueError, match="duplicate brief id"):
        q.load_briefs(p)


def _brief(product: str, synonyms: tuple[str, ...] = ()) -> q.BenchBrief:
    from engine.brief import Brief

    return q.BenchBrief("t", "food", Brief.create(product), synonyms, "drinks")


def test_product_named_uses_head_noun_plurals_and_synonyms() -> None:
    b = _brief("electric bike for commuters", ("e-bike",))
    assert q.product_named(CopyVariant("Ride Further", "Our bikes climb hills for you.", "Ride"), b)
    assert q.product_named(CopyVariant("Meet the E-Bike", "Quiet and quick.", "Ride"), b)
    assert not q.product_named(CopyVariant("Ride Further", "Quiet and quick.", "Get a bike"), b)  # CTA only
    assert not q.product_named(
        CopyVariant("Bikers Welcome", "Quiet and quick.", "Ride"), b
    )  # not a word match


def test_markup_and_near_duplicates_are_caught() -> None:
    assert q.leftover_markup(CopyVariant("Hi <!channel>", "b", "c"))
    assert q.leftover_markup(CopyVariant("h", "ping @everyone", "c"))
    assert not q.leftover_markup(CopyVariant("Tea Time", "Calm in a cup.", "Sip Now"))
    a = CopyVariant("The Tea You Need", "Calm in a cup, every morning.", "Sip Now")
    b = CopyVariant("The Tea You Need", "Calm in a cup, every evening.", "Sip Now")
    c = CopyVariant("Bold Mornings Start Here", "Strong black tea for early starts.", "Wake Up")
    assert q.near_duplicate_pair([a, b])
    assert not q.near_duplicate_pair([a, c])


def test_copy_tally_counts() -> None:
    b = _brief("green tea")
    t = q.CopyTally()
    good = CopyVariant("Green Tea, Gently", "Our tea calms the busiest day.", "Sip Now")
    looped = CopyVariant("Tea for you", "the best tea the best tea ever", "Buy")
    t.add(b, [good, looped])
    s = t.summary()
    assert s["variants"] == 2 and s["product_named"] == 1.0
    assert s["repetition"] == 0.5
    assert s["markup_left"] == 0.0


def test_frechet_distance_is_zero_for_one_set_and_grows_with_shift() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 8))
    assert q.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shifted = a + 3.0
    assert q.frechet_distance(a, shifted) == pytest.approx(8 * 9.0, rel=1e-6)
    wider = a * 2.0
    assert q.frechet_distance(a, wider) > 1.0


def test_pairwise_distance_and_topk() -> None:
    f = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    assert q.mean_pairwise_distance(f) == pytest.approx(5.0)
    assert q.mean_pairwise_distance(f[:1]) == 0.0
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.05]])
    labels = torch.tensor([1, 2])
    assert q.topk_hits(logits, labels, 1).tolist() == [True, False]
    assert q.topk_hits(logits, labels, 3).tolist() == [True, True]


def test_group_split_never_shares_an_emoji() -> None:
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 2])
    groups = ["a", "a", "b", "c", "d", "e", "e", "f"]
    train, test = q.split_groups(y, groups, 0.3, seed=1)
    assert sorted(train + test) == list(range(8))
    assert not {groups[i] for i in train} & {groups[i] for i in test}
    assert 7 in train  # a class with one emoji stays in training


def test_classifier_shapes() -> None:
    m = q.ConceptClassifier(5, width=8).eval()
    x = torch.zeros(2, 4, 64, 64)
    assert m(x).shape == (2, 5)
    assert m.features(x).shape == (2, m.feature_dim)


def test_report_sections_and_verdicts_from_rows() -> None:
    import quality

    briefs = [b for b in q.load_briefs() if b.id in ("b01", "z01")]
    good = {"headline": "Smart Watch for Every Run", "body": "Track each mile with GPS.", "cta": "Start Now"}
    other = {
        "headline": "Run Further, Run Smarter",
        "body": "A watch that keeps pace all day.",
        "cta": "Try It",
    }
    rows = [
        {"id": "b01", "language": "en", "seconds": 3.0, "copies": [good, other]},
        {
            "id": "z01",
            "language": "zh",
            "seconds": 0.01,
            "error": "The configured copy model does not write 'zh'",
        },
    ]
    copy = quality.copy_section(briefs, rows)
    assert copy["en"]["variants"] == 2 and copy["en"]["product_named"] == 1.0
    assert copy["zh_support"] == {
        "briefs": 1,
        "produced": 0,
        "chinese_copy": 0,
        "messages": ["The configured copy model does not write 'zh'"],
    }
    result = {"copy": copy, "speed": {"seconds_per_brief_median": 6.0}, "fluency": {"gap": 0.1}}
    v = quality.verdicts(result)
    assert v["product_named"]["met"] is True
    assert v["seconds_per_brief_median"]["met"] is False
    assert v["fluency_gap"]["met"] is True
    assert v["concept_top5"]["met"] is None  # not measured is not a pass
