"""The grounded distillation corpus: a product catalog with benefits, and teacher ads grounded on it.

1. **Catalog** (:mod:`.catalog`; ``train_data/catalog.tsv``, written for this project; tab-separated ``kind``,
   ``category``, ``product``, ``benefits`` with benefits separated by ``;``): a few thousand everyday
   products and services, each with three concrete benefits. It is also the product knowledge table
   the house model ships (``knowledge.jsonl``). The held-out benchmark products
   (``bench/briefs/heldout.jsonl``) are never in it. (The teacher was tried as the author of this
   table and named wrong categories for most products, e.g. "sencha: personal care products".)
2. **Ads** (``train_data/copy_corpus_v3.jsonl``, ``campaignbot train copy ads``, resumable): the teacher
   writes one ad per brief, the brief varied along tone, audience, angle, length, benefits given
   (1-3 of the product's) and call-to-action verb; an ad is kept only when it passes the copy rules,
   names the product, uses a given benefit, does not repeat a content word within a field and has a
   verb-led call to action of at most five words.

The teacher is SmolLM2-135M-Instruct (:class:`engine.inference.training.teacher.Teacher`).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.brief import TONES, Brief
from engine.inference.copywriter.prompts import ANGLES, parse_completion
from engine.inference.creative.copy_rules import (
    content_words,
    cta_problem,
    edit_similarity,
    fact_coverage,
    filter_reasons,
    repeated_word,
    words,
)
from engine.inference.creative.types import CopyVariant
from engine.inference.training.catalog import Product, load_catalog
from engine.inference.training.copy_corpus_data import (
    AD_EXAMPLE_BRIEFS,
    AD_SYSTEM,
    AUDIENCES,
    CTA_VERBS,
    LENGTH_HINT,
    MAX_NEW_TOKENS,
)
from engine.inference.training.teacher import tidy_teacher_copy, title_case
from engine.neutralize import neutralize

ADS = Path("train_data/copy_corpus_v3.jsonl")


# --------------------------------------------------------------------------------------------------
# Ads


@dataclass
class AdBrief:
    id: int
    kind: str
    category: str
    product: str
    benefits: list[str]
    audience: str
    tone: str
    length: str
    angle: str
    cta_verb: str
    keywords: list[str] = field(default_factory=list)

    def brief(self) -> Brief:
        return Brief(
            product=self.product,
            audience=self.audience,
            tone=self.tone,
            length=self.length,
            keywords=tuple(self.keywords),
        )


def make_ad_briefs(products: list[Product], n: int, seed: int) -> list[AdBrief]:
    """``n`` briefs cycling over the products with benefits (every product before any product twice), the
    same list for the same catalog and seed so a run resumes by id. Each brief varies the tone, audience,
    angle, length, the benefits it gives (1-3, shuffled), the CTA verb and sometimes a keyword."""
    rng = random.Random(seed)
    usable = [p for p in products if p.benefits]
    order = list(range(len(usable)))
    out: list[AdBrief] = []
    while len(out) < n and order:
        rng.shuffle(order)
        for i in order:
            if len(out) >= n:
                break
            p = usable[i]
            benefits = list(p.benefits)
            rng.shuffle(benefits)
            benefits = benefits[: rng.choice([1, 2, 2, 3, 3])]
            pool = AUDIENCES["b2b" if p.kind == "b2b" else "general"]
            audience = rng.choice(pool) if rng.random() < 0.7 else ""
            keywords: list[str] = []
            if rng.random() < 0.15 and len(p.benefits) > len(benefits):
                extra = [b for b in p.benefits if b not in benefits]
                keywords = [max(content_words(min(extra, key=len)) or [""], key=len)] if extra else []
                keywords = [k for k in keywords if k]
            out.append(
                AdBrief(
                    id=len(out),
                    kind=p.kind,
                    category=p.category,
                    product=p.product,
                    benefits=benefits,
                    audience=audience,
                    tone=rng.choice(TONES),
                    length=rng.choice(("short", "medium", "medium", "long")),
                    angle=rng.choice(ANGLES),
                    cta_verb=rng.choice(CTA_VERBS.get(p.kind, CTA_VERBS["goods"])),
                    keywords=keywords,
                )
            )
    return out


AD_EXAMPLES: list[tuple[AdBrief, str]] = [(AdBrief(0, *brief), answer) for brief, answer in AD_EXAMPLE_BRIEFS]


def ad_message(b: AdBrief) -> str:
    article = "an" if b.tone[0] in "aeiou" else "a"
    lines = [f"Write {article} {b.tone} ad.", f"Product: {b.product} ({b.category})"]
    lines.append(f"Benefits to mention: {'; '.join(b.benefits)}")
    lines.append(f"Angle: {b.angle}")
    if b.audience:
        lines.append(f"Audience: {b.audience}")
    if b.keywords:
        lines.append(f"Use the words: {', '.join(b.keywords)}")
    lines.append(LENGTH_HINT[b.length])
    head = Brief(product=b.product).product_phrase
    lines.append(
        f"Name the {head} in the headline. The CTA is 2 to 5 words and starts with the verb '{b.cta_verb}'."
    )
    return "\n".join(lines)


HEADLINE_STARTS = (" {P}", " The {P}", " Your {P}", " {P}:", " Our {P}", " Meet the {P}")


def _tidy(copy: CopyVariant) -> CopyVariant:
    # the version-2 tidy-up without its CTA trim: a CTA cut at 24 characters reads broken
    return tidy_teacher_copy(copy, trim_cta=False)


def uses_benefit(copy: CopyVariant, b: AdBrief) -> bool:
    """At least one content word of the given benefits (or the category) in the headline or body."""
    return fact_coverage(copy, [*b.benefits, b.category], exclude=words(b.product)) > 0


def ad_reasons(copy: CopyVariant, b: AdBrief) -> list[str]:
    """Why an ad written for ``b`` is not corpus material (empty: keep it). The copy rules at the longest
    body length (the row is labelled by its real length), a verb-led call to action of at most five
    words, no content word twice in the headline or body, and at least one of the given benefits used."""
    brief = b.brief()
    judged = Brief(brief.product, brief.audience, brief.tone, "en", "long", brief.keywords)
    reasons = [r.split(" (")[0] for r in filter_reasons(copy, judged)]
    problem = cta_problem(copy.cta)
    if problem:
        reasons.append(f"cta {problem}")
    if any(repeated_word(f) for f in (copy.headline, copy.body)):
        reasons.append("stutter")
    if not uses_benefit(copy, b):
        reasons.append("uses no benefit")
    return reasons


def accept_ad(
    text: str, b: AdBrief, example_headline: str, rejected: Counter[str] | None = None
) -> CopyVariant | None:
    """The teacher's answer as a corpus ad (tidied), or None when :func:`ad_reasons` finds a problem or it
    copies the worked example's headline; ``rejected`` counts the reasons."""
    rejected = Counter() if rejected is None else rejected
    copy, complete = parse_completion(text)
    if not complete:
        rejected["incomplete"] += 1
        return None
    copy = _tidy(CopyVariant(neutralize(copy.headline), neutralize(copy.body), neutralize(copy.cta)))
    reasons = ad_reasons(copy, b)
    if edit_similarity(copy.headline, example_headline) > 0.6:
        reasons.append("copied the example")
    rejected.update(reasons)
    return None if reasons else copy


