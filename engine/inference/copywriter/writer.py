"""The copywriter: any causal LM (the house GPT-2 by default) writes headline, body and call to action.

The model sees a fixed plain-text prompt (see :func:`render_prompt`) and completes the three fields. House
models name the product by placeholder (``PRODUCT``/``ITEM``) and, from version 4 (``grounded-v4``), each
grounding benefit by its label (``FACT1``..``FACT3``); :func:`fill_copy` writes them out.
Many candidates are sampled in one batched ``generate`` call, neutralised, filtered with
:mod:`engine.copy_rules`, scored (model likelihood + keyword coverage) and picked greedily with a
diversity penalty, so the variants a marketer sees are valid and not near-duplicates.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import math
import random
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from engine.brief import BODY_MAX, LENGTHS, Brief
from engine.concepts import stem
from engine.copy_rules import (
    CTA_MAX_WORDS,
    content_words,
    copy_text,
    cta_problem,
    cta_strays,
    edit_similarity,
    fact_coverage,
    filter_reasons,
    keyword_coverage,
    repair,
    repeated_word,
    unknown_words,
    within_limits,
    words,
)
from engine.creative import CopyVariant
from engine.errors import ModelError
from engine.inference import stock_phrases
from engine.inference.fact_slots import fit_facts
from engine.inference.product_knowledge import Grounding, ProductKnowledge
from engine.neutralize import neutralize
from engine.settings import HOUSE_COPY_MODEL
from engine.steering import parse_steering

logger = logging.getLogger(__name__)

# Sampling settings chosen on held-out corpus briefs with bench/tune_decoding.py (bench/results/decoding.json):
# a low temperature and more candidates made the house model's copy clearly more fluent (judge NLL gap
# +26% -> +17%) while the variants of a brief stayed distinct (no near-duplicates; 0.25 gave 8%).
MIN_CANDIDATES = 24
CANDIDATES_PER_VARIANT = 6
ROUNDS = 2  # sampling batches before falling back to repaired candidates
MAX_NEW_TOKENS = 128
TOP_P = 0.92
TOP_K = 50
TEMPERATURE = 0.35
SPREAD_TEMPERATURE = 0.6  # one more batch when two picked variants read alike (NEAR_DUPLICATE)
NEAR_DUPLICATE = 0.8  # edit similarity of two variants' full text above which they read as the same card
FALLBACK_TEMPERATURE = 0.9  # one more, hotter round when the cool ones gave too few distinct valid candidates
KEYWORD_WEIGHT = 1.0  # keyword and benefit coverage (0..1)
PMI_WEIGHT = 1.0  # relevance: nats/token the product's facts explain
BENEFIT_WEIGHT = 1.0  # share of the grounding benefits the copy uses (copy_rules.fact_coverage)
STOCK_PENALTY = 0.5  # per stock phrase of the model in a candidate (at most two count; stock_phrases.py)
HEADLINE_ASTRAY_PENALTY = 1.0  # a headline with no word of the product, its category, keywords or benefits
MISFIT_PENALTY = 1.5  # score cost of a fact placed where it does not fit the sentence (fact_slots.fit_facts)
PROMPT_GROUPS = 4  # candidate groups per round, each with its own angle
DIVERSITY_WEIGHT = 1.5
SAME_CTA_PENALTY = 0.75  # per already-picked variant with the same button text: four cards, four CTAs
# The copy mechanism (see Copywriter._copy_boost): in the body, a grounding fact the model finds plausible
# at this point (the first token has at least COPY_START_P probability at temperature 1) is raised to tie
# with the model's favourite, and a fact the body has begun is finished (its next token raised above the
# favourite unless the model gives it under COPY_CONTINUE_P), so a benefit comes out whole ("plush over-ear
# cushions") instead of garbled ("a breathable battery").
COPY_START_P = 0.02
COPY_CONTINUE_P = 1e-4
COPY_LEAD = 2.0  # how far (temperature-scaled logits) a continuation is put above the favourite
# completions are "<headline>\nBody: <body>\nCTA: <cta>": the body follows the first line break
BODY_FIELD = 1

# What an ad leads with. The corpus varies it per teacher brief; the copywriter gives each group of
# candidates another angle, so the variants of a round argue differently.
ANGLES: tuple[str, ...] = (
    "the main benefit",
    "saving time",
    "value for money",
    "quality and craft",
    "a gift idea",
    "a limited offer",
    "everyday use",
    "a first try",
    "how it feels",
    "a problem it solves",
)
FIELDS = ("Headline", "Body", "CTA")
LEXICON_FILE = "lexicon.txt"  # one known word per line, next to the model's config.json
# Delexicalised models write these placeholders instead of the product's name; the copywriter fills them
# from the brief. The key in config.json / generation_config.json that marks such a model:
PLACEHOLDER_KEY = "campaignbot_placeholders"
# The key that names the prompt format a house model was trained on; "grounded-v3" reads category,
# benefits and angle lines. Models without it (a plain hub GPT-2) get a few-shot prompt instead.
FORMAT_KEY = "campaignbot_prompt_format"
GROUNDED_FORMAT = "grounded-v3"
# Version 4: the same prompt with each benefit labelled FACT1..FACT3 ("Benefits: FACT1 plush over-ear
# cushions; FACT2 ..."); the model writes the label where the benefit goes and the copywriter fills it in,
# so a 16M-parameter model only has to choose a fact and its place, not spell it out.
FACTS_FORMAT = "grounded-v4"
GROUNDED_FORMATS = (GROUNDED_FORMAT, FACTS_FORMAT)
FACT_TOKENS = ("FACT1", "FACT2", "FACT3")
PRODUCT_TOKEN = "PRODUCT"  # the product phrase: "smart watch" for "smart watch for runners"
ITEM_TOKEN = "ITEM"  # the head noun: "watch"
PLACEHOLDERS = {PRODUCT_TOKEN: "product_phrase", ITEM_TOKEN: "head_noun"}
_PLACEHOLDER = re.compile(r"(?:\b([Aa]n?)\s+)?\b(PRODUCT|ITEM|FACT[1-3])\b")
_RUN_ON = re.compile(r"[a-z][.!?][A-Z][a-z]")
_MISSPELT_PLACEHOLDER = re.compile(r"\b(?:Product|Item)s?\b|,(?:Product|Item)")
_UNFILLED = re.compile(r"\b(?:PRODUCT|ITEM|FACT\d?)\b")
_FIELD_LINE = re.compile(r"^\W{0,3}(headline|body|cta|call to action)\W{0,3}\s*:\s*(.*)$", re.IGNORECASE)


def length_label(body: str) -> str:
    """The length class a body actually has: ``short`` / ``medium`` / ``long`` by the brief's limits."""
    for name in LENGTHS:
        if len(body) <= BODY_MAX[name]:
            return name
    return LENGTHS[-1]


