"""The compositor: ad copy + hero art -> a finished ad creative (Pillow only, no torch).

One template per size (square 1080x1080, landscape 1200x628, story 1080x1920) places a hero region
and a text column. The background is a tone palette's gradient with a few tasteful shapes kept out of
the text column; the hero art is upscaled in stages and set on a soft disc with a drop shadow; the
headline, body and call to action are wrapped (per character for CJK) and shrunk until they fit, so
text never overflows or is cut. Every drawn text box is measured with ``ImageDraw.textbbox`` and
reported in :class:`~engine.inference.compose.layout.Layout`, which is what the tests check.

Modules: :mod:`.colour` (colour maths and contrast), :mod:`.palettes` (tone palettes and colour hints),
:mod:`.text` (wrapping and fitting text), :mod:`.background` (gradient, decor, shadows), :mod:`.hero`
(hero shape checks and placement), :mod:`.layout` (templates, :func:`compose_creative`),
:mod:`.sheet` (the numbered contact sheet) and :mod:`.fonts` (finding system fonts). Names with a
leading underscore are private to this package: the submodules import them from one another.

The public entry points are re-exported here; code in this repository imports them from the submodules.
"""

from engine.inference.compose.layout import Creative, Layout, compose_creative
from engine.inference.compose.palettes import Palette, palette_for
from engine.inference.compose.sheet import contact_sheet

__all__ = ["Creative", "Layout", "Palette", "compose_creative", "contact_sheet", "palette_for"]
