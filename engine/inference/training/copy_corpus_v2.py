"""The version-2 copy corpus (``campaignbot train copy corpus``, ``train_data/copy_corpus.jsonl``): the
SmolLM2 teacher (:mod:`.teacher`) writes an ad for each of a seeded list of ungrounded briefs, then
rewrites it (shorter, longer or in another tone); both are kept when they pass the copy rules.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from engine.brief import TONES, Brief
from engine.inference.copywriter.prompts import parse_completion, render_completion
from engine.inference.creative.copy_rules import edit_similarity, filter_reasons
from engine.inference.creative.types import CopyVariant
from engine.inference.training.copy_data import (
    AUDIENCES,
    DEFAULT_SEED,
    EXAMPLES,
    KEYWORDS,
    LENGTH_HINT,
    MAX_NEW_TOKENS,
    PRODUCTS,
    REWRITES,
    SYSTEM,
)
from engine.inference.training.teacher import Teacher, tidy_teacher_copy, title_case
from engine.neutralize import neutralize

logger = logging.getLogger(__name__)


def user_message(product: str, tone: str, audience: str, keywords: list[str], length: str) -> str:
    article = "an" if tone[0] in "aeiou" else "a"
    lines = [f"Write {article} {tone} ad.", f"Product: {product}"]
    if audience:
        lines.append(f"Audience: {audience}")
    if keywords:
        lines.append(f"Use the words: {', '.join(keywords)}")
    lines.append(LENGTH_HINT[length])
    head = Brief(product=product).product_phrase
    lines.append(f"Name the {head} in the headline. The CTA is 2 to 4 words.")
    return "\n".join(lines)


@dataclass
class TeacherBrief:
    id: int
    category: str
    product: str
    audience: str
    tone: str
    length: str
    keywords: list[str]

    def user_message(self) -> str:
        return user_message(self.product, self.tone, self.audience, self.keywords, self.length)

    def brief(self, tone: str | None = None, length: str | None = None) -> Brief:
        return Brief(
            product=self.product,
            audience=self.audience,
            tone=tone or self.tone,
            length=length or self.length,
            keywords=tuple(self.keywords),
        )


def make_briefs(n: int, seed: int) -> list[TeacherBrief]:
    """``n`` varied briefs, the same list for the same seed (so a run can resume by id)."""
    rng = random.Random(seed)
    cats = sorted(PRODUCTS)
    out = []
    for i in range(n):
        cat = rng.choice(cats)
        product = rng.choice(PRODUCTS[cat])
        pool = AUDIENCES["b2b" if cat == "b2b" else "general"]
        audience = rng.choice(pool) if rng.random() < 0.8 else ""
        k = rng.choices([0, 1, 2], weights=[3, 4, 2])[0]
        keywords = rng.sample(KEYWORDS[cat], k)
        out.append(
            TeacherBrief(
                i,
                cat,
                product,
                audience,
                rng.choice(TONES),
                rng.choice(("short", "medium", "long")),
                keywords,
            )
        )
    return out


HEADLINE_STARTS = (" {P}", " {P}", " The {P}", " Your {P}", " {P}:", " Our {P}")


def headline_start(b: TeacherBrief, rng: random.Random, p: float) -> str:
    """Words that pre-fill the teacher's headline: the product's name with probability ``p``."""
    if rng.random() >= p:
        return ""
    phrase = b.brief().product_phrase
    return rng.choice(HEADLINE_STARTS).format(P=title_case(phrase) if rng.random() < 0.7 else phrase)


def accept_copy(
    text: str, brief: Brief, example: str, rejected: Counter[str] | None = None
) -> CopyVariant | None:
    """The teacher's answer as corpus copy (tidied), or None when it fails the copy rules at the longest
    body length or copies the worked example's headline; ``rejected`` counts the reasons."""
    rejected = Counter() if rejected is None else rejected
    copy, complete = parse_completion(text)
    if not complete:
        rejected["incomplete"] += 1
        return None
    copy = tidy_teacher_copy(
        CopyVariant(neutralize(copy.headline), neutralize(copy.body), neutralize(copy.cta))
    )
    # Judge against the longest length so that a body of any length passes; fit labels it by its real length.
    judged = Brief(brief.product, brief.audience, brief.tone, "en", "long", brief.keywords)
    reasons = filter_reasons(copy, judged)
    if edit_similarity(copy.headline, example) > 0.6:
        reasons.append("copied the example")
    rejected.update(r.split(" (")[0] for r in reasons)
    if reasons:
        return None
    return copy