def render_prompt(
    brief: Brief,
    idea: str | None = None,
    grounding: Grounding | None = None,
    angle: str | None = None,
    facts: bool = False,
) -> str:
    """The conditioning text the copy model completes; it ends with ``Headline:``.

    With ``grounding`` (house models from version 3) the product's category and benefits follow the
    product line, and ``angle`` says what the ad leads with. With ``facts`` (version 4) each benefit is
    labelled by its placeholder: ``Benefits: FACT1 tracks pace; FACT2 week-long battery``."""
    lines = [f"Product: {brief.product}"]
    if grounding is not None and grounding.category:
        lines.append(f"Category: {grounding.category}")
    if grounding is not None and grounding.benefits:
        shown = grounding.benefits[: len(FACT_TOKENS)] if facts else grounding.benefits
        items = [f"{t} {b}" for t, b in zip(FACT_TOKENS, shown, strict=False)] if facts else list(shown)
        lines.append(f"Benefits: {'; '.join(items)}")
    if brief.audience:
        lines.append(f"Audience: {brief.audience}")
    lines.append(f"Tone: {brief.tone}")
    if angle:
        lines.append(f"Angle: {angle}")
    lines.append(f"Length: {brief.length}")
    if brief.keywords:
        lines.append(f"Keywords: {', '.join(brief.keywords)}")
    if idea:
        lines.append(f"Idea: {' '.join(idea.split())}")
    return "\n".join(lines) + "\nHeadline:"


def generic_prompt(brief: Brief) -> str:
    """The same request with nothing about the product: what the model writes for *any* product. Grounded
    house models see it in training (condition dropout), so log p(copy | prompt) - log p(copy | generic)
    measures how much a candidate says about *this* product (pointwise mutual information)."""
    return render_prompt(Brief(product="product", tone=brief.tone, length=brief.length))


def render_completion(copy: CopyVariant) -> str:
    """What follows the prompt in training text (the end-of-text token is added by the trainer)."""
    return f" {copy.headline}\nBody: {copy.body}\nCTA: {copy.cta}"


def _term_pattern(term: str, commas: bool = False) -> re.Pattern[str] | None:
    words = re.findall(r"[\w'&+.]+", term)
    if not words:
        return None
    sep = r",?[\s-]+" if commas else r"[\s-]+"  # a fact may be written "brighter, even skin"
    return re.compile(r"(?<![\w'])" + sep.join(re.escape(w) for w in words) + r"(?![\w'])", re.IGNORECASE)


def delexicalise(text: str, brief: Brief) -> str:
    """Replace the brief's product in ``text`` by placeholders (case-insensitive): the whole product line
    or its product phrase by ``PRODUCT``, then the head noun by ``ITEM``. Used to build training text for
    delexicalised models and to score filled copy under such a model."""
    for term, token in ((brief.product, PRODUCT_TOKEN), (brief.product_phrase, PRODUCT_TOKEN),
                        (brief.head_noun, ITEM_TOKEN)):  # fmt: skip
        pattern = _term_pattern(term)
        if pattern is not None:
            text = pattern.sub(token, text)
    return text


def delexicalise_facts(text: str, facts: tuple[str, ...] | list[str]) -> str:
    """Replace each fact written out in ``text`` by its placeholder (FACT1 for the first ...), longest
    fact first so a fact inside another is not split (version-4 training text and scoring)."""
    order = sorted(range(min(len(facts), len(FACT_TOKENS))), key=lambda i: -len(facts[i]))
    for i in order:
        pattern = _term_pattern(facts[i], commas=True)
        if pattern is not None:
            text = pattern.sub(FACT_TOKENS[i], text)
    return text


def delexicalise_copy(
    copy: CopyVariant, brief: Brief, facts: tuple[str, ...] | list[str] = ()
) -> CopyVariant:
    def delex(text: str) -> str:
        return delexicalise_facts(delexicalise(text, brief), facts) if facts else delexicalise(text, brief)

    return replace(copy, headline=delex(copy.headline), body=delex(copy.body), cta=delex(copy.cta))


def unfilled(copy: CopyVariant) -> bool:
    """A placeholder left in the copy (a FACT label with no fact behind it)."""
    return any(_UNFILLED.search(t) for t in (copy.headline, copy.body, copy.cta))


def _title(phrase: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in phrase.split())


def fill_placeholders(
    text: str, brief: Brief, *, title: bool = False, facts: tuple[str, ...] | list[str] = ()
) -> str:
    """Put the brief's product back where a delexicalised model wrote ``PRODUCT`` / ``ITEM``, and the
    grounding facts where a version-4 model wrote ``FACT1`` ... (a label with no fact is left as it is).

    In a headline (``title=True``) the name is title-cased; elsewhere it is used as typed and
    capitalised at the start of the field or of a sentence. ``a``/``an`` before it is made to agree."""

    def sub(m: re.Match[str]) -> str:
        article, token = m.group(1), m.group(2)
        if token.startswith("FACT"):
            n = int(token[4:]) - 1
            if n >= len(facts):
                return m.group(0)
            value = " ".join(facts[n].split())
        else:
            value = " ".join(str(getattr(brief, PLACEHOLDERS[token])).split()) or brief.product
        if title:
            value = _title(value)
        before = text[: m.start()].rstrip()
        if not before or before[-1] in ".!?:\n":
            head = article or value
            head = head[:1].upper() + head[1:]
            if article:
                article = head
            else:
                value = head
        if article:
            vowel = value[:1].lower() in "aeiou"
            article = (article[0] + ("n" if vowel else "")) if article[0] in "Aa" else article
            return f"{article} {value}"
        return value

    return _PLACEHOLDER.sub(sub, text)


def _later_mentions_short(fields: list[str], brief: Brief) -> list[str]:
    """Name a multi-word product in full once; later ``PRODUCT`` mentions become ``ITEM`` (the head noun),
    as a copywriter would write "the drill" after "Cordless Power Drill" rather than repeat all three words."""
    if len(brief.product_phrase.split()) < 2:
        return fields
    out = []
    named = False
    for text in fields:
        parts = re.split(r"\b(PRODUCT)\b", text)
        for i in range(1, len(parts), 2):
            if named:
                parts[i] = ITEM_TOKEN
            named = True
        out.append("".join(parts))
    return out


_SINGULAR_VERBS = {"has": "have", "is": "are", "was": "were", "does": "do", "keeps": "keep", "makes": "make",
                   "lets": "let", "gives": "give", "offers": "offer", "comes": "come", "stays": "stay",
                   "helps": "help", "brings": "bring", "turns": "turn", "feels": "feel", "fits": "fit",
                   "works": "work", "uses": "use", "holds": "hold", "adds": "add"}  # fmt: skip


