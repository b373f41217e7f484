"""A small class-conditional DCGAN for 64x64 RGBA hero art, in one file (config, generator, discriminator, io).

* Generator: ``z`` (unit-variance Gaussian) -> linear 4x4 -> four up-sampling conv blocks with
  class-conditional batch norm -> 4 channels in [-1, 1]: premultiplied RGB and alpha.
* Discriminator: spectral-normalised conv stack -> global sum pooling -> linear + projection
  with a class embedding (Miyato & Koyama 2018). Trained with the hinge loss.

Images are premultiplied (RGB * alpha) so fully transparent pixels are black: the colour of
an invisible pixel carries no signal. :func:`to_rgba_uint8` undoes that for Pillow.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

CHECKPOINT_FORMAT = "campaignbot-visual-gan/1"


@dataclass
class GANConfig:
    n_classes: int = 41
    z_dim: int = 128
    g_ch: int = 64  # generator width at img_size/2; doubles at each lower resolution
    d_ch: int = 64  # discriminator width at img_size/2; doubles at each lower resolution
    img_size: int = 64
    channels: int = 4  # RGB + alpha
    embed_dim: int = 64  # class embedding concatenated to z at the generator input

    def __post_init__(self) -> None:
        if self.img_size not in (16, 32, 64):
            raise ValueError("img_size must be 16, 32 or 64")

    @property
    def n_up(self) -> int:
        return int(math.log2(self.img_size // 4))


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose scale and shift are looked up per class."""

    def __init__(self, num_features: int, n_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, affine=False)
        self.embed = nn.Embedding(n_classes, num_features * 2)
        with torch.no_grad():
            self.embed.weight[:, :num_features].normal_(1.0, 0.02)
            self.embed.weight[:, num_features:].normal_(0.0, 0.02)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.embed(y).chunk(2, dim=1)
        out: torch.Tensor = self.bn(x) * gamma[:, :, None, None] + beta[:, :, None, None]
        return out


class GBlock(nn.Module):
    """Conditional BN -> ReLU -> 4x4 transposed conv doubling the resolution (DCGAN)."""

    def __init__(self, c_in: int, c_out: int, n_classes: int) -> None:
        super().__init__()
        self.bn = ConditionalBatchNorm2d(c_in, n_classes)
        self.conv = nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(F.relu(self.bn(x, y)))
        return out


class Generator(nn.Module):
    """z, class -> (N, 4, S, S) premultiplied RGBA in [-1, 1]. Widths: 8g at 4x4 ... g at S/2."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        n = config.n_up
        chans = [config.g_ch * 2 ** (n - 1 - i) for i in range(n)]  # 4x4 ... S/2
        self.c0 = chans[0]
        # The class enters twice: concatenated to z (strong from step one) and through every batch norm.
        self.class_embed = nn.Embedding(config.n_classes, config.embed_dim)
        self.fc = nn.Linear(config.z_dim + config.embed_dim, 4 * 4 * self.c0)
        self.blocks = nn.ModuleList(GBlock(chans[i], chans[i + 1], config.n_classes) for i in range(n - 1))
        self.out_bn = ConditionalBatchNorm2d(chans[-1], config.n_classes)
        self.out = nn.ConvTranspose2d(chans[-1], config.channels, 4, stride=2, padding=1)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.fc(torch.cat([z, self.class_embed(y).to(z.dtype)], dim=1)).view(z.shape[0], self.c0, 4, 4)
        for block in self.blocks:
            h = block(h, y)
        x = torch.tanh(self.out(F.relu(self.out_bn(h, y))))
        # Premultiplied alpha: colour never exceeds coverage.
        a01 = (x[:, 3:4] + 1) / 2
        rgb = (x[:, :3] + 1) * a01 - 1
        return torch.cat([rgb, x[:, 3:4]], dim=1)


class Discriminator(nn.Module):
    """Spectral-normalised 4x4 stride-2 convs, sum pooling, linear + class projection."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        n = config.n_up
        chans = [config.d_ch * 2**i for i in range(n)]  # S/2 ... 4x4
        ins = [config.channels, *chans[:-1]]
        self.convs = nn.ModuleList(
            spectral_norm(nn.Conv2d(i, o, 4, stride=2, padding=1)) for i, o in zip(ins, chans, strict=True)
        )
        self.fc = spectral_norm(nn.Linear(chans[-1], 1))
        self.embed = spectral_norm(nn.Embedding(config.n_classes, chans[-1]))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = x
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.2)
        h = h.sum(dim=(2, 3))
        out: torch.Tensor = self.fc(h).squeeze(1) + (self.embed(y) * h).sum(dim=1)
        return out