def teach_ads(
    teacher: Any, batch: list[AdBrief], rng: random.Random, seed: int, rejected: Counter[str] | None = None
) -> list[dict[str, Any]]:
    """One ad per brief (one batched teacher call); the rows that pass :func:`accept_ad` (``rejected``
    counts why the others did not)."""
    convs, examples, starts = [], [], []
    for b in batch:
        ex, answer = rng.choice([e for e in AD_EXAMPLES if e[0].product != b.product])
        examples.append(answer.split("\n")[0].removeprefix("Headline: "))
        convs.append(
            [
                {"role": "system", "content": AD_SYSTEM},
                {"role": "user", "content": ad_message(ex)},
                {"role": "assistant", "content": answer},
                {"role": "user", "content": ad_message(b)},
            ]
        )
        phrase = Brief(product=b.product).product_phrase
        start = ""
        if rng.random() < 0.7:  # the small teacher often forgets the product's name otherwise
            start = rng.choice(HEADLINE_STARTS).format(P=title_case(phrase) if rng.random() < 0.7 else phrase)
        starts.append(start)
    budget = max(MAX_NEW_TOKENS[b.length] for b in batch)
    texts = teacher.chat(
        convs, budget, seed * 1_000_003 + batch[0].id, starts=starts, labels=("Body:", "CTA:")
    )
    rows = []
    for b, text, example in zip(batch, texts, examples, strict=True):
        copy = accept_ad(text, b, example, rejected)
        if copy is None:
            continue
        rows.append(ad_row(b, seed, copy, "smollm2"))
    return rows


