"""Find real TrueType/OpenType fonts on the system for typesetting ad creatives.

Latin copy uses Noto Sans (Display for headlines) or DejaVu Sans; Chinese copy uses Noto Sans CJK SC.
Known Debian paths are tried first, then ``fc-list``. A missing font raises :class:`ModelError` that
names the Debian package to install. No torch here.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from PIL import Image, ImageFont

from engine.errors import ModelError

logger = logging.getLogger(__name__)

_NOTO = "/usr/share/fonts/truetype/noto"
_DEJAVU = "/usr/share/fonts/truetype/dejavu"
_NOTO_CJK = "/usr/share/fonts/opentype/noto"

# A code point no font maps: FreeType draws the .notdef glyph for it.
NOTDEF_PROBE = "\uffff"


@dataclass(frozen=True)
class FontFile:
    """One face inside a font file (``index`` selects the face in a .ttc collection)."""

    path: str
    index: int
    family: str
    style: str


@dataclass(frozen=True)
class _Want:
    families: tuple[str, ...]  # acceptable family names, best first
    style: str  # fontconfig style name
    candidates: tuple[tuple[str, int], ...]  # known Debian (path, index) pairs, best first
    package: str  # Debian package(s) to suggest


_WANTS: dict[tuple[str, bool], _Want] = {
    ("display", False): _Want(
        ("Noto Sans Display", "Noto Sans", "DejaVu Sans"),
        "Bold",
        (
            (f"{_NOTO}/NotoSansDisplay-Bold.ttf", 0),
            (f"{_NOTO}/NotoSans-Bold.ttf", 0),
            (f"{_DEJAVU}/DejaVuSans-Bold.ttf", 0),
        ),
        "fonts-noto-core (or fonts-dejavu-core)",
    ),
    ("bold", False): _Want(
        ("Noto Sans", "DejaVu Sans"),
        "Bold",
        ((f"{_NOTO}/NotoSans-Bold.ttf", 0), (f"{_DEJAVU}/DejaVuSans-Bold.ttf", 0)),
        "fonts-noto-core (or fonts-dejavu-core)",
    ),
    ("regular", False): _Want(
        ("Noto Sans", "DejaVu Sans"),
        "Regular",
        ((f"{_NOTO}/NotoSans-Regular.ttf", 0), (f"{_DEJAVU}/DejaVuSans.ttf", 0)),
        "fonts-noto-core (or fonts-dejavu-core)",
    ),
    # Noto Sans CJK collections: face index 2 is the Simplified Chinese (SC) face.
    ("display", True): _Want(
        ("Noto Sans CJK SC",), "Bold", ((f"{_NOTO_CJK}/NotoSansCJK-Bold.ttc", 2),), "fonts-noto-cjk"
    ),
    ("bold", True): _Want(
        ("Noto Sans CJK SC",), "Bold", ((f"{_NOTO_CJK}/NotoSansCJK-Bold.ttc", 2),), "fonts-noto-cjk"
    ),
    ("regular", True): _Want(
        ("Noto Sans CJK SC",), "Regular", ((f"{_NOTO_CJK}/NotoSansCJK-Regular.ttc", 2),), "fonts-noto-cjk"
    ),
}

WEIGHTS: tuple[str, ...] = ("display", "bold", "regular")


def _face_name(path: str, index: int) -> tuple[str, str] | None:
    try:
        family, style = ImageFont.truetype(path, 12, index=index).getname()
    except OSError:
        return None
    return family or "", style or ""


def _from_fc_list(family: str, style: str) -> list[tuple[str, int]]:
    exe = shutil.which("fc-list")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, "-f", "%{file}|%{index}\n", f":family={family}:style={style}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found: list[tuple[str, int]] = []
    for line in out.splitlines():
        path, _, index = line.rpartition("|")
        if path and index.isdigit():
            found.append((path, int(index)))
    return sorted(found)


@cache
def find_font(weight: str = "regular", *, cjk: bool = False) -> FontFile:
    """Return the best installed face for ``weight`` (display, bold or regular) and script.

    Raises :class:`ModelError` naming the Debian package when no suitable font is installed.
    """
    if weight not in WEIGHTS:
        raise ValueError(f"unknown font weight {weight!r}; expected one of {WEIGHTS}")
    want = _WANTS[(weight, cjk)]
    tried: list[tuple[str, int]] = [c for c in want.candidates if Path(c[0]).is_file()]
    for family in want.families:
        tried.extend(_from_fc_list(family, want.style))
    for path, index in tried:
        name = _face_name(path, index)
        if name is not None and name[0] in want.families:
            logger.debug("font %s/%s cjk=%s -> %s#%d (%s %s)", weight, want.style, cjk, path, index, *name)
            return FontFile(path=path, index=index, family=name[0], style=name[1])
    script = "Chinese (Noto Sans CJK SC)" if cjk else "Latin (Noto Sans or DejaVu Sans)"
    raise ModelError(
        f"No {want.style.lower()} {script} font is installed; install the Debian package {want.package}, "
        f"e.g. `apt-get install {want.package.split()[0]}`."
    )


@lru_cache(maxsize=512)
def load_font(size: int, weight: str = "regular", *, cjk: bool = False) -> ImageFont.FreeTypeFont:
    """A cached Pillow font object of ``size`` pixels."""
    face = find_font(weight, cjk=cjk)
    return ImageFont.truetype(face.path, max(1, int(size)), index=face.index)


def _mask_key(font: ImageFont.FreeTypeFont, ch: str) -> tuple[tuple[int, int], bytes]:
    mask = font.getmask(ch)
    return mask.size, Image.Image()._new(mask).tobytes()


@lru_cache(maxsize=4096)
def _has_glyph(weight: str, cjk: bool, ch: str) -> bool:
    font = load_font(32, weight, cjk=cjk)
    return _mask_key(font, ch) != _mask_key(font, NOTDEF_PROBE)


def has_glyphs(text: str, weight: str = "regular", *, cjk: bool = False) -> bool:
    """True if every visible character of ``text`` has a real glyph (not the .notdef box) in the face."""
    return all(ch.isspace() or _has_glyph(weight, cjk, ch) for ch in set(text))
