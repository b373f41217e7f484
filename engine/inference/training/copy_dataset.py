"""Training text for the house copy model: (prompt, completion) pairs from corpus rows (version-2 rows
with their augmentations, grounded version-3 rows with prompt variations), the held-out split, token
ids with the prompt masked out of the loss, and the lexicon of training completions.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from engine.brief import Brief
from engine.errors import ModelError
from engine.inference.copywriter.placeholders import delexicalise, delexicalise_copy, fill_placeholders
from engine.inference.copywriter.prompts import (
    FACT_TOKENS,
    generic_prompt,
    length_label,
    render_completion,
    render_prompt,
)
from engine.inference.creative.copy_rules import words
from engine.inference.creative.types import CopyVariant
from engine.inference.product_knowledge import Grounding
from engine.inference.training.catalog import load_catalog
from engine.inference.training.copy_data import AUDIENCES, KEYWORDS, PRODUCTS


def _row_brief(row: dict[str, Any], v: dict[str, Any], product: str | None = None) -> Brief:
    return Brief(
        product=product or row["product"],
        audience=row.get("audience", ""),
        tone=v["tone"],
        length=length_label(v["body"]),
        keywords=tuple(row.get("keywords", ())),
    )


def _delex_variant(row: dict[str, Any], v: dict[str, Any]) -> dict[str, Any]:
    brief = _row_brief(row, v)
    return {**v, **{k: delexicalise(v[k], brief) for k in ("headline", "body", "cta")}}


def example_texts(row: dict[str, Any], delex: bool = True) -> list[tuple[str, str]]:
    """(prompt, completion) pairs from one corpus row: each variant alone, and the rewrite pair both ways.
    With ``delex`` the completion names the product by placeholders (the prompt keeps the real product)."""
    variants = [v for v in (row.get("a"), row.get("b")) if v]
    pairs = []

    def copy_of(v: dict[str, Any]) -> CopyVariant:
        if delex:
            v = _delex_variant(row, v)
        return CopyVariant(v["headline"], v["body"], v["cta"])

    for v in variants:
        pairs.append((render_prompt(_row_brief(row, v)), render_completion(copy_of(v))))
    if len(variants) == 2:
        a, b = variants
        pairs.append((render_prompt(_row_brief(row, b), idea=a["headline"]), render_completion(copy_of(b))))
        pairs.append((render_prompt(_row_brief(row, a), idea=b["headline"]), render_completion(copy_of(a))))
    return pairs


_ALL_KEYWORDS = sorted({k for ks in KEYWORDS.values() for k in ks})


def _has_word(text: str, term: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(term) + r"(?!\w)", text, re.IGNORECASE) is not None


def augmented_texts(rows: list[dict[str, Any]], per_variant: int, seed: int) -> list[tuple[str, str]]:
    """``per_variant`` extra (prompt, completion) pairs per teacher variant, from delexicalised copy.

    The completion names the product only by placeholders, so the prompt's product can be any product of
    the row's category; audience, keywords (only ones the copy really uses, plus sometimes the row's own)
    and the ``Idea:`` line vary too, and a third of the examples take their headline from another variant
    of the same tone (recombination for fluency). Lengths are labelled by the filled body."""
    rng = random.Random(seed)
    variants = []
    for row in rows:
        vs = [v for v in (row.get("a"), row.get("b")) if v]
        for i, v in enumerate(vs):
            other = vs[1 - i] if len(vs) == 2 else None
            variants.append((row, _delex_variant(row, v), _delex_variant(row, other) if other else None))
    by_tone: dict[str, list[dict[str, Any]]] = {}
    for _, d, _ in variants:
        if "PRODUCT" in d["headline"] or "ITEM" in d["headline"]:
            by_tone.setdefault(d["tone"], []).append(d)
    out = []
    for row, d, other in variants:
        category = row.get("category", "")
        products = PRODUCTS.get(category) or [row["product"]]
        audiences = AUDIENCES["b2b" if category == "b2b" else "general"]
        for _ in range(per_variant):
            product = row["product"] if rng.random() < 0.25 else rng.choice(products)
            headline = d["headline"]
            if rng.random() < 0.33 and by_tone.get(d["tone"]):
                headline = rng.choice(by_tone[d["tone"]])["headline"]
            text = f"{headline} {d['body']} {d['cta']}"
            r = rng.random()
            audience = row.get("audience", "") if r < 0.4 else "" if r < 0.6 else rng.choice(audiences)
            used = [k for k in _ALL_KEYWORDS if _has_word(text, k)]
            own = [k for k in row.get("keywords", ()) if _has_word(text, k) or rng.random() < 0.3]
            pool = sorted(set(used) | set(own))
            keywords = tuple(rng.sample(pool, min(len(pool), rng.choice([0, 1, 1, 2, 2, 3]))))
            brief = Brief(product=product, audience=audience, tone=d["tone"], keywords=keywords)
            brief = replace(brief, length=length_label(fill_placeholders(d["body"], brief)))
            idea = None
            if other is not None and rng.random() < 0.25:
                idea = fill_placeholders(other["headline"], brief, title=True)
            completion = render_completion(CopyVariant(headline, d["body"], d["cta"]))
            out.append((render_prompt(brief, idea=idea), completion))
    return out


def is_grounded_row(row: dict[str, Any]) -> bool:
    """A version-3 corpus row (one grounded teacher ad); version-2 rows hold variants ``a``/``b``."""
    return "headline" in row and "benefits" in row


CONDITION_DROPOUT = 0.1  # share of grounded examples trained on the generic prompt (for PMI reranking)


def grounded_texts(
    rows: list[dict[str, Any]],
    knowledge: dict[str, dict[str, Any]],
    per_row: int,
    seed: int,
    delex: bool = True,
    facts: bool = False,
) -> list[tuple[str, str]]:
    """(prompt, completion) pairs from grounded teacher ads: the ad as briefed, plus ``per_row`` variations
    of its prompt that keep what the copy depends on. The benefits list is filled up to three from the
    product's knowledge row (as at inference) and shuffled, the angle is sometimes left out, an audience
    the copy does not mention is sometimes dropped. A tenth of all examples get the generic prompt
    instead, so the model also knows what it writes for *any* product (used to rerank by PMI).

    With ``facts`` (format grounded-v4) the prompt labels the benefits FACT1..FACT3 in their shuffled
    order and the completion writes the label wherever the ad uses a benefit word for word; the generic
    prompt, which lists no facts, keeps them written out."""
    rng = random.Random(seed)
    out = []
    siblings: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        siblings.setdefault(row["product"].lower(), []).append(row)
    for row in rows:
        copy = CopyVariant(row["headline"], row["body"], row["cta"])
        length = length_label(copy.body)
        brief = Brief(product=row["product"], audience=row.get("audience", ""), tone=row["tone"],
                      length=length, keywords=tuple(row.get("keywords", ())))  # fmt: skip
        if delex:
            copy = CopyVariant(
                delexicalise(copy.headline, brief),
                delexicalise(copy.body, brief),
                delexicalise(copy.cta, brief),
            )
        completion = render_completion(copy)
        known = knowledge.get(row["product"].lower(), {}).get("benefits", [])
        text = f"{row['headline']} {row['body']}".lower()
        for i in range(per_row + 1):
            if rng.random() < CONDITION_DROPOUT:
                out.append((generic_prompt(brief), completion))
                continue
            benefits, angle, b = list(row["benefits"]), row.get("angle"), brief
            if i > 0:
                benefits, angle, b = _vary_prompt(benefits, angle, brief, known, text, rng)
            grounding = Grounding(category=row.get("category", ""), benefits=tuple(benefits))
            # a refine round's prompt carries the chosen variant's headline as the idea to keep
            others = [o for o in siblings[row["product"].lower()] if o is not row]
            idea = rng.choice(others)["headline"] if others and i > 0 and rng.random() < 0.25 else None
            target = completion
            if facts:
                shown = benefits[: len(FACT_TOKENS)]
                target = render_completion(delexicalise_copy(copy, brief, shown))
            prompt = render_prompt(b, idea=idea, grounding=grounding, angle=angle, facts=facts)
            out.append((prompt, target))
    return out


def _vary_prompt(
    benefits: list[str], angle: str | None, brief: Brief, known: list[str], text: str, rng: random.Random
) -> tuple[list[str], str | None, Brief]:
    """One prompt variation of a grounded row: its benefits filled up to three from the product's
    knowledge row and shuffled, the angle sometimes left out, an audience the copy (``text``) does not
    mention sometimes dropped."""
    extra = [x for x in known if x not in benefits]
    rng.shuffle(extra)
    benefits = (benefits + extra)[: max(len(benefits), rng.choice([2, 3, 3]))]
    rng.shuffle(benefits)
    if rng.random() < 0.2:
        angle = None
    if brief.audience and brief.audience.lower() not in text and rng.random() < 0.3:
        brief = replace(brief, audience="")
    return benefits, angle, brief


def load_knowledge(path: Path) -> list[dict[str, Any]]:
    """The product knowledge table from the catalog (kind, category, product, benefits; tab-separated)."""
    return [
        {"product": p.product, "kind": p.kind, "category": p.category, "benefits": list(p.benefits)}
        for p in load_catalog(path)
        if p.benefits
    ]


def load_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise ModelError(
            f"Corpus {path} not found; build it first: campaignbot train copy corpus --out {path}"
        )
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def is_heldout(row_id: int, fraction: float) -> bool:
    """Stable brief-level split: the same brief is always on the same side, whatever the corpus size."""
    return (row_id * 2654435761 % 2**32) / 2**32 < fraction


def row_is_heldout(row: dict[str, Any], fraction: float) -> bool:
    """Version-2 rows split by brief id; grounded rows by product, so the eval loss is on unseen products."""
    if is_grounded_row(row):
        digest = int(hashlib.sha256(row["product"].lower().encode()).hexdigest()[:8], 16)
        return digest / 2**32 < fraction
    return is_heldout(int(row["id"]), fraction)


def encode_examples(
    rows: list[dict[str, Any]],
    tokenizer: Any,
    max_len: int,
    delex: bool = True,
    augment: int = 0,
    seed: int = 0,
    knowledge: dict[str, dict[str, Any]] | None = None,
    grounded_augment: int = 0,
    facts: bool = False,
) -> list[tuple[list[int], list[int]]]:
    """(input ids, labels) per training example; the prompt is masked out of the loss (-100).
    ``augment`` adds that many augmented examples per variant of an ungrounded (version 2) row (see
    :func:`augmented_texts`), ``grounded_augment`` per grounded row (see :func:`grounded_texts`)."""
    eos = tokenizer.eos_token_id
    old = [r for r in rows if not is_grounded_row(r)]
    texts = [pair for row in old for pair in example_texts(row, delex)]
    if augment and delex:
        texts += augmented_texts(old, augment, seed)
    grounded = [r for r in rows if is_grounded_row(r)]
    if grounded:
        texts += grounded_texts(grounded, knowledge or {}, grounded_augment, seed, delex, facts)
    if not texts:
        return []
    prompts = tokenizer([p for p, _ in texts])["input_ids"]
    completions = tokenizer([c for _, c in texts])["input_ids"]
    out = []
    for p, c in zip(prompts, completions, strict=True):
        c = [*c, eos]
        ids = (p + c)[:max_len]
        labels = ([-100] * len(p) + c)[:max_len]
        out.append((ids, labels))
    return out


def collate(
    batch: list[tuple[list[int], list[int]]], pad: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), width), pad, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, (x, y) in enumerate(batch):
        ids[i, : len(x)] = torch.tensor(x)
        labels[i, : len(y)] = torch.tensor(y)
        mask[i, : len(x)] = 1
    return ids, labels, mask


def corpus_lexicon(rows: list[dict[str, Any]], delex: bool = True) -> list[str]:
    """Every lower-case word of the training completions (what the copywriter accepts as a real word)."""
    vocab: set[str] = set()
    for row in rows:
        if is_grounded_row(row):
            completions = [c for _, c in grounded_texts([row], {}, 0, 0, delex)]
        else:
            completions = [c for _, c in example_texts(row, delex)]
        for completion in completions:
            vocab.update(words(completion.replace("\nBody:", " ").replace("\nCTA:", " ")))
    return sorted(vocab)
