"""Session fixtures for the visual side: a tiny conditional GAN trained by the project's own command.

``tiny_emoji_dir`` lays out a miniature ``emoji-datasource-google`` package (``emoji.json`` and
``img/google/64/*.png``) whose images are real emoji drawn from the Noto Color Emoji font that
Debian's ``fonts-noto-color-emoji`` installs. ``tiny_visual_checkpoint`` runs
``engine.inference.training.visual.main`` on it for a few steps at 32x32 and exports the generator.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from engine.inference.creative.concepts import CONCEPTS

NOTO_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")

# concept -> (short name, code point) pairs; every short name is in that concept's emoji list.
TINY_EMOJI: dict[str, list[tuple[str, str]]] = {
    "fruit": [("apple", "1F34E"), ("banana", "1F34C"), ("grapes", "1F347"), ("strawberry", "1F353")],
    "time_watch": [("watch", "231A"), ("alarm_clock", "23F0"), ("stopwatch", "23F1"), ("hourglass", "231B")],
    "drinks": [("coffee", "2615"), ("tea", "1F375"), ("beer", "1F37A"), ("cocktail", "1F378")],
}
TINY_CONCEPTS = list(TINY_EMOJI)


def _render(codepoint: str, font: ImageFont.FreeTypeFont) -> Image.Image:
    img = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    ImageDraw.Draw(img).text((10, 10), chr(int(codepoint, 16)), font=font, embedded_color=True)
    bbox = img.getchannel("A").getbbox()
    assert bbox, f"Noto Color Emoji drew nothing for U+{codepoint}"
    return img.crop(bbox).resize((64, 64), Image.Resampling.LANCZOS)


@pytest.fixture(scope="session")
def tiny_emoji_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not NOTO_FONT.exists():
        pytest.fail(f"{NOTO_FONT} is missing: install the Debian package fonts-noto-color-emoji")
    font = ImageFont.truetype(str(NOTO_FONT), 109)
    root = tmp_path_factory.mktemp("emoji") / "package"
    img_dir = root / "img" / "google" / "64"
    img_dir.mkdir(parents=True)
    table = []
    for concept, pairs in TINY_EMOJI.items():
        for short, cp in pairs:
            assert short in CONCEPTS[concept].emoji
            name = f"{cp.lower()}.png"
            _render(cp, font).save(img_dir / name)
            table.append(
                {
                    "short_name": short,
                    "short_names": [short],
                    "unified": cp,
                    "image": name,
                    "has_img_google": True,
                    "category": "test",
                    "subcategory": concept,
                }
            )
    (root / "emoji.json").write_text(json.dumps(table))
    return root


@pytest.fixture(scope="session")
def tiny_visual_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("visual-train")


TINY_TRAIN_ARGS = [
    "--size",
    "32",
    "--z-dim",
    "16",
    "--g-ch",
    "8",
    "--d-ch",
    "8",
    "--batch-size",
    "8",
    "--sample-every",
    "1000",
    "--save-every",
    "1000",
    "--threads",
    "1",
    "--no-progress",
    "--device",
    "cpu",
    "--seed",
    "0",
    "--name",
    "tiny-visual",
    "--version",
    "test",
]


@pytest.fixture(scope="session")
def tiny_visual_checkpoint(tiny_emoji_dir: Path, tiny_visual_workdir: Path) -> Path:
    """A real (tiny) generator checkpoint: 3 concepts, 32x32 RGBA, trained 40 steps. Takes a few seconds."""
    from engine.inference.training.visual import main

    out = tiny_visual_workdir / "export" / "generator.pt"
    rc = main(
        [
            "--emoji-dir",
            str(tiny_emoji_dir),
            "--work-dir",
            str(tiny_visual_workdir),
            "--out",
            str(out),
            "--concepts",
            ",".join(TINY_CONCEPTS),
            "--steps",
            "40",
            "--minutes",
            "2",
            *TINY_TRAIN_ARGS,
        ]
    )
    assert rc == 0 and out.is_file()
    return out
