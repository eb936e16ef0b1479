"""The layout's fonts as one chain: each character is drawn with the first font that has it.

fontTools gives the character map, the advance widths (the one measure both renderers place
glyphs by) and the outlines the PDF draws; Pillow's FreeType rasterises the same font for the
PNG. A character that no font of the chain has cannot be printed.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTFont

from cardservice.face.layout import FontRef, Layout, LayoutError

logger = logging.getLogger(__name__)

#: Ideographic em box of CJK fonts: the glyph's top is 0.88 em above the baseline.
ASCENT_EM = 0.88


@dataclass(frozen=True)
class Glyph:
    char: str
    font: int  # index into the chain
    advance: float  # in em


class FontChain:
    def __init__(self, paths: tuple[tuple[Path, int], ...]) -> None:
        self.paths = paths
        self._fonts = [_open(p, i) for p, i in paths]
        self._cmaps = [f.getBestCmap() for f in self._fonts]
        self._upm = [f["head"].unitsPerEm for f in self._fonts]
        self._hmtx = [f["hmtx"] for f in self._fonts]
        self._glyph_sets = [f.getGlyphSet() for f in self._fonts]
        self._lock = threading.Lock()  # fontTools decompiles lazily: not thread-safe

    def glyph(self, char: str) -> Glyph | None:
        code = ord(char)
        for i, cmap in enumerate(self._cmaps):
            name = cmap.get(code)
            if name is not None:
                with self._lock:
                    advance = self._hmtx[i][name][0]
                return Glyph(char, i, advance / self._upm[i])
        return None

    def missing(self, text: str) -> list[str]:
        return [c for c in dict.fromkeys(text) if not c.isspace() and self.glyph(c) is None]

    def draw(self, glyph: Glyph, pen) -> None:
        """Draw ``glyph``'s outline in font units into a fontTools pen."""
        i = glyph.font
        with self._lock:
            self._glyph_sets[i][self._cmaps[i][ord(glyph.char)]].draw(pen)

    def units_per_em(self, font: int) -> int:
        return self._upm[font]


def _open(path: Path, index: int) -> TTFont:
    try:
        return TTFont(str(path), fontNumber=index, lazy=True)
    except Exception as exc:  # noqa: BLE001 - any parse failure means the font is unusable
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