def sample_latents(seeds: list[int], z_dim: int) -> torch.Tensor:
    """One latent per seed from a CPU generator, so a seed gives the same ``z`` on every device."""
    rows = [torch.randn(z_dim, generator=torch.Generator("cpu").manual_seed(int(s))) for s in seeds]
    return torch.stack(rows) if rows else torch.empty(0, z_dim)


def to_rgba_uint8(x: torch.Tensor) -> torch.Tensor:
    """(N, 4, H, W) premultiplied in [-1, 1] -> (N, H, W, 4) straight-alpha uint8 on the CPU."""
    x = (x.detach().float().cpu().clamp(-1, 1) + 1) / 2
    alpha = x[:, 3:4]
    rgb = torch.where(alpha > 1e-3, x[:, :3] / alpha.clamp_min(1e-3), torch.zeros_like(x[:, :3])).clamp(0, 1)
    out = torch.cat([rgb, alpha], dim=1)
    return (out * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()


@dataclass
class GeneratorCheckpoint:
    """What ships: the generator only, with enough metadata to use and audit it."""

    config: GANConfig
    state_dict: dict[str, torch.Tensor]
    concepts: list[str]
    name: str = "house-visual"
    version: str = "0"
    meta: dict[str, Any] = field(default_factory=dict)


def save_generator(
    path: str | Path,
    generator: Generator,
    concepts: list[str],
    *,
    name: str,
    version: str,
    meta: dict[str, Any] | None = None,
    half: bool = False,
) -> Path:
    """Write a generator-only checkpoint (fp16 weights when ``half``; buffers stay fp32)."""
    if len(concepts) != generator.config.n_classes:
        raise ValueError(f"{len(concepts)} concept names for {generator.config.n_classes} classes")
    state = {
        k: (
            v.detach().half()
            if half and v.is_floating_point() and "running" not in k
            else v.detach().float()
            if v.is_floating_point()
            else v.detach()
        ).cpu()
        for k, v in generator.state_dict().items()
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": asdict(generator.config),
        "state_dict": state,
        "concepts": list(concepts),
        "name": name,
        "version": version,
        "meta": dict(meta or {}),
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_generator_checkpoint(path: str | Path) -> GeneratorCheckpoint:
    """Read a checkpoint written by :func:`save_generator`. Raises ``ValueError`` on a foreign file."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"not a {CHECKPOINT_FORMAT} checkpoint")
    return GeneratorCheckpoint(
        config=GANConfig(**payload["config"]),
        state_dict=payload["state_dict"],
        concepts=list(payload["concepts"]),
        name=str(payload.get("name", "visual")),
        version=str(payload.get("version", "0")),
        meta=dict(payload.get("meta", {})),
    )


def build_generator(ckpt: GeneratorCheckpoint) -> Generator:
    g = Generator(ckpt.config)
    g.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt.state_dict.items()})
    return g.eval()


DISCRIMINATOR_FORMAT = "campaignbot-discriminator-v1"
DISCRIMINATOR_FILE = "discriminator.pt"  # beside generator.pt


def save_discriminator(path: str | Path, d: Discriminator, concepts: list[str]) -> Path:
    """Write the discriminator the generator was trained against (the studio ranks candidates with it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": DISCRIMINATOR_FORMAT,
        "config": asdict(d.config),
        "state_dict": {k: v.detach().float().cpu() for k, v in d.state_dict().items()},
        "concepts": list(concepts),
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_discriminator(path: str | Path, config: GANConfig, concepts: list[str]) -> Discriminator:
    """Read :func:`save_discriminator`'s file; ``ValueError`` if it does not match the generator."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != DISCRIMINATOR_FORMAT:
        raise ValueError(f"not a {DISCRIMINATOR_FORMAT} checkpoint")
    d_config = GANConfig(**payload["config"])
    if (d_config.n_classes, d_config.img_size) != (config.n_classes, config.img_size) or list(
        payload["concepts"]
    ) != list(concepts):
        raise ValueError("the discriminator was trained for other concepts or another image size")
    d = Discriminator(d_config)
    d.load_state_dict(payload["state_dict"])
    return d.eval()
