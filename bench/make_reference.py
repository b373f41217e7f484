"""Write the reference set for the fluency figure: the teacher's own ad copy for the benchmark's English
briefs (bench/briefs/), with the same prompt and acceptance filter as the distillation corpus.

    .venv/bin/python bench/make_reference.py --per-brief 3     # ~10 min on one CPU core

The briefs are new to the teacher pipeline (the corpus draws from its own product lists), so this is
the teacher on held-out briefs. Output: bench/reference/teacher_copy.jsonl.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from qualitylib import BRIEFS, load_briefs, reference_path  # noqa: E402
from tqdm import tqdm  # noqa: E402

from engine.inference.training.copy_corpus_v2 import (  # noqa: E402
    TeacherBrief,
    accept_copy,
    headline_start,
    user_message,
)
from engine.inference.training.copy_data import EXAMPLES, MAX_NEW_TOKENS, SYSTEM  # noqa: E402
from engine.inference.training.teacher import Teacher  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-brief", type=int, default=3)
    ap.add_argument("--tries", type=int, default=3, help="sampling rounds for briefs still short of answers")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seed", type=int, default=77)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--briefs", type=Path, default=BRIEFS)
    ap.add_argument("--out", type=Path, default=None, help="default: the set's reference file")
    a = ap.parse_args(argv)
    a.out = a.out or reference_path(a.briefs)
    if a.threads:
        torch.set_num_threads(a.threads)
    briefs = [b for b in load_briefs(a.briefs) if b.language == "en"]
    teacher = Teacher(torch.float32)
    rng = random.Random(a.seed)
    kept: dict[str, list[dict[str, str]]] = {b.id: [] for b in briefs}
    for attempt in range(a.tries):
        todo = [b for b in briefs for _ in range(a.per_brief - len(kept[b.id]))]
        if not todo:
            break
        todo.sort(key=lambda b: b.brief.length)
        for i in tqdm(range(0, len(todo), a.batch), desc=f"round {attempt + 1}", unit="batch"):
            chunk = todo[i : i + a.batch]
            convs, starts, examples = [], [], []
            for b in chunk:
                ex_brief, ex_answer = rng.choice(EXAMPLES)
                examples.append(ex_answer.split("\n")[0])
                br = b.brief
                convs.append(
                    [
                        {"role": "system", "content": SYSTEM},
                        {"role": "user", "content": user_message(**ex_brief)},
                        {"role": "assistant", "content": ex_answer},
                        {
                            "role": "user",
                            "content": user_message(
                                br.product, br.tone, br.audience, list(br.keywords), br.length
                            ),
                        },
                    ]
                )
                tb = TeacherBrief(
                    0, b.category, br.product, br.audience, br.tone, br.length, list(br.keywords)
                )
                starts.append(headline_start(tb, rng, 0.6))
            max_new = max(MAX_NEW_TOKENS[b.brief.length] for b in chunk)
            texts = teacher.chat(convs, max_new, a.seed * 7919 + attempt * 1_000 + i, starts)
            for b, text, ex in zip(chunk, texts, examples, strict=True):
                copy = accept_copy(text, b.brief, ex)
                if copy is not None and len(kept[b.id]) < a.per_brief:
                    kept[b.id].append({"headline": copy.headline, "body": copy.body, "cta": copy.cta})
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with a.out.open("w", encoding="utf-8") as f:
        for b in briefs:
            for c in kept[b.id]:
                f.write(json.dumps({"id": b.id, "copy": c}, ensure_ascii=False) + "\n")
    n = sum(len(v) for v in kept.values())
    print(
        f"wrote {n} reference ads for {sum(bool(v) for v in kept.values())}/{len(briefs)} briefs -> {a.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