def is_plural(noun: str) -> bool:
    """A rough English plural test for a product's head noun (the project's stemmer strips an ending):
    "headphones", "candles", "jeans" yes; "glass", "hummus", "analysis", "bus", "news" no."""
    w = noun.lower()
    return not w.endswith(("'s", "news", "series")) and stem(w) != w


def agree(text: str, brief: Brief) -> str:
    """Number agreement around a plural product the placeholder hid: "This headphones has" -> "These
    headphones have", "A headphones with" -> "Headphones with"."""
    if not is_plural(brief.head_noun):
        return text
    names = sorted({brief.product_phrase, brief.head_noun}, key=len, reverse=True)
    name = "|".join(re.escape(n) for n in names if n)
    verbs = "|".join(_SINGULAR_VERBS)

    def these(m: re.Match[str]) -> str:
        det = "These" if m.group(1)[0] == "T" else "these"
        verb = _SINGULAR_VERBS.get(m.group(3).lower(), m.group(3)) if m.group(3) else ""
        return f"{det} {m.group(2)}" + (f" {verb}" if verb else "")

    text = re.sub(rf"\b(This|this) ({name})\b(?: ({verbs})\b)?", these, text, flags=re.IGNORECASE)
    text = re.sub(rf"\b({name}) ({verbs})\b", lambda m: f"{m.group(1)} {_SINGULAR_VERBS[m.group(2).lower()]}", text,
                  flags=re.IGNORECASE)  # fmt: skip

    def relative(m: re.Match[str]) -> str:  # "Candles That Fits" -> "Candles That Fit"
        verb = _SINGULAR_VERBS[m.group(3).lower()]
        verb = verb[:1].upper() + verb[1:] if m.group(3)[:1].isupper() else verb
        return f"{m.group(1)} {m.group(2)} {verb}"

    text = re.sub(rf"\b({name}) (that|which|That|Which) ({verbs})\b", relative, text, flags=re.IGNORECASE)

    def bare(m: re.Match[str]) -> str:
        word = m.group(2)
        return word[:1].upper() + word[1:] if m.group(1)[0] == "A" else word

    return re.sub(rf"\b(An?|an?) ({name})\b", bare, text, flags=re.IGNORECASE)


# Head nouns that say nothing on a button by themselves: "Download the app" becomes "Download the Budgeting
# App" when the product's full name fits in the call to action.
_VAGUE_HEADS = frozenset(["app", "service", "services", "class", "classes", "kit", "set", "box", "plan",
                          "software", "platform", "tool", "course", "session", "subscription", "program"])  # fmt: skip


def fill_copy(copy: CopyVariant, brief: Brief, facts: tuple[str, ...] | list[str] = ()) -> CopyVariant:
    headline, body, cta = _later_mentions_short([copy.headline, copy.body, copy.cta], brief)
    if brief.head_noun.lower() in _VAGUE_HEADS and re.search(rf"\b{ITEM_TOKEN}\b", cta):
        named = re.sub(rf"\b{ITEM_TOKEN}\b", PRODUCT_TOKEN, cta, count=1)
        if len(fill_placeholders(named, brief).split()) <= CTA_MAX_WORDS:
            cta = named
    return replace(
        copy,
        headline=agree(fill_placeholders(headline, brief, title=True, facts=facts), brief),
        body=agree(fill_placeholders(body, brief, facts=facts), brief),
        cta=agree(fill_placeholders(cta, brief, title=_is_title(cta), facts=facts), brief),
    )


