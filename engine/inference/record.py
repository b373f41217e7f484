"""A round as plain data: its variants (copy, hero record, palette) and lineage, serialised to
``copy.json`` (and a readable ``copy.md``) beside its creatives, so any card can be redrawn or refined
later. No models here."""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from engine.brief import Brief
from engine.errors import UserError
from engine.inference.creative.types import CopyVariant, VisualRecord


@dataclass
class Variant:
    index: int  # 1-based, as shown to people
    copy: CopyVariant
    visual: VisualRecord
    palette_index: int
    colour_hint: str | None = None
    parent: int | None = None  # variant index in the parent round
    hero: Image.Image | None = field(default=None, repr=False, compare=False)  # raw GAN art (RGBA)
    image: Image.Image | None = field(default=None, repr=False, compare=False)  # the finished creative

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "copy": self.copy.to_dict(),
            "visual": self.visual.to_dict(),
            "palette_index": self.palette_index,
            "colour_hint": self.colour_hint,
            "parent": self.parent,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Variant:
        return cls(
            index=int(d["index"]),
            copy=CopyVariant.from_dict(d["copy"]),
            visual=VisualRecord.from_dict(d["visual"]),
            palette_index=int(d.get("palette_index", 0)),
            colour_hint=d.get("colour_hint"),
            parent=d.get("parent"),
        )


@dataclass
class Round:
    number: int
    brief: Brief
    size: str
    seed: int
    variants: list[Variant]
    models: dict[str, str] = field(default_factory=dict)
    parent_round: int | None = None
    parent_variant: int | None = None
    instruction: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    # what the copy was conditioned on: category, benefits and where they came from (product_knowledge)
    grounding: dict[str, Any] = field(default_factory=dict)
    sheet: Image.Image | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.number,
            "brief": self.brief.to_dict(),
            "size": self.size,
            "seed": self.seed,
            "models": self.models,
            "parent_round": self.parent_round,
            "parent_variant": self.parent_variant,
            "instruction": self.instruction,
            "timings": self.timings,
            "grounding": self.grounding,
            "variants": [v.to_dict() for v in self.variants],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Round:
        return cls(
            number=int(d["round"]),
            brief=Brief.from_dict(d["brief"]),
            size=d["size"],
            seed=int(d["seed"]),
            variants=[Variant.from_dict(v) for v in d["variants"]],
            models=dict(d.get("models", {})),
            parent_round=d.get("parent_round"),
            parent_variant=d.get("parent_variant"),
            instruction=d.get("instruction"),
            timings=dict(d.get("timings", {})),
            grounding=dict(d.get("grounding", {})),
        )


# zlib level 3, not Pillow's ``optimize=True`` (level 9 plus a filter search): measured on a 1080x1080 card,
# 0.09 s and 983 KB against 1.57 s and 841 KB; with four cards and a sheet per round ``optimize`` cost about
# 7 s of every round (bench/results/png.json, ``python bench/png_levels.py``).
PNG_OPTIONS: dict[str, Any] = {"compress_level": 3}


def save_png(image: Any, path: Path) -> None:
    """Write ``image`` as PNG at the project's compression setting (:data:`PNG_OPTIONS`)."""
    image.save(path, format="PNG", **PNG_OPTIONS)


def write_variant(v: Variant, out_dir: Path) -> Path:
    """Write one finished creative, ``variant-K.png``, into ``out_dir`` (whole: a reader never sees half)."""
    assert v.image is not None
    out_dir.mkdir(parents=True, exist_ok=True)
    p = out_dir / f"variant-{v.index}.png"
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    save_png(v.image, tmp)
    os.replace(tmp, p)
    return p


def write_round(rnd: Round, out_dir: Path, *, done: Collection[int] = ()) -> list[Path]:
    """Write copy.json, copy.md, variant-K.png and contact-sheet.png into ``out_dir``; the files written.
    ``done``: the variants written already (by :func:`write_variant`, as each was finished)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for v in rnd.variants:
        if v.index not in done:
            written.append(write_variant(v, out_dir))
    if rnd.sheet is not None:
        p = out_dir / "contact-sheet.png"
        save_png(rnd.sheet, p)
        written.append(p)
    (out_dir / "copy.json").write_text(json.dumps(rnd.to_dict(), indent=2, ensure_ascii=False) + "\n")
    (out_dir / "copy.md").write_text(round_markdown(rnd))
    written += [out_dir / "copy.json", out_dir / "copy.md"]
    return written


def round_markdown(rnd: Round) -> str:
    b = rnd.brief
    lines = [f"# Round {rnd.number}: {b.product}", ""]
    lines.append(f"Tone {b.tone} · length {b.length} · size {rnd.size} · seed {rnd.seed}")
    if rnd.parent_variant:
        lines.append(
            f"Refined from round {rnd.parent_round}, variant {rnd.parent_variant}"
            + (f' ("{rnd.instruction}")' if rnd.instruction else "")
        )
    g = rnd.grounding
    if g.get("benefits"):
        lines.append(
            f"Written about: {g.get('category') or b.product} · {'; '.join(g['benefits'])}"
            + (f" (from {g['source']})" if g.get("source") else "")
        )
    lines.append("")
    for v in rnd.variants:
        lines += [
            f"## {v.index}. {v.copy.headline}",
            "",
            v.copy.body,
            "",
            f"**{v.copy.cta}** · visual: {v.visual.concept}, seed {v.visual.seed} · `variant-{v.index}.png`",
            "",
        ]
    return "\n".join(lines)


def read_round(path: Path) -> Round:
    try:
        return Round.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise UserError(f"No round found at {path}; run campaignbot generate first.") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise UserError(f"{path} is not a campaignbot round file ({exc}).") from None
