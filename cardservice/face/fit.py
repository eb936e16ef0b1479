"""Fitting a field's text into its box: shrink, then wrap, else refuse.

From the layout's size down to its minimum (in ``size_step`` points), the text is wrapped to the
box's width; the first size whose lines fit the box's height is used. A box that holds one line
at the layout's size therefore shrinks first and wraps only when a smaller size makes room for a
second line. Text that fits at no size is a :class:`FitError`, never a clipped card.

Wrapping breaks between any two CJK characters, keeps runs of Latin letters and digits together
unless a run alone is wider than the box, drops spaces at line ends, and does not start a line
with closing punctuation.

Showing a card is *lenient* (``lenient=True``): a card written where another layout or other fonts
were in use is still drawn. A character no font has is then the first font's missing-glyph box,
and text that fits at no size is drawn at the minimum size with the lines that fit, the last one
ending in an ellipsis; :attr:`Fitted.problems` says which (``no_glyph``, ``does_not_fit``). A card
is never written or printed that way: writes and printing fit strictly.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from cardservice.face.fonts import FontChain, Glyph
from cardservice.face.layout import MM_PER_PT, FieldSpec

logger = logging.getLogger(__name__)

_TOKENS = re.compile(r"[A-Za-z0-9]+(?:[-./:'][A-Za-z0-9]+)*|\s+|.", re.DOTALL)
_NO_LINE_START = set("，。、；：？！）」』》〉】,.;:?!)%")
EPS = 1e-6


class FitError(Exception):
    def __init__(self, field: str, reason: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Fitted:
    size: float  # points
    lines: tuple[tuple[Glyph, ...], ...]
    line_pitch_mm: float
    #: lenient fitting only: why the text is not shown as it would be printed (``no_glyph``:
    #: a missing-glyph box stands for a character; ``does_not_fit``: text was left out)
    problems: tuple[str, ...] = ()

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple("".join(g.char for g in line) for line in self.lines)


def _sizes(spec: FieldSpec, step: float) -> list[float]:
    sizes, size = [], spec.size
    while size > spec.min_size + EPS:
        sizes.append(size)
        size = round(size - step, 4)
    sizes.append(spec.min_size)
    return sizes


def missing_glyph(char: str) -> Glyph:
    """What lenient fitting draws for ``char`` when no font has it: the first font's
    missing-glyph box (glyph 0), one em wide."""
    return Glyph(char, 0, 1.0, 0)


def fit_text(chain: FontChain, spec: FieldSpec, text: str, *, line_spacing: float,
             step: float, lenient: bool = False) -> Fitted:
    missing = chain.missing(text)
    if missing and not lenient:
        codes = ", ".join(f"U+{ord(c):04X}" for c in missing)
        raise FitError(spec.name, "no_glyph",
                       f"no installed font of the face layout can print {codes}")
    glyphs = [[chain.glyph(c) or missing_glyph(c) for c in token]
              for token in _TOKENS.findall(text)]
    problems = ("no_glyph",) if missing else ()
    for size in _sizes(spec, step):
        lines = _wrap(glyphs, spec.box.w / (size * MM_PER_PT))
        size_mm = size * MM_PER_PT
        pitch = size_mm * line_spacing
        if size_mm + (len(lines) - 1) * pitch <= spec.box.h + EPS:
            return Fitted(size, tuple(tuple(line) for line in lines), pitch, problems)
    if lenient:
        return _cut(chain, spec, glyphs, line_spacing, problems)
    raise FitError(spec.name, "does_not_fit",
                   f"{text!r} does not fit its {spec.box.w:g} x {spec.box.h:g} mm box on the card "
                   f"face even at {spec.min_size:g} pt")


def _cut(chain: FontChain, spec: FieldSpec, glyphs: list[list[Glyph]], line_spacing: float,
         problems: tuple[str, ...]) -> Fitted:
    """At the minimum size, the lines that fit the box; the last one ends in an ellipsis."""
    size = spec.min_size
    size_mm = size * MM_PER_PT
    pitch = size_mm * line_spacing
    width_em = spec.box.w / size_mm
    lines = _wrap(glyphs, width_em)
    kept = max(1, 1 + int((spec.box.h - size_mm + EPS) // pitch))
    shown, last = lines[:kept - 1], list(lines[kept - 1])
    ellipsis = chain.glyph("\u2026")
    if ellipsis is not None:
        while last and not _fits(last + [ellipsis], width_em):
            last.pop()
        last.append(ellipsis)
    return Fitted(size, tuple(tuple(line) for line in [*shown, last]), pitch,
                  (*problems, "does_not_fit"))


def _wrap(tokens: list[list[Glyph]], width_em: float) -> list[list[Glyph]]:
    """Greedy line filling; widths in em of the current size."""
    lines: list[list[Glyph]] = [[]]
    for token in tokens:
        line = lines[-1]
        if token[0].char.isspace():
            if line:
                line.extend(token)
            continue
        if _fits(line + token, width_em):
            line.extend(token)
        elif _em(token) > width_em:  # a run wider than the box: break it anywhere
            for glyph in token:
                if not _fits(lines[-1] + [glyph], width_em):
                    lines.append([])
                lines[-1].append(glyph)
        else:
            carried = _carry(line) if token[0].char in _NO_LINE_START else []
            lines.append(carried + token)
    return [_rstrip(x) for x in lines if _rstrip(x)] or [[]]


def _carry(line: list[Glyph]) -> list[Glyph]:
    """Move the last character of ``line`` down with a closing punctuation mark."""
    stripped = _rstrip(line)
    if len(stripped) < 2:
        return []
    last = stripped[-1]
    del line[len(stripped) - 1:]
    return [last]


def _em(glyphs: list[Glyph]) -> float:
    return sum(g.advance for g in glyphs)


def _fits(glyphs: list[Glyph], width_em: float) -> bool:
    return _em(_rstrip(glyphs)) <= width_em + EPS


def _rstrip(glyphs: list[Glyph]) -> list[Glyph]:
    end = len(glyphs)
    while end and glyphs[end - 1].char.isspace():
        end -= 1
    return glyphs[:end] if end != len(glyphs) else glyphs