def _is_title(text: str) -> bool:
    small = {"a", "an", "and", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with"}
    words = [w for w in re.findall(r"[A-Za-z]+", text) if w not in PLACEHOLDERS and w.lower() not in small]
    return bool(words) and all(w[0].isupper() for w in words)


def parse_completion(text: str) -> tuple[CopyVariant, bool]:
    """Parse ``<headline>\\nBody: ...\\nCTA: ...`` (the text after the prompt's ``Headline:``).

    Returns the variant and whether all three fields were found. Tolerates markdown bold,
    quotes and blank lines; ignores anything after the CTA line.
    """
    found: dict[str, str] = {}
    lines = text.replace("\r", "").split("\n")
    first = lines[0].strip()
    if first and not _FIELD_LINE.match(first):
        found["headline"] = first
    for raw in lines[1:] if "headline" in found else lines:
        m = _FIELD_LINE.match(raw.strip())
        if not m:
            continue
        key = m.group(1).lower()
        key = "cta" if key == "call to action" else key
        if key not in found and m.group(2).strip():
            found[key] = m.group(2).strip()
        if key == "cta":
            break
    copy = CopyVariant(
        headline=_clean(found.get("headline", "")),
        body=_clean(found.get("body", "")),
        cta=_clean(found.get("cta", "")),
    )
    return copy, all(k in found for k in ("headline", "body", "cta"))


def _clean(value: str) -> str:
    value = value.replace("**", "").replace("__", "").strip()
    value = " ".join(value.split())
    if len(value) >= 2 and value[0] in "\"'“" and value[-1] in "\"'”":
        value = value[1:-1].strip()
    return value


# --------------------------------------------------------------------------------------------------
# The model wrapper


@dataclass
class _Candidate:
    copy: CopyVariant
    complete: bool
    reasons: list[str]
    repaired: bool = False
    prompt: str = ""
    # a fact where it does not fit the sentence (fact_slots.fit_facts): ranked down, not rejected
    misfit: bool = False


class Copywriter:
    """A loaded copy model. ``name`` and ``version`` identify it in round metadata (``name@version``)."""

    def __init__(self, model: Any, tokenizer: Any, name: str, version: str) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.version = version
        self._logit_bias: torch.Tensor | None = None
        self.stock: frozenset[tuple[str, ...]] = frozenset()  # the model's filler 4-grams (stock_phrases)
        self._content_starts: torch.Tensor | None = None
        self._word_starts = torch.zeros(0, dtype=torch.bool)  # set with _content_starts
        self._newlines: torch.Tensor | None = None
        self._labels: tuple[set[int], set[int], list[int]] | None = None  # how FACT labels tokenize
        # transformers 5 renamed ``past_key_values`` to ``cache``; older versions only know the former.
        params = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        # Only the last position's logits while sampling: the LM head over every prompt position and all
        # 50,257 tokens was most of the time of a round on the CPU.
        self._last_only = {"logits_to_keep": 1} if "logits_to_keep" in params else {}
        self.placeholders = uses_placeholders(model)
        # House models from version 3 read the grounded prompt (category, benefits, angle); any other
        # model (a hub GPT-2) gets the few-shot prompt of FEW_SHOT in front of the same request.
        self.grounded = prompt_format(model) in GROUNDED_FORMATS
        self.fact_slots = prompt_format(model) == FACTS_FORMAT  # writes FACT1.. for the benefits
        # Every word the model saw in training completions (house models ship it as lexicon.txt): sampled
        # candidates with made-up words are rejected. None for models without one (no check).
        self.lexicon: frozenset[str] | None = None
        self.knowledge: ProductKnowledge | None = None
        self._groundings: dict[tuple[str, tuple[str, ...]], Grounding] = {}

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # -- loading ---------------------------------------------------------------------------------------
    @classmethod
    def load(cls, name_or_path: str, device: torch.device, dtype: torch.dtype) -> Copywriter:
        """Load any causal LM by local directory or by hub id (from the local cache only, never the network)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(name_or_path).expanduser()
        # "org/name" is a hub id; anything absolute, relative-looking or deeper is a path.
        looks_like_path = (
            path.is_absolute()
            or name_or_path.startswith((".", "~"))
            or name_or_path.count("/") > 1
            or "\\" in name_or_path
        )
        if looks_like_path and not path.exists():
            raise ModelError(
                f"Copy model directory {name_or_path} does not exist; point CAMPAIGNBOT_COPY_MODEL at a model "
                "directory (the house model is engine/inference/house/copy-en) or rebuild it with "
                "'campaignbot train copy fit'."
            )
        if path.exists() and not path.is_dir():
            raise ModelError(f"Copy model {name_or_path} is a file; expected a Hugging Face model directory.")
        source = str(path) if path.is_dir() else name_or_path
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
            model: Any = AutoModelForCausalLM.from_pretrained(source, local_files_only=True, dtype=dtype)
        except (OSError, ValueError, KeyError) as exc:
            where = (
                "directory"
                if path.is_dir()
                else "model id: no such local directory, and not in the local Hugging Face cache (never downloaded)"
            )
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"Could not load copy model {name_or_path!r} as a {where}: {first[:200]}. "
                "Use a directory with config.json, weights and tokenizer files, e.g. engine/inference/house/copy-en."
            ) from exc
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        model.to(device=device, dtype=dtype).eval()
        name = path.name if path.is_dir() else name_or_path
        logger.info("copy model %s loaded on %s (%s)", name, device, dtype)
        writer = cls(model, tokenizer, name, _version_of(path if path.is_dir() else None, model))
        lexicon = path / LEXICON_FILE if path.is_dir() else None
        if lexicon is not None and lexicon.is_file():
            writer.lexicon = frozenset(w for w in lexicon.read_text(encoding="utf-8").split() if w)
        if path.is_dir():
            writer.stock = stock_phrases.load(path)
        # The product knowledge table: shipped with the house model; any other model borrows the house one.
        for directory in ([path] if path.is_dir() else []) + [HOUSE_COPY_MODEL]:
            writer.knowledge = ProductKnowledge.load(directory)
            if writer.knowledge is not None:
                break
        return writer

    # -- public API ------------------------------------------------------------------------------------
    def ground(self, brief: Brief) -> Grounding:
        """The category and benefits the copy is conditioned on (see :mod:`product_knowledge`); the last
        few answers are kept, since a round asks for the same brief more than once."""
        key = (brief.product, brief.keywords)
        if key not in self._groundings:
            if self.knowledge is None:
                found = Grounding(
                    benefits=tuple(brief.keywords[:3]), source="keywords" if brief.keywords else ""
                )
            else:
                found = self.knowledge.ground(brief)
            if len(self._groundings) >= 64:
                self._groundings.pop(next(iter(self._groundings)))
            self._groundings[key] = found
        return self._groundings[key]

    def write(self, brief: Brief, n: int, seed: int) -> list[CopyVariant]:
        """``n`` distinct, valid variants for ``brief``; the same seed gives the same variants."""
        return self._variants(brief, None, n, seed, parent=None)

    def rewrite(
        self, brief: Brief, parent: CopyVariant, n: int, seed: int, instruction: str | None = None
    ) -> list[CopyVariant]:
        """``n`` new variants that keep ``parent``'s idea (its headline), steered by ``instruction``
        (``shorter``, ``longer``, ``more playful``, ``bolder`` ...)."""
        steer = parse_steering(instruction, length_label(parent.body))
        length = brief.length
        if steer.length and steer.length != length_label(parent.body):
            # "shorter"/"longer" are relative to the parent's actual body, never stacked on a brief
            # that a caller already steered.
            order = list(LENGTHS)
            pick = min if order.index(steer.length) < order.index(length_label(parent.body)) else max
            length = pick(steer.length, brief.length, key=order.index)
        target = replace(brief, tone=steer.tone or brief.tone, length=length)
        return self._variants(target, parent.headline, n, seed, parent=parent)

    def prompts(self, brief: Brief, idea: str | None, groups: int, seed: int) -> list[str]:
        """One prompt per candidate group. A grounded model gets the product's facts and a different
        angle per group (drawn by ``seed``); other models get the few-shot prompt."""
        grounding = self.ground(brief)
        if not self.grounded:
            if self.placeholders:  # a house model of version 2: the plain prompt it was trained on
                return [render_prompt(brief, idea=idea)]
            return [few_shot_prompt(brief, grounding, idea)]
        rng = random.Random(seed)
        angles = rng.sample(ANGLES, min(groups, len(ANGLES)))
        return [
            render_prompt(brief, idea=idea, grounding=grounding, angle=a, facts=self.fact_slots)
            for a in angles
        ]

    # -- internals -------------------------------------------------------------------------------------
    def _variants(
        self, brief: Brief, idea: str | None, n: int, seed: int, parent: CopyVariant | None
    ) -> list[CopyVariant]:
        n = max(1, int(n))
        k = max(MIN_CANDIDATES, CANDIDATES_PER_VARIANT * n)
        prompts = self.prompts(brief, idea, max(n, PROMPT_GROUPS), seed)
        grounding = self.ground(brief)
        pool: list[_Candidate] = []
        seen: set[str] = set()
        for attempt in range(ROUNDS + 1):
            # the last round, only reached when too few distinct valid candidates came, samples hotter
            temperature = TEMPERATURE if attempt < ROUNDS else FALLBACK_TEMPERATURE
            for cand in self._sample(brief, grounding, prompts, k, seed + attempt * 1_000_003, temperature):
                key = copy_text(cand.copy).lower()
                if key in seen:
                    continue
                seen.add(key)
                if parent is not None and edit_similarity(copy_text(cand.copy), copy_text(parent)) > 0.85:
                    cand.reasons.append("same as the parent")
                pool.append(cand)
            if len({c.copy.headline.lower() for c in pool if not c.reasons}) >= n:
                break
        good = [c for c in pool if not c.reasons]
        heads = {c.copy.headline.lower() for c in good}
        if len(good) < n or len(heads) < n:
            # Repaired candidates fill the gap, those with a headline not yet seen first.
            keys = {copy_text(c.copy).lower() for c in good}
            extra = [
                c
                for c in self._repaired(pool, brief, parent, len(pool))
                if copy_text(c.copy).lower() not in keys
            ]
            extra.sort(key=lambda c: c.copy.headline.lower() in heads)  # stable: new headlines first
            for cand in extra:
                if len(good) >= n and len(heads) >= n:
                    break
                if cand.copy.headline.lower() in heads and len(good) >= n:
                    continue
                keys.add(copy_text(cand.copy).lower())
                heads.add(cand.copy.headline.lower())
                good.append(cand)
        self._score(brief, grounding, good)
        picked = _pick_diverse([c.copy for c in good], n)
        if self.grounded and _near_duplicates(picked):
            # two of the cards would read alike: one more, warmer batch gives the picker other choices
            for cand in self._sample(brief, grounding, prompts, k, seed + 7_000_003, SPREAD_TEMPERATURE):
                key = copy_text(cand.copy).lower()
                if key in seen or cand.reasons:
                    continue
                if parent is not None and edit_similarity(copy_text(cand.copy), copy_text(parent)) > 0.85:
                    continue
                seen.add(key)
                self._score(brief, grounding, [cand])
                good.append(cand)
            picked = _pick_diverse([c.copy for c in good], n)
        return picked

    def _sample(
        self,
        brief: Brief,
        grounding: Grounding,
        prompts: list[str],
        k: int,
        seed: int,
        temperature: float = TEMPERATURE,
    ) -> list[_Candidate]:
        budget = brief.headline_max() + brief.body_max() + brief.cta_max()
        per = [k // len(prompts) + (1 if i < k % len(prompts) else 0) for i in range(len(prompts))]
        rows = [(p, c) for p, c in zip(prompts, per, strict=True) for _ in range(c)]
        # the copy boost spells facts out; a version-4 model writes their labels and needs none
        facts = self._fact_tokens(brief, grounding) if self.grounded and not self.fact_slots else []
        texts = self._generate(
            [p for p, _ in rows], min(MAX_NEW_TOKENS, budget // 3 + 16), seed, temperature, facts
        )
        context = Brief(
            product=brief.product,
            audience=brief.audience,
            keywords=(*brief.keywords, grounding.category, *grounding.benefits),
        )
        about = words(" ".join([brief.product, brief.audience, *brief.keywords, grounding.category,
                                *grounding.benefits]))  # fmt: skip
        own = words(brief.product)
        cands = []
        for (prompt, _), text in zip(rows, texts, strict=True):
            copy, complete = parse_completion(text)
            misfit = False
            fact_texts: tuple[str, ...] = ()
            if self.fact_slots:  # which benefit behind which label, and the sentence mended around it
                fitted = fit_facts([copy.headline, copy.body, copy.cta], grounding.benefits)
                copy = replace(copy, headline=fitted.fields[0], body=fitted.fields[1], cta=fitted.fields[2])
                misfit, fact_texts = fitted.misfits > 0, fitted.facts
            if self.placeholders:
                copy = fill_copy(copy, brief, fact_texts)
            copy = CopyVariant(neutralize(copy.headline), neutralize(copy.body), neutralize(copy.cta))
            reasons = filter_reasons(copy, brief)
            if not complete:
                reasons.append("missing field")
            if unfilled(copy):
                reasons.append("placeholder with nothing behind it")
            if self.fact_slots and any(repeated_word(f) for f in (copy.headline, copy.body)):
                # filled facts bypass the decoder's repetition block ("leak-proof and sweat-free and leak-proof")
                reasons.append("a word twice in a field")
            problem = cta_problem(copy.cta)
            if problem and complete:
                reasons.append(f"call to action {problem}")
            strays = cta_strays(copy.cta, about) if self.grounded else []
            if strays and complete:  # "Explore Kids' Raincoats" for building blocks
                reasons.append(f"call to action about '{strays[0]}'")
            if _RUN_ON.search(f"{copy.headline} {copy.body}"):
                reasons.append("no space after a full stop")  # "daily.Benef the ovens": a prompt line leaking
            if _MISSPELT_PLACEHOLDER.search(f"{copy.headline} {copy.body}") and "product" not in own:
                reasons.append("a placeholder written as a word")  # "Your First Coaching,Product Day"
            if self.lexicon is not None:
                unknown = unknown_words(copy, context, self.lexicon)
                if unknown:
                    reasons.append(f"unknown word '{unknown[0]}'")
            cands.append(_Candidate(copy, complete, reasons, prompt=prompt, misfit=misfit))
        return cands

    def _generate(
        self,
        prompts: list[str],
        max_new: int,
        seed: int,
        temperature: float = TEMPERATURE,
        facts: list[list[int]] | None = None,
    ) -> list[str]:
        """Sample one completion per prompt (prompts may repeat) as a single batch.

        A small loop over the model with its KV cache instead of ``model.generate``: prompts are
        left-padded with explicit position ids, sampling draws from the top ``TOP_K`` tokens (sorting the
        full 50k vocabulary at every step dominated CPU time), and a content word (a word-start token of
        four or more letters) cannot be sampled twice within one field: in-field repetition is blocked
        while decoding rather than filtered after. A seeded ``torch.Generator`` on the model's device
        makes the output a pure function of (model, prompts, seed). ``facts`` (token sequences of the
        grounding benefits and keywords) are copied into the body by :meth:`_copy_boost`."""
        tok = self.tokenizer
        limit = int(
            getattr(self.model.config, "n_positions", 0)
            or getattr(self.model.config, "max_position_embeddings", 0)
            or 1024
        )
        encoded = [tok(p)["input_ids"][-max(8, limit - max_new) :] for p in prompts]
        width = max(len(e) for e in encoded)
        max_new = max(1, min(max_new, limit - width))
        k = len(prompts)
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        ids = torch.full((k, width), pad, dtype=torch.long)
        mask = torch.zeros((k, width), dtype=torch.long)
        for i, e in enumerate(encoded):
            ids[i, width - len(e) :] = torch.tensor(e)
            mask[i, width - len(e) :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        gen = torch.Generator(device=self.device)
        gen.manual_seed(seed)
        eos = tok.eos_token_id
        bias = self._bias(encoded).to(self.device)  # (k, vocab)
        starts = self._content_word_starts(bias.shape[-1])
        prev: torch.Tensor | None = None  # the token each row sampled last
        rows_all = torch.arange(k, device=self.device)
        newline = self._newline_ids()
        used = torch.zeros_like(bias, dtype=torch.bool)
        done = torch.zeros(k, dtype=torch.bool, device=self.device)
        out: list[torch.Tensor] = []
        written: list[list[int]] = [[] for _ in range(k)]  # generated tokens per row (copy boost, labels)
        if self.fact_slots and self._labels is None:
            self._labels = self._label_tokens()
        labels = self._labels if self.fact_slots else None
        track = bool(facts) or labels is not None
        fields = [0] * k  # per row: which field (line) it is writing, and where that line began
        field_starts = [0] * k
        past = None
        step, pos = ids, positions
        with torch.inference_mode():
            for _ in range(max_new):
                res = self.model(
                    input_ids=step,
                    attention_mask=mask,
                    position_ids=pos,
                    use_cache=True,
                    **{self._cache_arg: past},
                    **self._last_only,
                )
                past = getattr(res, self._cache_arg, None)
                logits = res.logits[:, -1, :].float()
                logits = logits[:, : bias.shape[-1]] + bias
                logits = logits.masked_fill(used & starts, float("-inf"))
                if prev is not None:  # the same word twice in a row ("hr hr hr ...") is never copy
                    again = self._word_starts[prev]
                    logits[rows_all[again], prev[again]] = float("-inf")
                logp = torch.log_softmax(logits, dim=-1) if facts else None
                logits = logits / temperature
                if facts and logp is not None:
                    self._copy_boost(logits, logp, facts, written, fields, field_starts)
                if labels is not None:
                    _block_used_labels(logits, labels, written, field_starts)
                nxt = _sample_top_p(logits, TOP_P, TOP_K, gen)
                nxt = torch.where(done, torch.full_like(nxt, eos), nxt)
                prev = nxt
                out.append(nxt)
                done |= nxt == eos
                if bool(done.all()):
                    break
                rows = torch.arange(k, device=self.device)
                if track:
                    newlines = torch.isin(nxt, newline).tolist()
                    for i, t in enumerate(nxt.tolist()):
                        written[i].append(t)
                        if newlines[i]:
                            fields[i] += 1
                            field_starts[i] = len(written[i])
                used[rows, nxt] = True
                used[torch.isin(nxt, newline)] = False  # a new field starts fresh
                step = nxt[:, None]
                pos = pos[:, -1:] + 1
                mask = torch.cat([mask, torch.ones((k, 1), dtype=mask.dtype, device=self.device)], dim=1)
        if not out:
            return [""] * k
        return tok.batch_decode(torch.stack(out, dim=1).cpu(), skip_special_tokens=True)

    def _label_tokens(self) -> tuple[set[int], set[int], list[int]] | None:
        """How the tokenizer spells a FACT label: (first tokens, middle tokens, one last token per label),
        e.g. ({"F", "ĠF"}, {"ACT"}, ["1", "2", "3"]) for GPT-2; None when the labels do not split that way."""
        heads, middles, lasts = set(), set(), []
        for label in FACT_TOKENS:
            for text in (" " + label, label):
                ids = self.tokenizer(text)["input_ids"]
                if len(ids) != 3:
                    return None
                heads.add(ids[0])
                middles.add(ids[1])
            lasts.append(ids[2])
        return heads, middles, lasts

    def _fact_tokens(self, brief: Brief, grounding: Grounding) -> list[list[int]]:
        """Token sequences of the facts the body may copy: each grounding benefit and brief keyword as it
        would follow a space mid-sentence (" even heat for perfect searing"); duplicates and one-token
        stop words left out."""
        seqs: list[list[int]] = []
        for fact in dict.fromkeys((*brief.keywords, *grounding.benefits)):
            fact = " ".join(fact.split()).strip(" .;,")
            if not fact or not content_words(fact):
                continue
            ids = self.tokenizer(" " + fact)["input_ids"]
            if ids and ids not in seqs:
                seqs.append(ids)
        return seqs

    @staticmethod
    def _copy_boost(
        logits: torch.Tensor,
        logp: torch.Tensor,
        facts: list[list[int]],
        written: list[list[int]],
        fields: list[int],
        field_starts: list[int],
    ) -> None:
        """A copy mechanism for a small model that has not learnt to copy its prompt reliably, applied in
        the body field only. ``logits`` are the temperature-scaled logits the next token is sampled from
        (changed in place); ``logp`` the model's own log-probabilities at temperature 1. A fact not yet
        written whose first token the model gives at least COPY_START_P is raised to tie with the
        favourite; the next token of a fact the body is in the middle of is put COPY_LEAD above it unless
        the model gives it under COPY_CONTINUE_P. Where a fact fits stays the model's decision."""
        start_min, cont_min = math.log(COPY_START_P), math.log(COPY_CONTINUE_P)
        for i, (toks, field, start) in enumerate(zip(written, fields, field_starts, strict=True)):
            if field != BODY_FIELD:
                continue
            body = toks[start:]
            top = float(logits[i].max())
            for fact in facts:
                if _contains(body, fact):
                    continue
                m = _open_prefix(body, fact)
                if m:
                    t, floor, lead = fact[m], cont_min, COPY_LEAD
                else:
                    t, floor, lead = fact[0], start_min, 0.0
                if float(logp[i, t]) >= floor:
                    logits[i, t] = max(float(logits[i, t]), top + lead)

    def _bias(self, prompts: list[list[int]]) -> torch.Tensor:
        """Per row: 0 for tokens the model may produce, -inf for its generation config's
        ``suppress_tokens``, except tokens of that row's own prompt (a benefit or keyword word the
        model may copy even if no training completion used it)."""
        vocab = int(getattr(self.model.config, "vocab_size", 0) or len(self.tokenizer))
        if self._logit_bias is None or self._logit_bias.shape[0] != vocab:
            bias = torch.zeros(vocab)
            suppressed = [
                t for t in (getattr(self.model.generation_config, "suppress_tokens", None) or []) if t < vocab
            ]
            if suppressed:
                bias[torch.tensor(suppressed)] = float("-inf")
            self._logit_bias = bias
        rows = self._logit_bias.expand(len(prompts), -1).clone()
        for i, p in enumerate(prompts):
            allowed = torch.tensor([t for t in p if t < vocab], dtype=torch.long)
            if len(allowed):
                rows[i, allowed] = 0.0
        return rows

    def _content_word_starts(self, vocab: int) -> torch.Tensor:
        """Tokens that start a content word (" quality", " Perfect"): four or more letters, not light.
        Read off the byte-level (``Ġ``) or SentencePiece (``▁``) spelling of each vocabulary entry."""
        if self._content_starts is None or self._content_starts.shape[0] != vocab:
            flags = torch.zeros(vocab, dtype=torch.bool)
            words_ = torch.zeros(vocab, dtype=torch.bool)
            for token, i in self.tokenizer.get_vocab().items():
                if i < vocab and token[:1] in ("Ġ", "▁") and token[1:].isalpha():
                    flags[i] = content_words(token[1:]) == [token[1:].lower()]
                    words_[i] = True
            self._content_starts = flags.to(self.device)
            self._word_starts = words_.to(self.device)
        return self._content_starts

    def _newline_ids(self) -> torch.Tensor:
        """Tokens that contain a line break (``Ċ`` in byte-level BPE): a new field starts after them."""
        if self._newlines is None:
            ids = [i for t, i in self.tokenizer.get_vocab().items() if "Ċ" in t or "\n" in t or t == "<0x0A>"]
            self._newlines = torch.tensor(ids or [-1], dtype=torch.long, device=self.device)
        return self._newlines

    def _repaired(
        self, pool: list[_Candidate], brief: Brief, parent: CopyVariant | None, need: int
    ) -> list[_Candidate]:
        """Fix what can be fixed (lengths, product name) in rejected candidates, best first."""
        fixed: list[_Candidate] = []
        for cand in pool:
            if not cand.reasons or not (cand.copy.headline or cand.copy.body):
                continue
            copy = repair(cand.copy, brief)
            reasons = filter_reasons(copy, brief)
            if parent is not None and edit_similarity(copy_text(copy), copy_text(parent)) > 0.85:
                reasons.append("same as the parent")
            problem = cta_problem(copy.cta)
            if problem:
                reasons.append(f"call to action {problem}")
            fixed.append(
                _Candidate(
                    copy, cand.complete, reasons, repaired=True, prompt=cand.prompt, misfit=cand.misfit
                )
            )
        # Fully valid repairs first, then the ones with the fewest remaining problems.
        fixed.sort(key=lambda c: (len(c.reasons), not c.complete, not within_limits(c.copy, brief)))
        return fixed[: max(need, 0) * 2]

    def _score(self, brief: Brief, grounding: Grounding, cands: list[_Candidate]) -> None:
        """score = -(mean NLL) + PMI weight * relevance + coverage of keywords and benefits - penalties
        (invalid, repaired, a fact that does not fit its sentence, a headline about something else).

        Relevance (grounded models only) is the pointwise mutual information of the copy and the product:
        NLL under the generic prompt minus NLL under the candidate's own prompt, in nats per token."""
        if not cands:
            return
        copies = [c.copy for c in cands]
        if self.placeholders:  # score the text the model actually writes, placeholders and all
            facts = grounding.benefits if self.fact_slots else ()
            copies = [delexicalise_copy(c, brief, facts) for c in copies]
        nlls = self._nll([c.prompt for c in cands], copies)
        pmis = [0.0] * len(cands)
        if self.grounded:
            generic = self._nll([generic_prompt(brief)] * len(cands), copies)
            pmis = [g - n for g, n in zip(generic, nlls, strict=True)]
        own = words(brief.product)
        about = {stem(w) for w in words(" ".join([brief.product, grounding.category, *brief.keywords,
                                                   *grounding.benefits])) if len(w) >= 3}  # fmt: skip
        for cand, nll, pmi in zip(cands, nlls, pmis, strict=True):
            cand.copy.nll = round(nll, 4)
            penalty = (0.5 if cand.repaired else 0.0) + 2.0 * len(cand.reasons) + MISFIT_PENALTY * cand.misfit
            if self.stock:  # "a thoughtful gift for": the model's filler, whatever the product
                penalty += STOCK_PENALTY * min(2, len(stock_phrases.grams(copy_text(cand.copy)) & self.stock))
            if about and not about & {stem(w) for w in words(cand.copy.headline)}:
                penalty += HEADLINE_ASTRAY_PENALTY  # "Snack Time, Solved" for scented candles
            coverage = KEYWORD_WEIGHT * keyword_coverage(cand.copy, brief)
            coverage += BENEFIT_WEIGHT * fact_coverage(cand.copy, grounding.benefits, own)
            cand.copy.score = round(-nll + PMI_WEIGHT * pmi + coverage - penalty, 4)

    def _nll(self, prompts: list[str], copies: list[CopyVariant]) -> list[float]:
        """Mean negative log-likelihood per completion token of each copy after its prompt, under the
        distribution the copywriter samples from (suppressed tokens excluded). The output layer is applied
        only to completion positions and only to the tokens some row may produce."""
        tok = self.tokenizer
        rows, starts = [], []
        for prompt, c in zip(prompts, copies, strict=True):
            p = tok(prompt)["input_ids"]
            rows.append(p + tok(render_completion(c))["input_ids"] + [tok.eos_token_id])
            starts.append(len(p))
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):  # right padding: positions count from 0 in every row
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        bias = self._bias([tok(p)["input_ids"] for p in prompts])
        ids, mask, bias = ids.to(self.device), mask.to(self.device), bias.to(self.device)
        first = max(min(starts) - 1, 0)  # the first position whose next token is a completion token
        targets = ids[:, first + 1 :]
        with torch.inference_mode():
            logits = self._head_logits(ids, mask, first, bias)
            if logits is None:  # a model without a separable output layer: the plain way
                full = self.model(input_ids=ids, attention_mask=mask).logits[:, first:-1].float()
                full = full[..., : bias.shape[-1]] + bias[:, None, :]
                logp = torch.log_softmax(full, dim=-1).gather(-1, targets[..., None]).squeeze(-1)
            else:
                cols, sub = logits
                index = torch.full((bias.shape[-1],), -1, dtype=torch.long, device=self.device)
                index[cols] = torch.arange(len(cols), device=self.device)
                where = index[targets.clamp(max=bias.shape[-1] - 1)]
                logp = torch.log_softmax(sub, dim=-1).gather(-1, where.clamp(min=0)[..., None]).squeeze(-1)
                logp = torch.where(where < 0, torch.full_like(logp, -20.0), logp)
            # A token the model cannot produce (e.g. a product word added by repair) costs a bounded 20 nats.
            logp = logp.clamp(min=-20.0)
        keep = mask[:, first + 1 :].bool()
        for i, s in enumerate(starts):
            keep[i, : max(s - 1 - first, 0)] = False
        nll = -(logp * keep).sum(1) / keep.sum(1).clamp(min=1)
        return [float(x) for x in nll.cpu()]

    def _head_logits(
        self, ids: torch.Tensor, mask: torch.Tensor, first: int, bias: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(columns, logits) for positions ``first:-1``, restricted to the tokens that are not suppressed in
        every row (columns), with each row's bias added; None when the model has no plain linear head."""
        head = self.model.get_output_embeddings() if hasattr(self.model, "get_output_embeddings") else None
        base = getattr(self.model, "base_model", None)
        if not isinstance(head, torch.nn.Linear) or base is None or base is self.model:
            return None
        hidden = base(input_ids=ids, attention_mask=mask).last_hidden_state[:, first:-1]
        cols = torch.isfinite(bias).any(0).nonzero().squeeze(-1)
        weight = head.weight[cols]
        sub = (hidden @ weight.T).float() + bias[:, None, cols]
        if head.bias is not None:
            sub = sub + head.bias[cols].float()
        return cols, sub


def _block_used_labels(
    logits: torch.Tensor,
    labels: tuple[set[int], set[int], list[int]],
    written: list[list[int]],
    field_starts: list[int],
) -> None:
    """Each FACT label at most once per field, and only real labels (in place): after a label's first two
    tokens only the last token of a label not yet written in this field may follow; once all labels are
    written in the field, no label may start (its first token is masked)."""
    heads, middles, lasts = labels
    for i, (toks, start) in enumerate(zip(written, field_starts, strict=True)):
        field = toks[start:]
        used = {field[j + 2] for j in range(len(field) - 2) if field[j] in heads and field[j + 1] in middles}
        free = [t for t in lasts if t not in used]
        if not free:  # every label written in this field: no label may start
            for t in heads:
                logits[i, t] = float("-inf")
        if free and len(field) >= 2 and field[-1] in middles and field[-2] in heads:
            keep = logits[i, free].clone()
            logits[i] = float("-inf")
            logits[i, free] = keep


def _contains(seq: list[int], part: list[int]) -> bool:
    n = len(part)
    return any(seq[j : j + n] == part for j in range(len(seq) - n + 1))


def _open_prefix(seq: list[int], fact: list[int]) -> int:
    """The length of the longest proper prefix of ``fact`` that ``seq`` ends with (0 when none)."""
    for m in range(min(len(fact) - 1, len(seq)), 0, -1):
        if seq[-m:] == fact[:m]:
            return m
    return 0


def _sample_top_p(logits: torch.Tensor, top_p: float, top_k: int, gen: torch.Generator) -> torch.Tensor:
    """One token per row from the smallest top-k prefix whose probability reaches ``top_p``."""
    values, index = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1)
    probs = torch.softmax(values, dim=-1)
    probs = probs * ((probs.cumsum(-1) - probs) < top_p)
    choice = torch.multinomial(probs, 1, generator=gen)
    return index.gather(-1, choice).squeeze(-1)


