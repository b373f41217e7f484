"""What the visual training writes besides its state: sample grids (one row per concept) and the
shipped export (generator.pt, discriminator.pt, concepts.json, samples.png).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageDraw

from engine.inference.creative.concepts import CONCEPTS
from engine.inference.gan import (
    DISCRIMINATOR_FILE,
    Discriminator,
    GANConfig,
    Generator,
    sample_latents,
    save_discriminator,
    save_generator,
    to_rgba_uint8,
)

logger = logging.getLogger(__name__)


def state_path(work_dir: Path) -> Path:
    return work_dir / "train_state.pt"


def sample_grid(
    g: Generator, concepts: list[str], per_row: int, device: torch.device, seed: int = 0
) -> Image.Image:
    """One row per concept (label on the left), ``per_row`` fixed seeds, on a light checker background."""
    n = len(concepts)
    z = sample_latents([seed + i for i in range(per_row)], g.config.z_dim)
    s = g.config.img_size
    label_w = 110
    grid = Image.new("RGBA", (label_w + per_row * (s + 2), n * (s + 2)), (235, 235, 235, 255))
    draw = ImageDraw.Draw(grid)
    was_training = g.training
    g.eval()
    with torch.no_grad():
        for r, name in enumerate(concepts):
            y = torch.full((per_row,), r, dtype=torch.long)
            imgs = to_rgba_uint8(g(z.to(device), y.to(device)))
            draw.text((4, r * (s + 2) + s // 2 - 6), name, fill=(20, 20, 20, 255))
            for c in range(per_row):
                tile = Image.fromarray(imgs[c].numpy(), "RGBA")
                bg = Image.new("RGBA", (s, s), (255, 255, 255, 255))
                grid.alpha_composite(Image.alpha_composite(bg, tile), (label_w + c * (s + 2), r * (s + 2)))
    g.train(was_training)
    return grid.convert("RGB")


def real_grid(x: torch.Tensor, y: torch.Tensor, concepts: list[str], per_row: int) -> Image.Image:
    s = x.shape[-1]
    grid = Image.new("RGB", (per_row * (s + 2), len(concepts) * (s + 2)), (255, 255, 255))
    for r in range(len(concepts)):
        idx = (y == r).nonzero().flatten()[:per_row]
        imgs = to_rgba_uint8(x[idx])
        for c in range(len(idx)):
            tile = Image.fromarray(imgs[c].numpy(), "RGBA")
            grid.paste(tile, (c * (s + 2), r * (s + 2)), tile)
    return grid


def export_saved(args: argparse.Namespace, concepts: list[str]) -> int:
    state_file = state_path(args.work_dir)
    if args.out is None or not state_file.exists():
        logger.error("--export-only needs --out and an existing %s", state_file)
        return 2
    state = torch.load(state_file, map_location="cpu", weights_only=False)
    g = Generator(GANConfig(**state["config"]))
    g.load_state_dict(state["g_ema"] if args.export_weights == "ema" else state["g"])
    d = Discriminator(GANConfig(**state["config"]))
    d.load_state_dict(state["d"])
    export(
        g.eval(),
        list(state.get("concepts", concepts)),
        args.out,
        stats=state["stats"],
        step=int(state["step"]),
        minutes=float(state["elapsed_s"]) / 60,
        batch_size=args.batch_size,
        name=args.name,
        version=args.version,
        half=args.fp16_export,
        seed=args.seed,
        weights=args.export_weights,
        discriminator=d.eval(),
    )
    return 0


def export(
    g: Generator,
    concepts: list[str],
    out: Path,
    *,
    stats: dict[str, Any],
    step: int,
    minutes: float,
    batch_size: int,
    name: str,
    version: str,
    half: bool,
    seed: int,
    weights: str = "ema",
    discriminator: Discriminator | None = None,
) -> Path:
    """Write generator.pt, concepts.json and samples.png (one row per concept) into ``out``'s folder,
    and discriminator.pt beside them when given (the studio ranks candidate heroes with it)."""
    meta = {
        "steps": step,
        "batch_size": batch_size,
        "train_minutes": round(minutes, 1),
        "seed": seed,
        "images": stats.get("images"),
        "sources": list(stats.get("per_source", {})),
        "emoji": stats.get("emoji"),
        "per_concept": stats.get("per_concept"),
        "data": "; ".join(stats.get("licences", {}).values())
        or "emoji-datasource-google (MIT data, Apache-2.0 images); fonts-noto-color-emoji (OFL-1.1)",
        "loss": "hinge, projection discriminator with spectral norm, DiffAugment (shift, brightness, cutout)",
        "generator": "EMA of generator weights" if weights == "ema" else "raw generator weights",
    }
    path = save_generator(out, g, concepts, name=name, version=version, meta=meta, half=half)
    if discriminator is not None:
        save_discriminator(path.parent / DISCRIMINATOR_FILE, discriminator, concepts)
    table = [
        {
            "name": c,
            "label": CONCEPTS[c].label,
            "emoji": list(CONCEPTS[c].emoji),
            "keywords": list(CONCEPTS[c].keywords),
            "images": stats.get("per_concept", {}).get(c),
        }
        for c in concepts
    ]
    (path.parent / "concepts.json").write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n")
    sample_grid(g, concepts, 8, torch.device("cpu")).save(path.parent / "samples.png")
    logger.info("exported %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path
