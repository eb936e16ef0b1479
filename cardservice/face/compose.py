"""One side of the face as positioned glyph runs (millimetres, points): what both renderers draw,
so that the PNG and the PDF place every glyph at the same spot."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cardservice.face.fit import FitError, Fitted, fit_text
from cardservice.face.fonts import ASCENT_EM, FontChain, Glyph
from cardservice.face.layout import MM_PER_PT, SIDES, Box, Layout

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Run:
    """One line of text: glyphs placed from ``x`` (mm) on a baseline ``baseline`` mm from the top."""

    glyphs: tuple[Glyph, ...]
    x: float
    baseline: float
    size: float  # points

    def positions(self) -> list[tuple[Glyph, float]]:
        """Each glyph with its left edge in mm."""
        out, x = [], self.x
        for glyph in self.glyphs:
            out.append((glyph, x))
            x += glyph.advance * self.size * MM_PER_PT
        return out


@dataclass(frozen=True)
class SideFace:
    side: str
    width_mm: float
    height_mm: float
    runs: tuple[Run, ...]
    photo: Box | None


def fit_side(layout: Layout, chain: FontChain, side: str, texts: dict[str, str], *,
             lenient: bool = False) -> dict[str, Fitted]:
    """Every field of ``side`` fitted to its box; :class:`FitError` names the first that is not
    (``lenient``: each is drawn anyway, see :mod:`cardservice.face.fit`)."""
    spec = layout.sides[side]
    fitted = {}
    for field in SIDES[side]:
        fitted[field] = fit_text(chain, spec.fields[field], texts[field],
                                 line_spacing=layout.line_spacing, step=layout.size_step,
                                 lenient=lenient)
    return fitted


def compose(layout: Layout, chain: FontChain, side: str, texts: dict[str, str], *,
            has_photo: bool, lenient: bool = False) -> SideFace:
    spec = layout.sides[side]
    runs: list[Run] = []
    if spec.photo is not None and not has_photo:
        runs.append(_centred(chain, layout.words.get("photo_placeholder", ""), spec.photo, 9.0))
    for label in spec.labels:
        glyphs = tuple(g for g in map(chain.glyph, label.text) if g is not None)
        runs.append(Run(glyphs, label.x, label.y + ASCENT_EM * label.size * MM_PER_PT, label.size))
    for field, fitted in fit_side(layout, chain, side, texts, lenient=lenient).items():
        box = spec.fields[field].box
        top = box.y
        for line in fitted.lines:
            baseline = top + ASCENT_EM * fitted.size * MM_PER_PT
            runs.append(Run(line, box.x, baseline, fitted.size))
            top += fitted.line_pitch_mm
    return SideFace(side, layout.width_mm, layout.height_mm, tuple(runs), spec.photo)


def _centred(chain: FontChain, text: str, box: Box, size: float) -> Run:
    glyphs = tuple(g for g in map(chain.glyph, text) if g is not None)
    width = sum(g.advance for g in glyphs) * size * MM_PER_PT
    size_mm = size * MM_PER_PT
    top = box.y + (box.h - size_mm) / 2
    return Run(glyphs, box.x + (box.w - width) / 2, top + ASCENT_EM * size_mm, size)


__all__ = ["FitError", "Run", "SideFace", "compose", "fit_side"]