def _near_duplicates(copies: list[CopyVariant], threshold: float = NEAR_DUPLICATE) -> bool:
    texts = [copy_text(c) for c in copies]
    return any(edit_similarity(a, b) > threshold for i, a in enumerate(texts) for b in texts[i + 1 :])


def _pick_diverse(copies: list[CopyVariant], n: int) -> list[CopyVariant]:
    """Greedy: best score first, then the best score minus a penalty for similarity to what is picked."""
    remaining = sorted(copies, key=lambda c: -c.score)
    picked: list[CopyVariant] = []
    while remaining and len(picked) < n:

        def value(c: CopyVariant) -> float:
            if not picked:
                return c.score
            sim = max(edit_similarity(copy_text(c), copy_text(p)) for p in picked)
            head = max(edit_similarity(c.headline, p.headline) for p in picked)
            same_cta = sum(" ".join(c.cta.lower().split()) == " ".join(p.cta.lower().split()) for p in picked)
            same_head = any(c.headline.lower() == p.headline.lower() for p in picked)
            return (
                c.score
                - DIVERSITY_WEIGHT * sim
                - (10.0 if head > 0.8 or sim > NEAR_DUPLICATE else 0.0)
                - (100.0 if same_head else 0.0)  # never the same headline twice while others exist
                - SAME_CTA_PENALTY * same_cta
            )

        best = max(remaining, key=value)
        picked.append(best)
        remaining.remove(best)
    return picked