def _batches(items: list[TeacherBrief], size: int) -> Iterator[list[TeacherBrief]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def build_corpus(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done: set[int] = set()
    if out.exists():
        for line in out.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                # rows from brief lists of other seeds (merged runs) have their own ids
                if int(row.get("seed", DEFAULT_SEED)) == args.seed:
                    done.add(int(row["id"]))
    start = max(done) + 1 if done else 0
    todo = [b for b in make_briefs(args.briefs, args.seed) if b.id >= start]
    if not todo:
        print(f"{out}: all {args.briefs} briefs done")
        return 0
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    teacher = Teacher(dtype)
    rng = random.Random(args.seed + start)
    deadline = time.monotonic() + args.minutes * 60 if args.minutes else math.inf
    kept = 0
    rejected: Counter[str] = Counter()
    bar = tqdm(total=len(todo), desc="briefs", unit="brief")
    # Group by length so each batch stops at a sensible token budget.
    for chunk in _batches(todo, args.batch * 8):
        groups: dict[str, list[TeacherBrief]] = {}
        for b in chunk:
            groups.setdefault(b.length, []).append(b)
        for length, group in groups.items():
            for batch in _batches(group, args.batch):
                if time.monotonic() > deadline:
                    bar.close()
                    print(f"time limit reached; kept {kept} rows this run")
                    return 0
                rows = _teach_batch(teacher, batch, length, rng, args.seed, rejected)
                with out.open("a") as f:
                    for row in rows:
                        f.write(json.dumps(row, ensure_ascii=False) + "\n")
                kept += len(rows)
                bar.update(len(batch))
                bar.set_postfix(kept=kept)
                logger.info("rejections so far: %s", dict(rejected.most_common(6)))
    bar.close()
    print(f"kept {kept} rows this run -> {out}")
    return 0


def _teach_batch(
    teacher: Teacher,
    batch: list[TeacherBrief],
    length: str,
    rng: random.Random,
    seed: int,
    rejected: Counter[str],
) -> list[dict[str, Any]]:
    """Corpus rows for one batch of briefs: a first ad per brief, and the teacher's rewrite of each kept one."""
    firsts = _first_ads(teacher, batch, length, rng, seed, rejected)
    # Second variant: the teacher rewrites its own ad (shorter, longer or in another tone), keeping the idea.
    plans = [_rewrite_plan(b, rng) for b, *_ in firsts]
    convs2 = []
    for (_, copy, conv, _), (_, _, ask) in zip(firsts, plans, strict=True):
        answer = f"Headline: {copy.headline}\nBody: {copy.body}\nCTA: {copy.cta}"
        convs2.append([*conv, {"role": "assistant", "content": answer}, {"role": "user", "content": ask}])
    starts2 = [headline_start(b, rng, 0.5) for b, *_ in firsts]
    seed2 = seed * 1_000_003 + batch[0].id + 7
    texts2 = teacher.chat(convs2, MAX_NEW_TOKENS["long"], seed2, starts2) if convs2 else []
    rows = []
    for (b, copy, _, ex), (kind, tone, _), text in zip(firsts, plans, texts2, strict=True):
        second = accept_copy(text, b.brief(tone=tone), ex, rejected)
        if second is not None and edit_similarity(render_completion(second), render_completion(copy)) > 0.9:
            second = None
        rows.append(_row(b, seed, copy, second, kind, tone))
    return rows


def _first_ads(
    teacher: Teacher,
    batch: list[TeacherBrief],
    length: str,
    rng: random.Random,
    seed: int,
    rejected: Counter[str],
) -> list[tuple[TeacherBrief, CopyVariant, list[dict[str, str]], str]]:
    """(brief, ad, conversation, example headline) for each brief whose first ad passes :func:`accept_copy`;
    each conversation shows the teacher one worked example first."""
    convs = []
    examples = []
    for b in batch:
        ex_brief, ex_answer = rng.choice(EXAMPLES)
        ex_user = user_message(**ex_brief)
        examples.append(ex_answer.split("\n")[0])
        convs.append(
            [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": ex_user},
                {"role": "assistant", "content": ex_answer},
                {"role": "user", "content": b.user_message()},
            ]
        )
    # Most answers start with the product's name: the small teacher often forgets to name it otherwise.
    starts = [headline_start(b, rng, 0.6) for b in batch]
    texts = teacher.chat(convs, MAX_NEW_TOKENS[length], seed * 1_000_003 + batch[0].id, starts)
    firsts: list[tuple[TeacherBrief, CopyVariant, list[dict[str, str]], str]] = []
    for b, conv, text, ex in zip(batch, convs, texts, examples, strict=True):
        copy = accept_copy(text, b.brief(), ex, rejected)
        if copy is not None:
            firsts.append((b, copy, conv, ex))
    return firsts


def _rewrite_plan(b: TeacherBrief, rng: random.Random) -> tuple[str, str, str]:
    """(kind, tone, instruction) of the rewrite asked for: shorter, longer or in another tone."""
    kind = rng.choice(REWRITES)
    tone = b.tone
    if kind == "tone":
        tone = rng.choice([t for t in TONES if t != b.tone])
        ask = f"Rewrite it in a more {tone} tone, keeping the same idea."
    elif kind == "shorter":
        ask = "Rewrite it shorter, keeping the same idea. The body must be one short sentence."
    else:
        ask = "Rewrite it longer, keeping the same idea. The body must be two or three sentences."
    return kind, tone, ask


def _row(
    b: TeacherBrief, seed: int, copy: CopyVariant, second: CopyVariant | None, kind: str, tone: str
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": b.id,
        "seed": seed,
        "category": b.category,
        "product": b.product,
        "audience": b.audience,
        "keywords": b.keywords,
        "a": {"tone": b.tone, "headline": copy.headline, "body": copy.body, "cta": copy.cta},
        "b": None,
    }
    if second is not None:
        row["b"] = {
            "tone": tone,
            "instruction": f"more {tone}" if kind == "tone" else kind,
            "headline": second.headline,
            "body": second.body,
            "cta": second.cta,
        }
    return row