def ad_row(b: AdBrief, seed: int, copy: CopyVariant, source: str) -> dict[str, Any]:
    """One corpus row: the brief as given (so the row stands alone) and the ad."""
    return {
        "id": b.id,
        "seed": seed,
        "source": source,
        "kind": b.kind,
        "category": b.category,
        "product": b.product,
        "benefits": b.benefits,
        "audience": b.audience,
        "keywords": b.keywords,
        "angle": b.angle,
        "tone": b.tone,
        "headline": copy.headline,
        "body": copy.body,
        "cta": copy.cta,
    }


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def append_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def build_ads(args: Any) -> int:
    """``campaignbot train copy ads``: append grounded teacher ads to ``--out`` until ``--briefs`` briefs of
    the list for ``--seed`` are done or ``--minutes`` pass. Rows record their seed, so runs with other
    seeds (one process per core) can share one file; a run resumes after the last id of its seed."""
    import time

    import torch

    from engine.inference.training.teacher import Teacher

    out = Path(args.out)
    done = {int(r["id"]) for r in read_jsonl(out) if int(r.get("seed", -1)) == args.seed}
    done_rows = len(done)
    start = max(done) + 1 if done else 0
    products = load_catalog(Path(args.catalog))
    todo = [b for b in make_ad_briefs(products, args.briefs, args.seed) if b.id >= start]
    if not todo:
        print(f"{out}: all {args.briefs} briefs of seed {args.seed} done ({done_rows} kept)")
        return 0
    teacher = Teacher(torch.bfloat16 if args.dtype == "bf16" else torch.float32)
    rng = random.Random(args.seed * 7 + start)
    rejected: Counter[str] = Counter()
    started = time.monotonic()
    kept, briefs_done = _teach_all(args, teacher, todo, rng, rejected)
    minutes = (time.monotonic() - started) / 60
    record = {
        "seed": args.seed,
        "batch": args.batch,
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "briefs": briefs_done,
        "kept": kept,
        "minutes": round(minutes, 2),
        "briefs_per_min": round(briefs_done / max(minutes, 1e-9), 1),
        "kept_per_min": round(kept / max(minutes, 1e-9), 1),
        "rejections": dict(rejected.most_common(10)),
    }
    if args.log:
        append_jsonl(Path(args.log), [record])
    print(
        f"kept {kept} of {briefs_done} briefs in {minutes:.1f} min ({record['kept_per_min']} kept/min at batch "
        f"{args.batch}, {args.dtype}) -> {out}; rejections: {record['rejections']}"
    )
    return 0


def _teach_all(
    args: Any, teacher: Any, todo: list[AdBrief], rng: random.Random, rejected: Counter[str]
) -> tuple[int, int]:
    """Teach the briefs batch by batch until done or ``--minutes`` pass, appending each batch's rows to
    ``--out``: (rows kept, briefs done)."""
    import time

    from tqdm import tqdm

    deadline = time.monotonic() + args.minutes * 60 if args.minutes else float("inf")
    kept = 0
    briefs_done = 0
    bar = tqdm(total=len(todo), desc="ads", unit="brief")
    todo.sort(key=lambda b: (b.id // (args.batch * 8), b.length))  # similar lengths share a batch
    for i in range(0, len(todo), args.batch):
        if time.monotonic() > deadline:
            break
        batch = todo[i : i + args.batch]
        rows = teach_ads(teacher, batch, rng, args.seed, rejected)
        append_jsonl(Path(args.out), rows)
        kept += len(rows)
        briefs_done += len(batch)
        bar.update(len(batch))
        bar.set_postfix(kept=kept)
    bar.close()
    return kept, briefs_done


def import_written(args: Any) -> int:
    """``campaignbot train copy import``: add ads written by hand for the briefs of ``--seed`` (a JSONL of
    ``{"id", "headline", "body", "cta"}``) to the corpus, each checked with :func:`ad_reasons` like a
    teacher ad; ids already in the corpus for that seed are skipped."""
    products = load_catalog(Path(args.catalog))
    briefs = {b.id: b for b in make_ad_briefs(products, args.briefs, args.seed)}
    out = Path(args.out)
    done = {int(r["id"]) for r in read_jsonl(out) if int(r.get("seed", -1)) == args.seed}
    rows, rejected = [], Counter[str]()
    for path in args.ads:
        for a in read_jsonl(Path(path)):
            b = briefs.get(int(a.get("id", -1)))
            if b is None or b.id in done:
                rejected["unknown or duplicate id"] += 1
                continue
            headline, body, cta = (
                " ".join(neutralize(str(a.get(k, ""))).split()) for k in ("headline", "body", "cta")
            )
            copy = CopyVariant(headline, body, cta)
            reasons = ad_reasons(copy, b)
            if reasons:
                rejected.update(reasons)
                continue
            done.add(b.id)
            rows.append(ad_row(b, args.seed, copy, args.source))
    append_jsonl(out, rows)
    print(f"imported {len(rows)} ads -> {out}; rejected: {dict(rejected.most_common(8))}")
    return 0
