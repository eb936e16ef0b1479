"""The layout's fonts as one chain: each character is drawn with the first font that has it.

The character map and the advance widths (the one measure the fit check and both renderers
place glyphs by) come from a compact table read from the font's own tables
(:mod:`cardservice.face.metrics`); FreeType draws the outlines the PDF needs, glyph by glyph
(:mod:`cardservice.face.outlines`), and Pillow's FreeType rasterises the same font for the PNG,
both only when a face is rendered. A character that no font of the chain has cannot be printed.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cardservice.face.layout import FontRef, Layout, LayoutError
from cardservice.face.metrics import FontMetrics, read_metrics
from cardservice.face.outlines import Outlines, PathSink

logger = logging.getLogger(__name__)

#: Ideographic em box of CJK fonts: the glyph's top is 0.88 em above the baseline.
ASCENT_EM = 0.88


@dataclass(frozen=True)
class Glyph:
    char: str
    font: int  # index into the chain
    advance: float  # in em
    glyph_id: int  # in that font


class FontChain:
    """The fonts, each read on first need (a fallback font is read only for its characters):
    its metrics for measuring, its outlines (FreeType) only for drawing."""

    def __init__(self, paths: tuple[tuple[Path, int], ...]) -> None:
        self.paths = paths
        self._metrics: list[FontMetrics | None] = [None] * len(paths)
        self._outlines: list[Outlines | None] = [None] * len(paths)
        self._lock = threading.Lock()
        #: each printable character's glyph once looked up: every write's fit check measures
        #: its fields again, mostly with characters seen before (a dict look-up instead of a
        #: binary search per font of the chain); bounded by the characters the fonts cover
        #: (a character no font has is not kept)
        self._glyphs: dict[str, Glyph] = {}

    def metrics(self, i: int) -> FontMetrics:
        found = self._metrics[i]
        if found is None:
            with self._lock:
                found = self._metrics[i]
                if found is None:
                    found = self._metrics[i] = _read_metrics(*self.paths[i])
        return found

    def glyph(self, char: str) -> Glyph | None:
        found = self._glyphs.get(char)
        if found is None:
            found = self._lookup(char)
            if found is not None:
                self._glyphs[char] = found
        return found

    def _lookup(self, char: str) -> Glyph | None:
        code = ord(char)
        for i in range(len(self.paths)):
            metrics = self.metrics(i)
            advance = metrics.advance(code)
            if advance is not None:
                return Glyph(char, i, advance, metrics.glyph_id(code))
        return None

    def missing(self, text: str) -> list[str]:
        return [c for c in dict.fromkeys(text) if not c.isspace() and self.glyph(c) is None]

    def draw(self, glyph: Glyph, sink: PathSink, scale: float, x: float, y: float) -> None:
        """Draw ``glyph``'s outline into ``sink``: font units times ``scale``, its origin at
        (``x``, ``y``)."""
        font = self._outlines[glyph.font]
        if font is None:
            with self._lock:
                font = self._outlines[glyph.font]
                if font is None:
                    font = self._outlines[glyph.font] = Outlines(*self.paths[glyph.font])
        font.draw(glyph.glyph_id, sink, scale, x, y)

    def units_per_em(self, font: int) -> int:
        return self.metrics(font).upm


def _read_metrics(path: Path, index: int) -> FontMetrics:
    try:
        return read_metrics(path, index)
    except Exception as exc:
        raise LayoutError(f"font {path}: cannot be opened: {exc}") from exc


def resolve(ref: FontRef, dirs: tuple[str, ...]) -> Path:
    """The font file ``ref.file``: an absolute path, or found by name under ``dirs``."""
    given = Path(ref.file)
    if given.is_absolute():
        if given.is_file():
            return given
        raise LayoutError(f"font {ref.file} is not installed")
    for found in _index(dirs).get(given.name, ()):
        return found
    raise LayoutError(f"font {ref.file} is not installed under {', '.join(dirs)} "
                      "(scripts/install-system-deps.sh installs the default fonts)")


@functools.lru_cache(maxsize=4)
def _index(dirs: tuple[str, ...]) -> dict[str, tuple[Path, ...]]:
    found: dict[str, list[Path]] = {}
    for top in dirs:
        for root, _subdirs, files in os.walk(top):
            for name in files:
                found.setdefault(name, []).append(Path(root) / name)
    return {name: tuple(sorted(paths)) for name, paths in found.items()}


_chains: dict[tuple, FontChain] = {}
_chains_lock = threading.Lock()


def font_chain(layout: Layout) -> FontChain:
    """The (cached) font chain of ``layout``."""
    paths = tuple((resolve(ref, layout.font_dirs), ref.index) for ref in layout.fonts)
    with _chains_lock:
        chain = _chains.get(paths)
        if chain is None:
            chain = _chains[paths] = FontChain(paths)
        return chain
