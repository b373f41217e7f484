"""The creative brief: what a marketer asks for, validated with friendly errors. No torch here."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from difflib import get_close_matches
from typing import Any

from engine.errors import UserError
from engine.neutralize import neutralize, require_encodable

TONES: tuple[str, ...] = ("playful", "bold", "premium", "friendly", "urgent", "calm", "professional")
SIZES: dict[str, tuple[int, int]] = {"square": (1080, 1080), "landscape": (1200, 628), "story": (1080, 1920)}
LENGTHS: tuple[str, ...] = ("short", "medium", "long")
LANGUAGES: tuple[str, ...] = ("en", "zh")
MAX_BRIEF_CHARS = 400
MAX_VARIANTS = 8
DEFAULT_VARIANTS = 4
DEFAULT_SIZE = "square"
MAX_SEED = 2**31 - 1
VOTE_MIN_SECONDS = 60
VOTE_MAX_SECONDS = 24 * 3600
REFINE_SEED_STEP = 7919  # a prime: refine rounds of one campaign get seeds far apart


def refine_seed(parent_seed: int, round_number: int) -> int:
    """The seed of refine round ``round_number`` of a campaign whose previous round had ``parent_seed``:
    the one rule the engine (which plans the round) and the studio (which renders it) share."""
    return parent_seed + round_number * REFINE_SEED_STEP


# Character limits per copy field; the body limit depends on the requested length.
HEADLINE_MAX = 60
CTA_MAX = 24
BODY_MAX = {"short": 90, "medium": 160, "long": 240}
# CJK text carries more per character.
CJK_HEADLINE_MAX = 24
CJK_CTA_MAX = 10
CJK_BODY_MAX = {"short": 40, "medium": 70, "long": 100}

# A hyphen splits only when spaced ("tea - organic"): "noise-cancelling headphones" is one product.
_SPLITTERS = re.compile(r"\s+(?:for|that|which|with|to|in|by|from|of)\s+|[,;:()–—]|\s-\s", re.IGNORECASE)
_ARTICLE = re.compile(r"^(?:a|an|the|our|my|your)\s+", re.IGNORECASE)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def is_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def suggest(value: str, allowed: tuple[str, ...] | list[str]) -> str:
    close = get_close_matches(value.lower(), list(allowed), n=1, cutoff=0.5)
    return f" Did you mean '{close[0]}'?" if close else ""


def _words(text: str) -> tuple[str, ...]:
    parts = re.split(r"[,;]", text) if ("," in text or ";" in text) else text.split()
    return tuple(p.strip() for p in parts if p.strip())


@dataclass(frozen=True)
class Brief:
    """A validated brief. ``product`` is the whole brief line, e.g. ``smart watch for runners``."""

    product: str
    audience: str = ""
    tone: str = "friendly"
    language: str = "en"
    length: str = "medium"
    keywords: tuple[str, ...] = field(default_factory=tuple)
    avoid: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def create(
        cls,
        product: str,
        *,
        audience: str = "",
        tone: str = "friendly",
        language: str | None = None,
        length: str = "medium",
        keywords: str | tuple[str, ...] | list[str] = (),
        avoid: str | tuple[str, ...] | list[str] = (),
    ) -> Brief:
        """Validate and normalise user input; raise :class:`UserError` with an example on bad values."""
        for text, what in ((product, "The brief"), (audience, "The audience")):
            require_encodable(text or "", what)
        for words in (keywords, avoid):
            for item in [words] if isinstance(words, str) else words:
                require_encodable(item, "A keyword")
        product = " ".join(neutralize(product or "").split())
        if not product:
            raise UserError('The brief is empty. Describe the product, e.g. "smart watch for runners".')
        if len(product) > MAX_BRIEF_CHARS:
            raise UserError(
                f"The brief is {len(product):,} characters; keep it under {MAX_BRIEF_CHARS}. "
                'Try one line, e.g. "smart watch for runners".'
            )
        tone = (tone or "friendly").strip().lower()
        if tone not in TONES:
            raise UserError(f"Unknown tone '{tone}'.{suggest(tone, TONES)} Tones: {', '.join(TONES)}.")
        length = (length or "medium").strip().lower()
        if length not in LENGTHS:
            raise UserError(
                f"Unknown length '{length}'.{suggest(length, LENGTHS)} Lengths: {', '.join(LENGTHS)}."
            )
        lang = (language or ("zh" if is_cjk(product) else "en")).strip().lower()
        if lang not in LANGUAGES:
            raise UserError(
                f"Unsupported language '{lang}'. Supported: {', '.join(LANGUAGES)} (e.g. --lang en)."
            )
        audience = " ".join(neutralize(audience or "").split())[:120]
        kw = _words(keywords) if isinstance(keywords, str) else tuple(keywords)
        av = _words(avoid) if isinstance(avoid, str) else tuple(avoid)
        kw = tuple(neutralize(k)[:40] for k in kw if k.strip())[:8]
        av = tuple(neutralize(a).lower()[:40] for a in av if a.strip())[:16]
        return cls(
            product=product, audience=audience, tone=tone, language=lang, length=length, keywords=kw, avoid=av
        )

    @property
    def product_phrase(self) -> str:
        """The product itself without the qualifiers: ``smart watch for runners`` -> ``smart watch``."""
        head = _SPLITTERS.split(self.product, maxsplit=1)[0].strip()
        # "a running shoe" -> "running shoe": the copy supplies its own article ("The Running Shoe ...")
        bare = _ARTICLE.sub("", head).strip()
        return bare or head or self.product

    @property
    def head_noun(self) -> str:
        """The word a headline must contain to name the product (``watch``)."""
        phrase = self.product_phrase
        if is_cjk(phrase):
            return phrase[-2:] if len(phrase) >= 2 else phrase
        words = re.findall(r"[\w'&+.-]+", phrase)
        return words[-1] if words else phrase

    @property
    def is_cjk(self) -> bool:
        return self.language == "zh"

    def body_max(self) -> int:
        return (CJK_BODY_MAX if self.is_cjk else BODY_MAX)[self.length]

    def headline_max(self) -> int:
        return CJK_HEADLINE_MAX if self.is_cjk else HEADLINE_MAX

    def cta_max(self) -> int:
        return CJK_CTA_MAX if self.is_cjk else CTA_MAX

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["keywords"] = list(self.keywords)
        d["avoid"] = list(self.avoid)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Brief:
        return cls(
            product=d["product"],
            audience=d.get("audience", ""),
            tone=d.get("tone", "friendly"),
            language=d.get("language", "en"),
            length=d.get("length", "medium"),
            keywords=tuple(d.get("keywords", ())),
            avoid=tuple(d.get("avoid", ())),
        )