def uses_placeholders(model: Any) -> bool:
    """Whether the model was trained on delexicalised copy (``campaignbot_placeholders`` in its config
    or generation config); hub models without that key are used as they are."""
    for cfg in (getattr(model, "config", None), getattr(model, "generation_config", None)):
        if cfg is not None and getattr(cfg, PLACEHOLDER_KEY, None):
            return True
    return False


def _version_of(directory: Path | None, model: Any) -> str:
    """Short hash of the config and the weights file(s), so rounds record exactly which model wrote them."""
    h = hashlib.sha256()
    if directory is not None:
        files = [directory / "config.json"] + sorted(
            p for p in directory.iterdir() if p.suffix in (".safetensors", ".bin") and p.is_file()
        )
        for f in files:
            if f.exists():
                h.update(f.name.encode())
                h.update(f.read_bytes())
    else:
        h.update(model.config.to_json_string().encode())
        for name, tensor in sorted(model.state_dict().items())[:8]:
            h.update(name.encode())
            h.update(tensor.detach().float().cpu().numpy().tobytes()[:65536])
    return h.hexdigest()[:10]


def prompt_format(model: Any) -> str:
    """The prompt format a house model was trained on (``campaignbot_prompt_format``), or ""."""
    for cfg in (getattr(model, "config", None), getattr(model, "generation_config", None)):
        value = getattr(cfg, FORMAT_KEY, None) if cfg is not None else None
        if value:
            return str(value)
    return ""


