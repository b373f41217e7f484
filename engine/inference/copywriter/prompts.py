"""The copy model's text formats: the prompt it completes (grounded, generic, few-shot), the completion
it writes (``<headline>\nBody: ...\nCTA: ...``) and the config keys that say which format a model reads.
"""

from __future__ import annotations

import re
from typing import Any

from engine.brief import BODY_MAX, LENGTHS, Brief
from engine.inference.creative.types import CopyVariant
from engine.inference.product_knowledge import Grounding

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


def uses_placeholders(model: Any) -> bool:
    """Whether the model was trained on delexicalised copy (``campaignbot_placeholders`` in its config
    or generation config); hub models without that key are used as they are."""
    for cfg in (getattr(model, "config", None), getattr(model, "generation_config", None)):
        if cfg is not None and getattr(cfg, PLACEHOLDER_KEY, None):
            return True
    return False


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