# Worked examples for models that never saw the project's format (a plain hub GPT-2): two finished ads in
# the grounded format, then the request. Not tried with real hub weights here (no hub on these machines).
FEW_SHOT: tuple[tuple[Brief, Grounding, CopyVariant], ...] = (
    (
        Brief(product="reusable coffee cup", audience="commuters", tone="friendly", length="short"),
        Grounding("drinkware", ("leak-proof lid", "keeps coffee hot for hours")),
        CopyVariant(
            "Your Morning Coffee, Zero Waste",
            "A leak-proof lid and coffee that stays hot from the train to your desk.",
            "Get Your Cup",
        ),
    ),
    (
        Brief(
            product="payroll software", audience="small business owners", tone="professional", length="medium"
        ),
        Grounding("hr software", ("automatic tax filing", "pays staff on time")),
        CopyVariant(
            "Payroll Done in Minutes, Not Days",
            "Automatic tax filing and staff paid on time, every time, so you can run your business.",
            "Book a Free Demo",
        ),
    ),
)


def few_shot_prompt(brief: Brief, grounding: Grounding, idea: str | None = None) -> str:
    shots = [render_prompt(b, grounding=g) + render_completion(c) for b, g, c in FEW_SHOT]
    return "\n\n".join([*shots, render_prompt(brief, idea=idea, grounding=grounding)])
